/* The streaming loop on the tiny random model (CPU): chunk sizes, frame count, size and timing,
 * determinism per seed, prompt changes landing exactly at a chunk boundary, reset. */
#include <stdlib.h>
#include <string.h>

#include "stream/stream.h"
#include "tests/test_util.h"

#define W 64
#define H 64
#define NF 91 /* 33 + 24 + 24 + 10: the last chunk is partial (flush) */

typedef struct { sana_frame *f[NF + 8]; int n; } run_out;

/* A moving gradient at 96x80, so frames differ and the cover-resize + crop has work to do. */
static void make_frame(sana_frame *f, int i) {
  for (int y = 0; y < f->height; y++)
    for (int x = 0; x < f->width; x++) {
      uint8_t *p = f->rgb + y * f->stride + 3 * x;
      p[0] = (uint8_t)(x * 2 + i * 3);
      p[1] = (uint8_t)(y * 3 + i);
      p[2] = (uint8_t)((x ^ y) + i * 5);
    }
  f->pts_us = (int64_t)i * 41667;
}

/* Feeds NF frames; before chunk `switch_chunk` starts, switches to `prompt2`. */
static void run(sana_model *m, uint64_t seed, int switch_chunk, const char *prompt2, run_out *o, sana_stream **keep) {
  sana_error err = {0};
  sana_stream *s = keep && *keep ? *keep
                                 : sana_stream_new(m, &(sana_stream_options){.seed = seed, .prompt = "make the sky purple"}, &err);
  CHECK(s != NULL, "stream: %s", err.msg);
  if (!s) return;
  sana_frame *in = sana_frame_alloc(96, 80);
  int chunks = 0, ran;
  o->n = 0;
  CHECK(sana_stream_frames_needed(s) == 33, "first chunk needs 33, not %d", sana_stream_frames_needed(s));
  for (int i = 0; i < NF; i++) {
    if (chunks == switch_chunk && prompt2 && sana_stream_frames_needed(s) == 24) sana_stream_set_prompt(s, prompt2, &err);
    make_frame(in, i);
    CHECK_OK(sana_stream_push_frame(s, in, &err), &err);
    CHECK_OK(sana_stream_run_chunk(s, &ran, &err), &err);
    if (ran) {
      chunks++;
      sana_chunk_info ci;
      sana_stream_last_chunk(s, &ci);
      CHECK(ci.chunk_index == chunks - 1, "chunk index %d", ci.chunk_index);
      if (chunks == 1) CHECK(sana_stream_frames_needed(s) == 24, "later chunks need 24");
      if (prompt2 && chunks - 1 >= switch_chunk)
        CHECK(!strcmp(ci.active_prompt, prompt2), "chunk %d runs '%s'", chunks - 1, ci.active_prompt);
    }
    sana_frame *f;
    while (sana_stream_pop_frame(s, &f)) o->f[o->n++] = f;
  }
  CHECK_OK(sana_stream_flush(s, &ran, &err), &err);
  CHECK(ran, "flush ran the partial chunk");
  sana_frame *f;
  while (sana_stream_pop_frame(s, &f) && o->n < NF + 8) o->f[o->n++] = f;
  sana_frame_free(in);
  if (keep) *keep = s;
  else sana_stream_free(s);
}

static int same_frame(const sana_frame *a, const sana_frame *b) {
  return a->width == b->width && a->height == b->height && !memcmp(a->rgb, b->rgb, (size_t)a->stride * a->height);
}

static void free_run(run_out *o) {
  for (int i = 0; i < o->n; i++) sana_frame_free(o->f[i]);
}

int main(void) {
  const char *dir = getenv("SANA_TINY");
  if (!dir) { fprintf(stderr, "SANA_TINY unset\n"); return 2; }
  sana_error err = {0};
  sana_model *m = sana_model_load(dir, &(sana_model_options){.backend = "cpu", .width = W, .height = H}, &err);
  CHECK(m != NULL, "model: %s", err.msg);
  if (!m) return sana_test_done("test_stream");

  static run_out a, b, c, d, e;
  sana_stream *sa = NULL;
  run(m, 1, -1, NULL, &a, &sa);
  CHECK(a.n == NF, "%d frames out for %d in", a.n, NF);
  int sizes_ok = 1, pts_ok = 1;
  for (int i = 0; i < a.n; i++) {
    sizes_ok &= a.f[i]->width == W && a.f[i]->height == H;
    pts_ok &= a.f[i]->pts_us == (int64_t)i * 41667;
  }
  CHECK(sizes_ok, "every frame is %dx%d", W, H);
  CHECK(pts_ok, "every frame keeps its source time");

  run(m, 1, -1, NULL, &b, NULL);
  int same = a.n == b.n;
  for (int i = 0; same && i < a.n; i++) same = same_frame(a.f[i], b.f[i]);
  CHECK(same, "the same seed gives identical frames");

  /* prompt change before chunk 2 (frames 57..): frames 0..56 unchanged, later ones change */
  run(m, 1, 2, "turn the car into a horse", &c, NULL);
  int before = c.n == a.n, after = 0;
  for (int i = 0; before && i < 57; i++) before = same_frame(a.f[i], c.f[i]);
  for (int i = 57; i < c.n && i < a.n; i++) after += !same_frame(a.f[i], c.f[i]);
  CHECK(before, "frames before the switch are identical");
  CHECK(after == c.n - 57, "%d of %d frames from the switch on changed", after, c.n - 57);

  run(m, 2, -1, NULL, &d, NULL);
  int differ = 0;
  for (int i = 0; i < d.n && i < a.n; i++) differ += !same_frame(a.f[i], d.f[i]);
  CHECK(differ == a.n, "another seed changes every frame (%d of %d)", differ, a.n);

  /* reset: the stream starts over as new and reproduces run a */
  if (sa) {
    sana_stream_reset(sa);
    CHECK(sana_stream_frames_needed(sa) == 33, "after reset the first chunk needs 33 again");
    run(m, 1, -1, NULL, &e, &sa);
    int again = e.n == a.n;
    for (int i = 0; again && i < a.n; i++) again = same_frame(a.f[i], e.f[i]);
    CHECK(again, "after reset the stream reproduces a fresh one");
    sana_stream_free(sa);
    free_run(&e);
  }
  free_run(&a);
  free_run(&b);
  free_run(&c);
  free_run(&d);
  sana_model_free(m);
  return sana_test_done("test_stream");
}
