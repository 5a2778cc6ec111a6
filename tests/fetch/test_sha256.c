/* SHA-256 and git blob ids against published vectors (FIPS 180-2 examples; git's id of the
 * empty blob and of "hello\n", as `git hash-object` prints them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fetch.h"
#include "tests/test_util.h"

static void check_file(const char *content, size_t n, const char *sha256, const char *git) {
  char path[] = "/tmp/sana_sha_XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "wb");
  fwrite(content, 1, n, f);
  fclose(f);
  char h[65], g[41];
  sana_error err = {0};
  CHECK_OK(sana_sha256_file(path, h, &err), &err);
  CHECK(!strcmp(h, sha256), "file sha256 %s, want %s", h, sha256);
  CHECK_OK(sana_git_blob_sha1_file(path, g, &err), &err);
  CHECK(!strcmp(g, git), "git blob id %s, want %s", g, git);
  remove(path);
}

int main(void) {
  char h[65];
  sana_sha256_hex("", 0, h);
  CHECK(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "empty: %s", h);
  sana_sha256_hex("abc", 3, h);
  CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc: %s", h);
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sana_sha256_hex(m, strlen(m), h);
  CHECK(!strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "448 bits: %s", h);
  /* One million 'a', through the file path (several 1 MB reads). */
  size_t n = 1000000;
  char *a = malloc(n);
  memset(a, 'a', n);
  check_file(a, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
             "de1fbf0c2f34f67f01f355f31ed0cf7319643c5e");
  free(a);
  check_file("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
             "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  check_file("hello\n", 6, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
             "ce013625030ba8dba906f756967f9e9ca394464a");
  sana_error err = {0};
  CHECK(sana_sha256_file("/nonexistent/file", h, &err) == SANA_ERR_IO && strstr(err.msg, "/nonexistent/file"),
        "missing file: %s", err.msg);
  return sana_test_done("test_sha256");
}
