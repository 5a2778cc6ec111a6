/* Runs a fuzz target's entry point over files and folders of inputs without libFuzzer, so the
 * seed corpus and every input that once crashed are replayed by CTest in the ordinary (gcc,
 * ASan + UBSan) build. Usage: fuzz_replay_<target> PATH... */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "cannot open %s\n", path); return 1; }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  /* an exact-size heap copy, so reading past the input is caught like under libFuzzer */
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
  fclose(f);
  if (!buf || got != (size_t)n) { free(buf); fprintf(stderr, "cannot read %s\n", path); return 1; }
  LLVMFuzzerTestOneInput(buf, got);
  free(buf);
  return 0;
}

static int run(const char *path, int *count) {
  struct stat st;
  if (stat(path, &st)) { fprintf(stderr, "missing %s\n", path); return 1; }
  if (!S_ISDIR(st.st_mode)) { ++*count; return run_file(path); }
  DIR *d = opendir(path);
  if (!d) return 1;
  int bad = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    bad |= run(sub, count);
  }
  closedir(d);
  return bad;
}

int main(int argc, char **argv) {
  int bad = 0, count = 0;
  for (int i = 1; i < argc; i++) bad |= run(argv[i], &count);
  printf("%s: replayed %d inputs\n", argv[0], count);
  return bad || count == 0;
}
