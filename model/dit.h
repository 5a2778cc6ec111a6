/* The SANA-Streaming DiT (model-spec §4, §5): weights loaded once from the official state_dict
 * (config detected from the tensors), and a per-stream state that owns the streaming caches and
 * the activation arena. The graph is written once against the backend op table.
 *
 * Latents cross this API token-major: [N, Cin] with N = T·Hl·Wl, n = (t·Hl + h)·Wl + w (the
 * transpose of upstream's [Cin, T, Hl, Wl]); sana_dit_gather_chunk converts on the host. */
#ifndef SANA_MODEL_DIT_H
#define SANA_MODEL_DIT_H

#include "backend/backend.h"
#include "io/checkpoint.h"

#define SANA_DIT_MAX_DEPTH 64

typedef struct sana_dit_config {
  int depth, hidden, heads, head_dim;
  int in_ch, out_ch, cap_ch, freq_dim, ffn; /* ffn: GLU width (the inverted conv is 2·ffn) */
  int softmax_qk_taps;                      /* 3: streaming Conv1d q/k; 1: bidirectional Linear */
  unsigned char is_softmax[SANA_DIT_MAX_DEPTH];
} sana_dit_config;

typedef struct sana_dit_block {
  int softmax;
  sana_tensor scale_shift_table; /* [6, C] */
  struct {
    sana_tensor q, k;            /* [C, C] (GDN: from [C, C, 1]; softmax: centre tap of [C, C, 3]) */
    sana_tensor v, proj_w, proj_b, output_gate_w, output_gate_b, q_norm, k_norm;
    sana_tensor beta_w, beta_b, gate_w, gate_b, neg_exp_a_log, dt_bias; /* GDN only */
  } attn;
  struct {
    sana_tensor q_w, q_b, k_w, k_b, v_w, v_b, proj_w, proj_b, q_norm, k_norm; /* kv_linear split */
  } cross_attn;
  struct {
    sana_tensor inverted_w, inverted_b, depth_w, depth_b, point_w, t_conv_w;
  } mlp;
} sana_dit_block;

typedef struct sana_dit {
  sana_dit_config cfg;
  sana_backend *be;
  sana_tensor x_embedder_w, x_embedder_b;
  sana_tensor t_mlp0_w, t_mlp0_b, t_mlp2_w, t_mlp2_b, t_block_w, t_block_b;
  sana_tensor y_fc1_w, y_fc1_b, y_fc2_w, y_fc2_b, y_norm;
  sana_tensor final_w, final_b, final_table;
  sana_dit_block *blocks;
  void **allocs; /* backend allocations to free */
  int n_allocs, cap_allocs;
} sana_dit;

/* Detects the config from the tensors (model-spec §6.4): depth from the blocks present, hidden
 * size from x_embedder, heads from a GDN block's beta_proj (else hidden / 112), softmax blocks
 * from the absence of beta_proj, streaming vs bidirectional from the rank of attn.q.weight. */
sana_status sana_dit_detect_config(const sana_ckpt *ck, sana_dit_config *cfg, sana_error *err);

/* Loads every key with its exact shape onto the backend; any key left over is an error
 * (`pos_embed` and `y_embedder.y_embedding` are known-unused). */
sana_status sana_dit_load(sana_dit **out, sana_backend *be, sana_ckpt *ck, sana_error *err);
void sana_dit_free(sana_dit *d);

/* ---- per-stream state ---- */

typedef struct sana_dit_state sana_dit_state;

typedef struct sana_dit_geometry {
  int64_t hl, wl;         /* latent grid */
  int64_t text_len;       /* caption tokens */
  int64_t first_frames;   /* frames of chunk 0 (the sink) */
  int64_t max_frames;     /* frames of the largest later chunk */
} sana_dit_geometry;

sana_status sana_dit_state_new(sana_dit_state **out, sana_dit *d, const sana_dit_geometry *geo, sana_error *err);
void sana_dit_state_free(sana_dit_state *st);
/* Drops the caches (GDN states, K/V window, t-conv frames) as for a new video. */
void sana_dit_state_reset(sana_dit_state *st);

/* Sets the caption: y [L, cap_ch] and mask [L] (host tensors, any float / int dtype; mask
 * nonzero = token used). Computes the caption embedding and each block's cross-attention K/V. */
sana_status sana_dit_set_prompt(sana_dit_state *st, const sana_tensor *y, const sana_tensor *mask, sana_error *err);

/* Observes the sampler (any callback may be NULL); tensors are in backend memory. step is the
 * Euler step 0..3, or 4 for the cache pass. */
typedef struct sana_dit_observer {
  void (*block)(void *ctx, int step, int block, const sana_tensor *h); /* residual [N, C] */
  void (*velocity)(void *ctx, int step, const sana_tensor *v);         /* [N, Cin] */
  /* sana_dit_run_stream only: a chunk starts; a chunk ended (after its cache pass), its
   * result x_cthw [Cin, T, Hl, Wl] on the host */
  void (*chunk_start)(void *ctx, int chunk, int64_t f0, int64_t T);
  void (*chunk_end)(void *ctx, int chunk, sana_dit_state *st, const sana_tensor *x_cthw);
  void *ctx;
} sana_dit_observer;

/* Prepares a chunk of T frames starting at absolute latent frame f0 (RoPE tables, window). */
sana_status sana_dit_chunk_begin(sana_dit_state *st, int64_t f0, int64_t T, sana_error *err);

/* One DiT call on the current chunk: x, src [N, Cin] (backend), integer timestep tau; v [N, Cin]
 * receives the velocity. save = 1 is the cache pass (writes GDN states, K/V, t-conv frames);
 * otherwise the caches are only read. step is passed to the observer. */
sana_status sana_dit_forward(sana_dit_state *st, const sana_tensor *x, const sana_tensor *src, int tau, int save,
                             sana_tensor *v, const sana_dit_observer *obs, int step, sana_error *err);

/* The sampler for one chunk (§3.5): Euler steps at t = 1000, 961, 893, 743 with the step size
 * rounded to bf16, updating x [N, Cin] in place, then the t = 0 cache pass when cache_pass.
 * steps is 4 for the real schedule; fewer (1..3) stop early, for checks and timing. */
sana_status sana_dit_sample_chunk(sana_dit_state *st, sana_tensor *x, const sana_tensor *src, int64_t f0,
                                  int64_t T, int steps, int cache_pass, const sana_dit_observer *obs,
                                  sana_error *err);

/* The whole streaming loop over host tensors in upstream's layout (what `sana dit-run` runs):
 * noise, source [Cin, T_all, Hl, Wl] (a leading batch 1 is allowed), text [L, cap] (leading 1s
 * allowed), mask [L], chunk frame counts summing to T_all; latents [Cin, T_all, Hl, Wl] F32
 * receives the results. Creates its own state. */
typedef struct sana_dit_run_io {
  const sana_tensor *noise, *source, *text, *mask;
  const int64_t *chunk_frames;
  int n_chunks;
  sana_tensor *latents;
  int steps; /* Euler steps per chunk: 0 or 4 for the real schedule */
} sana_dit_run_io;
sana_status sana_dit_run_stream(sana_dit *d, const sana_dit_run_io *io, const sana_dit_observer *obs, sana_error *err);

/* Cache views for tests and tools: GDN state_kv [H, D, D] / state_z [H, D] (F32); softmax K/V
 * rows [n, C] of the window (sink then previous chunk); t-conv frame [S, C]. Returns 0 when the
 * block has no such cache. */
int sana_dit_state_gdn(sana_dit_state *st, int block, sana_tensor *kv, sana_tensor *z);
int sana_dit_state_window(sana_dit_state *st, int block, sana_tensor *k, sana_tensor *v);
int sana_dit_state_tconv(sana_dit_state *st, int block, sana_tensor *frame);

/* ---- host helpers (pure math, tested against hand-derived values) ---- */

/* [cos(τ·f_i), sin(τ·f_i)] for i < dim/2, f_i = exp(−ln(10000)·i/(dim/2)); τ = (int)tau. */
void sana_dit_timestep_freq(float *out, int dim, int tau);
/* RoPE tables [T·Hl·Wl, D/2] for absolute frames f0..f0+T−1 (§4.4): pairs split t/h/w as
 * D − 2·(2·(D/6)), 2·(D/6), 2·(D/6) dims; angles and cos/sin in double, stored as float. */
void sana_dit_rope_tables(float *cos_out, float *sin_out, int D, int64_t f0, int64_t T, int64_t hl, int64_t wl);
/* Host layout changes between upstream's [C, T_all, S] and token-major chunks [T·S, C] of the
 * frames f0..f0+T−1 (S = Hl·Wl). */
void sana_dit_gather_chunk(float *dst, const float *cts, int64_t C, int64_t t_all, int64_t S, int64_t f0, int64_t T);
void sana_dit_scatter_chunk(float *cts, const float *src, int64_t C, int64_t t_all, int64_t S, int64_t f0, int64_t T);

#endif
