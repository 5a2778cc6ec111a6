/* A stream longer than the 1024 latent frames of upstream's RoPE table (343 chunks, 1031 latent
 * frames, 8217 frames at 64x64 on the tiny model) runs to the end, and the process's memory stays
 * flat: the resident size at the end exceeds the largest seen over chunks 40..100 by less than
 * 16 MiB. (The allocator, and ASan's quarantine in the sanitizer build, make RSS wander by a few
 * MiB either way; a leak of 64 KiB a chunk would add 15 MiB over the 243 chunks after that.) */
#include <stdlib.h>
#include <string.h>

#include "stream/stream.h"
#include "tests/test_util.h"

static long rss_kib(void) {
  long pages = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * 4;
}

int main(void) {
  const char *dir = getenv("SANA_TINY");
  if (!dir) { fprintf(stderr, "SANA_TINY unset\n"); return 2; }
  sana_error err = {0};
  sana_model *m = sana_model_load(dir, &(sana_model_options){.backend = "cpu", .width = 64, .height = 64}, &err);
  CHECK(m != NULL, "model: %s", err.msg);
  sana_stream *s = m ? sana_stream_new(m, &(sana_stream_options){.seed = 9, .prompt = "a long walk"}, &err) : NULL;
  CHECK(s != NULL, "stream: %s", err.msg);
  if (!s) return sana_test_done("test_long_stream");
  sana_frame *in = sana_frame_alloc(64, 64);
  const int chunks_total = 343;
  int chunks = 0, frames_out = 0, failures = 0;
  long rss40 = 0, rss_end = 0;
  for (int i = 0; chunks < chunks_total && !failures; i++) {
    memset(in->rgb, (i * 7) & 0xff, (size_t)in->stride * in->height);
    in->pts_us = i;
    int ran = 0;
    failures += sana_stream_push_frame(s, in, &err) != SANA_OK;
    failures += sana_stream_run_chunk(s, &ran, &err) != SANA_OK;
    sana_frame *o;
    while (sana_stream_pop_frame(s, &o)) {
      frames_out++;
      sana_frame_free(o);
    }
    if (ran && ++chunks >= 40 && chunks <= 100 && rss_kib() > rss40) rss40 = rss_kib();
    if (ran && chunks % 50 == 0) printf("  chunk %d, rss %ld KiB\n", chunks, rss_kib());
  }
  rss_end = rss_kib();
  CHECK(!failures, "stream failed: %s", err.msg);
  CHECK(chunks == chunks_total, "%d chunks", chunks);
  CHECK(frames_out == 33 + 24 * (chunks_total - 1), "%d frames out", frames_out);
  CHECK(rss_end - rss40 < 16384, "resident memory grew from %ld to %ld KiB", rss40, rss_end);
  printf("  %d latent frames, largest rss over chunks 40..100: %ld KiB, at the end: %ld KiB\n",
         5 + 3 * (chunks_total - 1), rss40, rss_end);
  sana_frame_free(in);
  sana_stream_free(s);
  sana_model_free(m);
  return sana_test_done("test_long_stream");
}
