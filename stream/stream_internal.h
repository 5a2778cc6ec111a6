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
  size_t text_bytes;           /* backend memory the text encoder's weights took (0: not tracked) */
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
  double t_stage[5]; /* prompt, encode (with the frame upload and prep), dit, decode, output */
  double t_prep;     /* the frame upload and prep, part of t_stage[1] */
  double t_pass[5];  /* the DiT's passes: 4 Euler steps and the cache pass */
  sana_vae_stream *enc, *dec;
  sana_dit_state *dit;
  /* A chunk stays on the backend from the source bytes to the output bytes: the buffers are
   * sized for the largest chunk when the stream is made (the source one grows with the source
   * frame size). */
  sana_tensor d_video;   /* [3, F, H, W] act: the VAE's input */
  sana_tensor d_lat;     /* [Cin, T·hl·wl] act: the noise as drawn, then the decoder's input */
  sana_tensor d_src;     /* [T·hl·wl, Cin] act: the source latents, token-major */
  sana_tensor d_x;       /* [T·hl·wl, Cin] act: the noisy latents the sampler updates */
  sana_tensor d_rgb_out; /* U8 [F, H, W, 3] */
  void *d_rgb_in;        /* U8 source frames, packed one after another */
  size_t d_rgb_in_bytes;
  uint8_t *h_rgb_out;    /* host U8 [F, H, W, 3]: the chunk's output in one download (the
                          * backend's host_alloc where it has one: page-locked on CUDA) */
  float *lat;            /* host [Cin, T, hl, wl]: the chunk's noise */
  /* per frame of the largest chunk: its source frame, its output frame */
  sana_frame **chunk_in, **chunk_out;
};

#endif
