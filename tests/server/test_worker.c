/* The session worker (server/worker.c) over the real engine on the tiny random model: reset,
 * restart and free return at once while a chunk is being computed (the main loop calls them),
 * the chunk in flight is discarded (no callback, no frames), the new run starts at chunk 0 with
 * its own prompt, and no callback fires after free. Needs SANA_TINY (fixture tiny_model). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "server/worker.h"
#include "tests/test_util.h"

#define SIZE 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int chunks_done, failures_seen;
static sana_chunk_info last;
static char last_prompt[64];

static void on_chunk(void *user, const sana_chunk_info *info) {
  pthread_mutex_lock(&mu);
  chunks_done++;
  last = *info;
  snprintf(last_prompt, sizeof last_prompt, "%s", info->active_prompt ? info->active_prompt : "");
  pthread_mutex_unlock(&mu);
}

static void on_failed(void *user, const char *reason) {
  fprintf(stderr, "worker failed: %s\n", reason);
  pthread_mutex_lock(&mu);
  failures_seen++;
  pthread_mutex_unlock(&mu);
}

/* Waits (at most `seconds`) until `n` chunks were reported; returns the count. */
static int wait_chunks(int n, double seconds) {
  pthread_mutex_lock(&mu);
  double end = sana_now() + seconds;
  while (chunks_done < n && sana_now() < end) {
    pthread_mutex_unlock(&mu);
    usleep(5000);
    pthread_mutex_lock(&mu);
  }
  int c = chunks_done;
  pthread_mutex_unlock(&mu);
  return c;
}

/* Pushes n frames as a file source does (waiting for the stream and for room). */
static void push_frames(sana_worker *w, sana_frame *f, int n) {
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < f->stride * f->height; k++) f->rgb[k] = (uint8_t)(k * 7 + i * 13);
    f->pts_us = i * 41667;
    CHECK(sana_worker_push(w, f, 1) == 1, "frame %d was not taken", i);
  }
}

static int drain(sana_worker *w) {
  int n = 0;
  sana_frame *o;
  while ((o = sana_worker_pop_output(w))) {
    CHECK(o->width == SIZE && o->height == SIZE, "output frame %dx%d", o->width, o->height);
    sana_frame_free(o);
    n++;
  }
  return n;
}

int main(void) {
  const char *tiny = getenv("SANA_TINY");
  if (!tiny) {
    fprintf(stderr, "SANA_TINY is not set (the tiny_model fixture)\n");
    return 1;
  }
  sana_error err = {0};
  sana_model_options mo = {.backend = "cpu", .width = SIZE, .height = SIZE};
  sana_model *m = sana_model_load(tiny, &mo, &err);
  CHECK(m, "model: %s", err.msg);
  if (!m) return sana_test_done("test_server_worker");
  sana_frame *f = sana_frame_alloc(SIZE, SIZE);
  sana_worker_events ev = {.user = NULL, .log_name = "test", .chunk_done = on_chunk, .failed = on_failed};
  sana_worker *w = sana_worker_new(m, &ev);

  /* Run 1, chunk 0: its duration D sets the scale of what follows. */
  sana_worker_start(w, 1, "a");
  push_frames(w, f, 33);
  CHECK(wait_chunks(1, 300) == 1, "chunk 0 of run 1 never finished");
  double D = last.seconds;
  CHECK(last.chunk_index == 0 && last.frames_emitted == 33 && !strcmp(last_prompt, "a"),
        "run 1 chunk 0: index %d, %d frames, prompt '%s'", last.chunk_index, last.frames_emitted, last_prompt);
  CHECK(drain(w) == 33, "run 1 chunk 0 gives 33 frames");
  fprintf(stderr, "chunk 0 took %.2f s\n", D);

  /* Chunk 1 starts with its 24th frame; reset and restart while it is computed. */
  push_frames(w, f, 24);
  usleep((useconds_t)(D * 0.1 * 1e6));
  double t0 = sana_now();
  sana_worker_reset(w);
  sana_worker_start(w, 1, "b");
  double dt = sana_now() - t0;
  CHECK(dt < 0.05 * D && dt < 0.25, "reset + start took %.1f ms while a %.0f ms chunk was in flight", dt * 1e3, D * 1e3);
  /* The discarded chunk reports nothing and leaves no frames; the new run waits for it. */
  push_frames(w, f, 33);
  CHECK(wait_chunks(2, 300) == 2, "chunk 0 of run 2 never finished");
  CHECK(last.chunk_index == 0 && last.frames_emitted == 33 && !strcmp(last_prompt, "b"),
        "after reset + start: chunk index %d, %d frames, prompt '%s' (the discarded chunk reported?)",
        last.chunk_index, last.frames_emitted, last_prompt);
  CHECK(drain(w) == 33, "run 2 gives its 33 frames and none of the discarded chunk");

  /* Free while chunk 1 of run 2 is computed: returns at once, no callback after it. */
  push_frames(w, f, 24);
  usleep((useconds_t)(D * 0.1 * 1e6));
  t0 = sana_now();
  sana_worker_free(w);
  dt = sana_now() - t0;
  CHECK(dt < 0.05 * D && dt < 0.25, "free took %.1f ms while a chunk was in flight", dt * 1e3);
  t0 = sana_now();
  sana_worker_join_all();
  fprintf(stderr, "the freed worker finished its chunk %.0f ms later\n", (sana_now() - t0) * 1e3);
  CHECK(wait_chunks(3, 0) == 2, "a callback fired after free");
  CHECK(failures_seen == 0, "the engine failed");

  sana_frame_free(f);
  sana_model_free(m);
  return sana_test_done("test_server_worker");
}
