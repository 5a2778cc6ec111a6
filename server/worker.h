/* One session's engine worker: a thread that owns a sana_stream, feeds it the gathered source
 * frames, runs one chunk at a time and queues the edited frames for the paced sender.
 * Plain pthreads, no GLib: results go back through the callbacks, which the session marshals
 * onto its main loop. */
#ifndef SANA_SERVER_WORKER_H
#define SANA_SERVER_WORKER_H

#include <stdint.h>

#include "stream/stream.h"

typedef struct sana_worker sana_worker;

typedef struct sana_worker_events {
  void *user;
  /* A chunk finished (called on the worker thread). info.active_prompt is only valid during
   * the call. */
  void (*chunk_done)(void *user, const sana_chunk_info *info);
  /* The file source ended and its last frame was queued (total chunks run). */
  void (*source_done)(void *user, int total_chunks);
  /* The engine failed; the run is stopped. */
  void (*failed)(void *user, const char *reason);
} sana_worker_events;

sana_worker *sana_worker_new(sana_model *model, const sana_worker_events *ev);
/* Stops the thread, frees the stream and every queued frame. */
void sana_worker_free(sana_worker *w);

/* Begins a run: a fresh stream with this seed and prompt. */
int sana_worker_start(sana_worker *w, uint64_t seed, const char *prompt, char *reason, int reason_size);
void sana_worker_set_prompt(sana_worker *w, const char *prompt);
void sana_worker_pause(sana_worker *w, int paused);
/* Ends the run: drops the stream and all queued frames (takes effect between chunks). */
void sana_worker_reset(sana_worker *w);

/* Queues a source frame (copied) when a run is active and not paused; returns 0 when dropped.
 * With `wait` (file sources), blocks while the worker has enough queued work, so that a file
 * is read at the pace of generation. */
int sana_worker_push(sana_worker *w, const sana_frame *f, int wait);
/* The file source has no more frames: pad and flush the last partial chunk. */
void sana_worker_end_of_source(sana_worker *w);

/* The next edited frame for the sender, or NULL when none is ready; caller frees. */
sana_frame *sana_worker_pop_output(sana_worker *w);
int sana_worker_active(sana_worker *w);

#endif
