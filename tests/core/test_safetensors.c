/* safetensors: a hand-written file reads back; malformed files are refused with a message. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "tests/test_util.h"

static void write_raw(const char *path, const char *hdr, const void *data, size_t n, long trunc) {
  FILE *f = fopen(path, "wb");
  uint64_t hl = strlen(hdr);
  unsigned char l8[8];
  for (int i = 0; i < 8; i++) l8[i] = (unsigned char)(hl >> (8 * i));
  fwrite(l8, 1, 8, f);
  fwrite(hdr, 1, hl, f);
  fwrite(data, 1, n, f);
  fclose(f);
  if (trunc >= 0) truncate(path, trunc);
}

static void expect_refused(const char *what, const char *hdr, size_t n, long trunc, const char *needle) {
  char path[] = "/tmp/sana_st_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  unsigned char data[64] = {0};
  write_raw(path, hdr, data, n, trunc);
  sana_ckpt *c;
  sana_error err = {0};
  sana_status s = sana_ckpt_open(&c, path, &err);
  CHECK(s != SANA_OK, "%s: accepted", what);
  CHECK(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, needle);
  unlink(path);
}

int main(void) {
  /* hand-made: F32 [2,2] = 1,2,3,4 and BF16 [3] = 1.0, -2.0, 0.5 */
  float f[4] = {1, 2, 3, 4};
  uint16_t b[3] = {0x3F80, 0xC000, 0x3F00};
  unsigned char data[22];
  memcpy(data, f, 16);
  memcpy(data + 16, b, 6);
  char path[] = "/tmp/sana_st_XXXXXX";
  close(mkstemp(path));
  write_raw(path,
            "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
            "\"b.w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[16,22]}}",
            data, sizeof data, -1);
  sana_ckpt *c = NULL;
  sana_error err = {0};
  CHECK_OK(sana_ckpt_open(&c, path, &err), &err);
  if (c) {
    CHECK(sana_ckpt_count(c) == 2, "count %d", sana_ckpt_count(c));
    const sana_tensor *t;
    CHECK_OK(SANA_CKPT_GET(c, "a", &t, &err, 2, 2), &err);
    CHECK(t && ((float *)t->data)[3] == 4.0f, "a[3]"); /* the unpadded header misaligns it: copied */
    CHECK(t && ((uintptr_t)t->data & 3) == 0, "a is aligned");
    CHECK_OK(SANA_CKPT_GET(c, "b.w", &t, &err, 3), &err);
    CHECK(t && t->dtype == SANA_BF16 && ((uint16_t *)t->data)[1] == 0xC000, "b.w");
    CHECK(SANA_CKPT_GET(c, "a", &t, &err, 4) == SANA_ERR_SHAPE, "shape mismatch detected");
    CHECK(strstr(err.msg, "'a'") && strstr(err.msg, "[2, 2]"), "shape message: %s", err.msg);
    CHECK(SANA_CKPT_GET(c, "nope", &t, &err, 1) == SANA_ERR_MISSING, "missing detected");
    CHECK(strstr(err.msg, "'nope'") && strstr(err.msg, path), "missing message: %s", err.msg);
    CHECK(sana_ckpt_unused(c, &err) == 0, "all used");
    sana_ckpt_close(c);
  }
  /* write -> read round trip */
  sana_tensor ts[2] = {SANA_T(SANA_F32, f, 4), SANA_T(SANA_BF16, b, 1, 3)};
  const char *names[2] = {"x", "y"};
  CHECK_OK(sana_safetensors_write(path, 2, names, ts, &err), &err);
  CHECK_OK(sana_ckpt_open(&c, path, &err), &err);
  if (c) {
    const sana_tensor *t = sana_ckpt_find(c, "y");
    CHECK(t && t->nd == 2 && t->ne[1] == 3 && !memcmp(t->data, b, 6), "round trip y");
    CHECK(((uintptr_t)sana_ckpt_find(c, "x")->data & 7) == 0, "data is 8-byte aligned");
    sana_ckpt_close(c);
  }
  unlink(path);

  expect_refused("not json", "{nope", 0, -1, "not a JSON object");
  expect_refused("bad dtype", "{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, -1, "Q4");
  expect_refused("size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, -1, "'a'");
  expect_refused("truncated", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, 40, "truncated");
  expect_refused("huge header", "{}", 0, 4, "too short");
  expect_refused("negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, -1, "dimension");
  expect_refused("duplicate", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, -1, "twice");
  return sana_test_done("test_io_safetensors");
}
