/* cli/progress with a fake clock: what a pipe sees (plain lines at the interval, a final
 * line), what a terminal sees (\r redraws with a bar), quiet mode, and the hand-computed
 * rates, ETAs and sizes. */
#include <stdlib.h>
#include <string.h>

#include "cli/progress.h"
#include "tests/test_util.h"

static double fake_now;
static double fake_clock(void) { return fake_now; }

static char *slurp(FILE *f) {
  static char buf[8192];
  rewind(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  return buf;
}

int main(void) {
  char b[64];
  CHECK(!strcmp(sana_progress_fmt_duration(7.4, b, sizeof b), "0:07"), "%s", b);
  CHECK(!strcmp(sana_progress_fmt_duration(3723, b, sizeof b), "1:02:03"), "%s", b);
  CHECK(!strcmp(sana_progress_fmt_duration(-1, b, sizeof b), "--:--"), "%s", b);
  CHECK(!strcmp(sana_progress_fmt_bytes(512, b, sizeof b), "512 B"), "%s", b);
  CHECK(!strcmp(sana_progress_fmt_bytes(1.5e6, b, sizeof b), "1.50 MB"), "%s", b);
  CHECK(!strcmp(sana_progress_fmt_bytes(4.25e9, b, sizeof b), "4.25 GB"), "%s", b);
  CHECK(!strcmp(sana_progress_fmt_bytes(123.4e6, b, sizeof b), "123 MB"), "%s", b);

  /* Lines: 969 frames, 40 chunks; 33 frames after 3 s = 11 fps, ETA (969-33)/11 = 85.1 s. */
  FILE *f = tmpfile();
  fake_now = 100;
  sana_progress *p = sana_progress_new(&(sana_progress_opts){.out = f, .mode = SANA_PROGRESS_LINES, .label = "edit",
                                                              .total = 969, .chunks_total = 40, .clock = fake_clock});
  fake_now = 101;
  sana_progress_update(p, 10, 0); /* within the 2 s interval: nothing */
  fake_now = 103;
  sana_progress_update(p, 33, 1);
  fake_now = 103.5;
  sana_progress_update(p, 40, 1); /* again too soon */
  fake_now = 109;
  sana_progress_update(p, 57, 2);
  sana_progress_finish(p, 1);
  char *out = slurp(f);
  printf("lines:\n%s", out);
  CHECK(!strcmp(out, "edit: 33/969 frames  1/40 chunks  11.0 fps  ETA 1:25\n"
                     "edit: 57/969 frames  2/40 chunks  6.3 fps  ETA 2:24\n"
                     "edit: 57/969 frames  2/40 chunks  6.3 fps  done in 0:09\n"),
        "unexpected lines:\n%s", out);
  fclose(f);

  /* Bar: redrawn in place, 40 columns of bar at 100 wide; half done = 20 '#'. */
  f = tmpfile();
  fake_now = 0;
  p = sana_progress_new(&(sana_progress_opts){.out = f, .mode = SANA_PROGRESS_BAR, .unit = SANA_PROGRESS_BYTES,
                                              .label = "vae", .total = 2000000, .width = 100, .clock = fake_clock});
  fake_now = 2;
  sana_progress_update(p, 1000000, 0);
  sana_progress_finish(p, 0);
  out = slurp(f);
  printf("bar: %s", out);
  CHECK(!strncmp(out, "\rvae [####################....................] 1.00 MB / 2.00 MB  500 KB/s  ETA 0:02\033[K",
                 88),
        "unexpected bar: %s", out);
  CHECK(strstr(out, "stopped\033[K\n") != NULL, "a stopped bar ends with 'stopped' and a newline");
  CHECK(strchr(out, '\n') == out + strlen(out) - 1, "one newline only, at the end");
  fclose(f);

  /* Quiet: nothing at all. */
  f = tmpfile();
  p = sana_progress_new(&(sana_progress_opts){.out = f, .mode = SANA_PROGRESS_QUIET, .total = 10, .clock = fake_clock});
  fake_now = 50;
  sana_progress_update(p, 5, 0);
  sana_progress_finish(p, 1);
  CHECK(strlen(slurp(f)) == 0, "quiet mode printed");
  fclose(f);

  /* AUTO on a file (not a terminal) picks lines. */
  f = tmpfile();
  fake_now = 0;
  p = sana_progress_new(&(sana_progress_opts){.out = f, .total = 4, .clock = fake_clock});
  fake_now = 4;
  sana_progress_update(p, 4, 0);
  sana_progress_finish(p, 1);
  out = slurp(f);
  CHECK(!strcmp(out, "4/4 frames  1.0 fps\n4/4 frames  1.0 fps  done in 0:04\n"), "auto on a file:\n%s", out);
  fclose(f);
  return sana_test_done("test_progress");
}
