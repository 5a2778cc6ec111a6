/* The model and stream structs behind stream/stream.h. */
#ifndef SANA_STREAM_INTERNAL_H
#define SANA_STREAM_INTERNAL_H

#include <pthread.h>

#include "io/checkpoint.h"
#include "model/dit.h"
#include "model/vae.h"
#include "stream/stream.h"
#include "model/text_encoder.h"

#define SANA_FIRST_LATENTS 5 /* chunk 0: 33 frames -> 5 latents (the sink) */
#define SANA_CHUNK_LATENTS 3 /* later chunks: 24 frames -> 3 latents */

struct sana_model {
  sana_backend *be;
  sana_ckpt *dit_ckpt;
  sana_dit *dit;
  sana_vae *vae;
  sana_text_encoder *text;
  int width, height;           /* pixels */
  int cin, hl, wl, t_stride;   /* latent channels, grid, temporal compression */
  sana_vae_decode_mode decode; /* causal for a causal decoder, else prepend */
};

/* A FIFO of frames. */
typedef struct frame_queue {
  sana_frame **f;
  int head, n, cap;
} frame_queue;

struct sana_stream {
  sana_model *m;
  pthread_mutex_t mu;
  frame_queue in, out;
  uint64_t seed;
  const sana_tensor *noise; /* optional fixed noise [Cin, T_all, hl, wl] (host F32) */
  char *prompt_pending;     /* set_prompt's text, taken at the next chunk boundary */
  char *prompt_active;      /* the prompt of the last chunk that ran */
  int chunk;                /* chunks run so far */
  int64_t f0;               /* latent frames so far */
  int frames_emitted;
  int pad_frames;           /* repeated frames added by flush, dropped from the output */
  double last_seconds;
  double t_stage[4]; /* prompt, encode, dit, decode of the last chunk */
  sana_vae_stream *enc, *dec;
  sana_dit_state *dit;
  /* host scratch for one chunk, sized for the largest chunk */
  float *video;  /* [3, F, H, W] */
  float *lat;    /* [Cin, T, hl, wl] */
  float *tok;    /* [T·hl·wl, Cin] */
};

#endif
