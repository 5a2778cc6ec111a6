/* The engine API used by every driver (sana edit, sana serve, sana bench).
 *
 * A model (weights, loaded once, shared read-only by the streams on one device) and streams
 * (everything that lives as long as one video: VAE and DiT caches, the RNG, the prompts,
 * counters; allocated once at creation, nothing in the per-chunk loop allocates).
 *
 * A stream eats RGB frames of any size (they are cover-resized and centre-cropped to the model
 * size) and gives back edited frames at the model size, in order, one chunk at a time: the
 * first chunk needs 33 frames, every later one 24. Frames are produced only by
 * sana_stream_run_chunk, which the caller runs on its own worker thread; push/pop/set_prompt
 * are cheap and may be called from another thread (they take the stream's lock).
 *
 * Ownership: the caller owns every sana_frame it passes in (the stream copies what it keeps);
 * frames returned by pop are owned by the caller and freed with sana_frame_free. */
#ifndef SANA_STREAM_H
#define SANA_STREAM_H

#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

typedef struct sana_model sana_model;
typedef struct sana_stream sana_stream;

typedef struct sana_frame {
  int width, height;
  int stride;     /* bytes per row */
  uint8_t *rgb;   /* packed RGB8 */
  int64_t pts_us; /* presentation time of the source frame, carried to the output */
} sana_frame;

sana_frame *sana_frame_alloc(int width, int height);
void sana_frame_free(sana_frame *f);

typedef struct sana_model_options {
  const char *backend; /* "cpu" or "cuda" (default: cuda when available) */
  int width, height;   /* model resolution, multiples of 32 (default 1280x704) */
} sana_model_options;

/* Loads the DiT, VAE and text encoder found in weights_dir (see `sana info`). */
sana_model *sana_model_load(const char *weights_dir, const sana_model_options *opt, sana_error *err);
void sana_model_free(sana_model *m);
void sana_model_size(const sana_model *m, int *width, int *height);

typedef struct sana_stream_options {
  uint64_t seed;      /* noise RNG seed (core/rng.h: chunk c draws stream (seed, c)) */
  const char *prompt; /* initial prompt (may be changed later) */
  /* Optional exact noise, host F32 [Cin, T_all, hl, wl] in upstream's layout (e.g. upstream's
   * --save_latent dump), for parity runs; it must outlive the stream. NULL: our RNG. */
  const sana_tensor *noise;
} sana_stream_options;

sana_stream *sana_stream_new(sana_model *m, const sana_stream_options *opt, sana_error *err);
void sana_stream_free(sana_stream *s);

/* The prompt for the next chunk that has not started yet ("lands at the next chunk boundary").
 * Encoding happens on the worker, at that boundary. */
sana_status sana_stream_set_prompt(sana_stream *s, const char *text, sana_error *err);

/* Queues a source frame (copied). */
sana_status sana_stream_push_frame(sana_stream *s, const sana_frame *f, sana_error *err);

/* Frames still needed before the next chunk can run (33 for the first, then 24). */
int sana_stream_frames_needed(const sana_stream *s);

/* Runs the next chunk if enough frames are queued: encode, 4 denoising steps, cache pass,
 * decode. Returns SANA_OK with *ran = 0 when not enough frames are queued. */
sana_status sana_stream_run_chunk(sana_stream *s, int *ran, sana_error *err);

/* At the end of the input: runs a last chunk over the frames still queued (fewer than the
 * chunk needs), repeating the last one to fill it; only the real frames come out, so the
 * output has exactly as many frames as the input. *ran = 0 when nothing was queued. */
sana_status sana_stream_flush(sana_stream *s, int *ran, sana_error *err);

/* Pops the next edited frame; returns 0 when none is ready. */
int sana_stream_pop_frame(sana_stream *s, sana_frame **out);

/* Info about the last finished chunk, for progress and the server's chunk_complete. */
typedef struct sana_chunk_info {
  int chunk_index;
  int frames_emitted;        /* total so far */
  const char *active_prompt; /* valid until the next run_chunk */
  double seconds;            /* wall time of the chunk */
  /* its stages (wall time, the backend synchronised at each boundary): prompt encode (0 when
   * cached or unchanged), VAE encode (including the frames' upload and preprocessing, t_prep),
   * DiT (the noise, 4 denoising passes + the cache pass: t_pass[0..4]), VAE decode, output
   * (frames to RGB8 on the backend, their download, the output queue) */
  double t_prompt, t_encode, t_dit, t_decode, t_output;
  double t_prep;
  double t_pass[5];
} sana_chunk_info;
void sana_stream_last_chunk(const sana_stream *s, sana_chunk_info *info);

/* Drops all state (caches, queued frames, counters) as if new, keeping the prompt and seed. */
void sana_stream_reset(sana_stream *s);

#endif
