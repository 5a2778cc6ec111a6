/* The backend op table. The model graph (model/) is written once against it; backend/cpu
 * implements it in fp32 as the reference, backend/cuda in bf16 for real time.
 *
 * Conventions for every op:
 *  - tensors are contiguous, row-major, PyTorch shape order, in this backend's memory;
 *  - activations have dtype be->act_dtype, weights be->weight_dtype (see sana_backend_weight);
 *  - ops are asynchronous and return nothing: a failure (a CUDA launch error, a shape the
 *    backend cannot handle) is recorded and reported by be->sync, with the op's name;
 *  - an output may alias an input only where the op says so.
 * Model-specific ops live in their own sub-tables (backend/ops_*.h), one per model family, so
 * the families can grow without touching each other. */
#ifndef SANA_BACKEND_H
#define SANA_BACKEND_H

#include <stddef.h>

#include "core/error.h"
#include "core/tensor.h"

typedef struct sana_backend sana_backend;

typedef enum sana_act {
  SANA_ACT_NONE,
  SANA_ACT_SILU,
  SANA_ACT_GELU_TANH, /* GELU with the tanh approximation */
  SANA_ACT_RELU,
  SANA_ACT_SIGMOID,
  SANA_ACT_SOFTPLUS,
  SANA_ACT_EXP,
} sana_act;

typedef enum sana_binop { SANA_ADD, SANA_SUB, SANA_MUL, SANA_DIV } sana_binop;

typedef struct sana_attn_params {
  float scale;             /* multiplies q·k before anything else */
  float softcap;           /* > 0: logit = softcap·tanh(logit/softcap) (Gemma-2) */
  const sana_tensor *bias; /* optional additive bias per key, [m], act dtype (cross-attn mask) */
  int causal;              /* query i (of n) sees key j (of m) iff j <= i + (m - n) */
  int window;              /* > 0 with causal: also j > i + (m - n) - window (sliding window) */
} sana_attn_params;

struct sana_dit_ops;  /* backend/ops_dit.h */
struct sana_vae_ops;  /* backend/ops_vae.h */
struct sana_text_ops; /* backend/ops_text.h */
struct sana_video_ops; /* backend/ops_video.h */

struct sana_backend {
  const char *name;
  sana_dtype act_dtype;
  sana_dtype weight_dtype;

  /* ---- memory ---- */
  void *(*alloc)(sana_backend *be, size_t bytes); /* NULL on failure; 256-byte aligned */
  void (*free)(sana_backend *be, void *p);
  /* Copies between host and backend memory, converting dtype (F32/BF16/F16) as needed.
   * Element counts must match. */
  void (*upload)(sana_backend *be, sana_tensor *dst, const sana_tensor *host_src);
  void (*download)(sana_backend *be, sana_tensor *host_dst, const sana_tensor *src);
  /* Waits for queued work; returns the first failure since the last sync (and clears it). */
  sana_status (*sync)(sana_backend *be, sana_error *err);
  void (*destroy)(sana_backend *be);
  /* Optional (NULL: plain malloc/free serve): host memory that upload/download move fastest
   * (page-locked on CUDA), for buffers that cross every chunk. Costly to get: allocate once. */
  void *(*host_alloc)(sana_backend *be, size_t bytes);
  void (*host_free)(sana_backend *be, void *p);
  /* Optional (NULL where not tracked): bytes allocated now and at the peak since creation. */
  void (*mem_stats)(sana_backend *be, size_t *live, size_t *peak);

  /* ---- core ops ---- */
  /* y[M,N] = act(x[M,K] · w[N,K]ᵀ + b[N]); b may be NULL. */
  void (*linear)(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                 const sana_tensor *b, sana_act act);
  /* y = act(x), elementwise; y may alias x. */
  void (*unary)(sana_backend *be, sana_tensor *y, const sana_tensor *x, sana_act act);
  /* y = a op b, where b is repeated over a (numel(b) divides numel(a): b[i % numel(b)]);
   * y may alias a. */
  void (*binary)(sana_backend *be, sana_tensor *y, const sana_tensor *a, const sana_tensor *b,
                 sana_binop op);
  /* y[M,C] = LayerNorm(x; eps, no affine) ⊙ (1 + scale[C]) + shift[C]; shift/scale may be
   * NULL; y may alias x. */
  void (*layernorm_mod)(sana_backend *be, sana_tensor *y, const sana_tensor *x,
                        const sana_tensor *shift, const sana_tensor *scale, float eps);
  /* y[M,C] = x ⊙ rsqrt(mean_C(x²) + eps) ⊙ (w_offset + w[C]); w may be NULL (then no scale);
   * w_offset is 0 for SANA's RMSNorm, 1 for Gemma's. y may alias x. */
  void (*rmsnorm)(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                  float eps, float w_offset);
  /* x[M,C] += g[C] ⊙ y[M,C]; g may be NULL (plain residual add). */
  void (*gated_add)(sana_backend *be, sana_tensor *x, const sana_tensor *g, const sana_tensor *y);
  /* o[n,H,D] = softmax(q[n,H,D]·k[m,Hk,D]ᵀ ...)·v[m,Hk,Dv]; H must be a multiple of Hk
   * (grouped-query attention: head h reads kv head h / (H/Hk)). Never materialises n×m
   * scores on backends where that would not fit. */
  void (*attention)(sana_backend *be, sana_tensor *o, const sana_tensor *q, const sana_tensor *k,
                    const sana_tensor *v, const sana_attn_params *p);
  /* Rotates x[n,H,D] in place by angles whose cos/sin are tables [n, D/2] (F32).
   * interleaved = 1: pairs (2i, 2i+1) (SANA's complex RoPE);
   * interleaved = 0: pairs (i, i+D/2) (Gemma / Llama rotate_half). */
  void (*rope)(sana_backend *be, sana_tensor *x, const sana_tensor *cos, const sana_tensor *sin,
               int interleaved);
  /* dst = src with dtype conversion; element counts must match. */
  void (*copy)(sana_backend *be, sana_tensor *dst, const sana_tensor *src);
  /* Sets every element to v. */
  void (*fill)(sana_backend *be, sana_tensor *t, float v);

  /* ---- model-family ops (NULL until a backend implements them) ---- */
  const struct sana_dit_ops *dit;
  const struct sana_vae_ops *vae;
  const struct sana_text_ops *text;
  const struct sana_video_ops *video;

  void *impl; /* backend-private state */
};

/* Creates a backend by name ("cpu", "cuda"); NULL with err set if unavailable. */
sana_backend *sana_backend_create(const char *name, sana_error *err);
void sana_backend_destroy(sana_backend *be);

sana_backend *sana_backend_cpu_create(sana_error *err);
sana_backend *sana_backend_cuda_create(sana_error *err); /* only in CUDA builds */

/* Allocates a tensor of the given dtype/shape in backend memory (data NULL on failure). */
sana_status sana_backend_tensor(sana_backend *be, sana_tensor *t, sana_dtype dt, int nd,
                                const int64_t *ne, sana_error *err);
/* Uploads a host checkpoint tensor as a weight: allocates in be->weight_dtype and converts.
 * `name` is used in error messages only. */
sana_status sana_backend_weight(sana_backend *be, sana_tensor *dst, const sana_tensor *host_src,
                                const char *name, sana_error *err);

#endif
