/* One session's engine worker: a thread that owns a sana_stream, feeds it the gathered source
 * frames, runs one chunk at a time and queues the edited frames for the paced sender.
 * Plain pthreads, no GLib: results go back through the callbacks, which the session marshals
 * onto its main loop.
 *
 * No call here waits for a chunk: the stream is created, dropped and freed on the worker
 * thread, so that start, reset and free return at once even while a chunk is being computed
 * (the main loop keeps serving HTTP and the other sessions). Chunks of all sessions run one at
 * a time: the streams of one model share its backend, scratch and prompt cache. */
#ifndef SANA_SERVER_WORKER_H
#define SANA_SERVER_WORKER_H

#include <stdint.h>

#include "stream/stream.h"

typedef struct sana_worker sana_worker;

typedef struct sana_worker_events {
  void *user;
  const char *log_name; /* its log lines read "session <first 8 chars>: ..." (copied) */
  /* The callbacks run on the worker thread with the worker's lock held, and never once
   * sana_worker_free was called, so `user` need only live until then. */
  /* A chunk finished. info.active_prompt is only valid during the call. */
  void (*chunk_done)(void *user, const sana_chunk_info *info);
  /* The file source ended and its last frame was queued (total chunks run). */
  void (*source_done)(void *user, int total_chunks);
  /* The engine failed (creating the stream or running a chunk); the run is stopped. */
  void (*failed)(void *user, const char *reason);
} sana_worker_events;

sana_worker *sana_worker_new(sana_model *model, const sana_worker_events *ev);
/* Returns at once: the thread finishes any chunk in flight, frees the stream and every queued
 * frame, then itself. No callback fires after this call. */
void sana_worker_free(sana_worker *w);
/* Waits until every freed worker has finished (before the model is freed). */
void sana_worker_join_all(void);

/* Begins a run: a fresh stream with this seed and prompt (made on the worker thread; a
 * failure comes back through `failed`). */
void sana_worker_start(sana_worker *w, uint64_t seed, const char *prompt);
void sana_worker_set_prompt(sana_worker *w, const char *prompt);
void sana_worker_pause(sana_worker *w, int paused);
/* Ends the run at once: its queued output is dropped now, the stream once the chunk in flight
 * (whose result is discarded) is over. */
void sana_worker_reset(sana_worker *w);

/* Queues a source frame (copied) when a run is active and not paused; returns 0 when dropped.
 * With `wait` (file sources), blocks while the worker has enough queued work (or its stream
 * is still being made), so that a file is read at the pace of generation. */
int sana_worker_push(sana_worker *w, const sana_frame *f, int wait);
/* The file source has no more frames: pad and flush the last partial chunk. */
void sana_worker_end_of_source(sana_worker *w);

/* The next edited frame for the sender, or NULL when none is ready; caller frees. */
sana_frame *sana_worker_pop_output(sana_worker *w);
int sana_worker_active(sana_worker *w);

#endif
