/* A progress reporter for long CLI jobs (editing a video, downloading weights).
 *   bar:   one line redrawn in place on a terminal (at most 10 times a second):
 *          "edit [#######.......] 120/969 frames  5/40 chunks  12.3 fps  ETA 1:09"
 *   lines: plain lines, one every `interval` seconds and one at the end, for logs and pipes
 *   quiet: nothing.
 * AUTO picks bar when the stream is a terminal, lines otherwise. Rates and the ETA use the
 * average since the start; totals of 0 mean unknown (no bar fill, no ETA). */
#ifndef SANA_CLI_PROGRESS_H
#define SANA_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef enum { SANA_PROGRESS_AUTO, SANA_PROGRESS_BAR, SANA_PROGRESS_LINES, SANA_PROGRESS_QUIET } sana_progress_mode;

typedef enum {
  SANA_PROGRESS_FRAMES, /* counts frames; the rate prints as fps */
  SANA_PROGRESS_BYTES,  /* counts bytes; sizes print as KB/MB/GB and the rate per second */
} sana_progress_unit;

typedef struct sana_progress_opts {
  FILE *out;               /* NULL: stderr */
  sana_progress_mode mode;
  sana_progress_unit unit;
  const char *label;       /* short name shown first ("edit", "dit/sana_streaming_ar.pth") */
  int64_t total;           /* frames or bytes, 0 unknown */
  int64_t chunks_total;    /* 0: no chunk column */
  double interval;         /* seconds between plain lines, 0: 2 s */
  int width;               /* bar mode line width, 0: the terminal's (80 when unknown) */
  double (*clock)(void);   /* NULL: sana_now; tests pass their own */
} sana_progress_opts;

typedef struct sana_progress sana_progress;

sana_progress *sana_progress_new(const sana_progress_opts *o); /* NULL only when out of memory */

/* Reports the running totals (not increments). Cheap: drawing is rate-limited. */
void sana_progress_update(sana_progress *p, int64_t done, int64_t chunks_done);

/* Adjusts the total when it becomes known (a download's size, a stream's frame count). */
void sana_progress_set_total(sana_progress *p, int64_t total);

/* Prints the final state (ok: "done in 12.3 s", else "stopped") and frees p. NULL is a no-op. */
void sana_progress_finish(sana_progress *p, int ok);

/* Formatting helpers (exposed for tests). */
char *sana_progress_fmt_duration(double s, char *buf, size_t n); /* "0:07", "1:02:03" */
char *sana_progress_fmt_bytes(double b, char *buf, size_t n);     /* "512 B", "1.5 MB", "4.25 GB" */

#endif
