/* Internals shared by the CUDA backend's files (compiled by nvcc as C++).
 *
 * Every op is asynchronous on one stream. A failure (a bad shape, a launch error) is recorded
 * with the op's name by cuda_fail, the first one wins, and be->sync reports it. With
 * SANA_CUDA_SYNC=1 every op synchronises after its launches, so an asynchronous fault (an
 * illegal address) is charged to the op that caused it instead of to the next sync. */
#ifndef SANA_BACKEND_CUDA_H
#define SANA_BACKEND_CUDA_H

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <initializer_list>

extern "C" {
#include "backend/backend.h"
}

struct cuda_block; /* a cached device allocation (cuda_backend.cu) */
struct cuda_lt_plan;

typedef struct cuda_impl {
  int device;
  cudaStream_t stream;
  cudaDeviceProp prop;
  int sync_each_op; /* SANA_CUDA_SYNC=1 */
  sana_error first; /* first failure since the last sync */
  /* caching allocator: freed blocks are kept by size and reused */
  struct cuda_block *live, *cached;
  size_t live_bytes, cached_bytes, peak_bytes;
  /* scratch for dtype conversion in upload/download (grown on demand) */
  void *scratch;
  size_t scratch_bytes;
  /* cuBLASLt */
  cublasLtHandle_t lt;
  void *lt_workspace;
  size_t lt_workspace_bytes;
  struct cuda_lt_plan *plans; /* cached matmul descriptors + algorithms, by shape */
  int n_plans, cap_plans;
  void *vae; /* cuda_vae_conv3d.cu: cuDNN handle, conv plans, rearranged weights */
} cuda_impl;

static inline cuda_impl *cuda_of(sana_backend *be) { return (cuda_impl *)be->impl; }

/* Records a failure (the first one wins) for be->sync to report. */
void cuda_fail(sana_backend *be, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks a CUDA runtime result; records "<op>: <what>: <cuda error string>" and returns 0 on
 * failure. */
int cuda_check(sana_backend *be, const char *op, cudaError_t e, const char *what);
#define CUDA_OK(be, op, call) cuda_check((be), (op), (call), #call)

/* After an op's launches: picks up launch errors (and, with SANA_CUDA_SYNC=1, execution
 * errors) and charges them to `op`. */
void cuda_after_launch(sana_backend *be, const char *op);

/* Checks that every non-NULL tensor has data and one of the allowed dtypes (a bit mask of
 * 1 << SANA_xxx); records a failure naming `op` and the operand otherwise. */
int cuda_check_dtypes(sana_backend *be, const char *op, unsigned allowed,
                      std::initializer_list<const sana_tensor *> ts);
#define CUDA_DTYPES(be, op, allowed, ...) cuda_check_dtypes((be), (op), (allowed), {__VA_ARGS__})
#define CUDA_BF16_ONLY (1u << SANA_BF16)
#define CUDA_FLOATS ((1u << SANA_BF16) | (1u << SANA_F32) | (1u << SANA_F16))

/* Grid size for n items at `per_block` items per block, capped for grid-stride loops. */
static inline unsigned cuda_blocks(int64_t n, int per_block) {
  int64_t b = (n + per_block - 1) / per_block;
  if (b < 1) b = 1;
  if (b > 1 << 20) b = 1 << 20;
  return (unsigned)b;
}

/* dst = src converted (F32/BF16/F16, device memory, n elements), on the backend's stream. */
void cuda_convert(sana_backend *be, const char *op, void *dst, sana_dtype dd, const void *src,
                  sana_dtype sd, int64_t n);

/* y = act(y) in place on a BF16 device buffer (used after GEMMs whose epilogue lacks act). */
void cuda_act_inplace_bf16(sana_backend *be, const char *op, void *y, int64_t n, sana_act act);

/* Each op family's file installs its entries. */
void cuda_install_elementwise_ops(sana_backend *be); /* unary, binary, gated_add, copy, fill */
void cuda_install_linear_op(sana_backend *be);
void cuda_install_norm_ops(sana_backend *be);
void cuda_install_rope_op(sana_backend *be);
void cuda_install_attention_op(sana_backend *be);
/* Model-family sub-tables (backend/ops_*.h): cuda_dit.cu, cuda_vae.cu, cuda_text.cu. */
void cuda_install_dit_ops(sana_backend *be);
void cuda_install_vae_ops(sana_backend *be);
void cuda_install_text_ops(sana_backend *be);
void cuda_install_video_ops(sana_backend *be); /* cuda_prep.cu */

/* dit.gdn_chunk (cuda_dit_gdn.cu), installed by cuda_dit.cu. */
void cuda_dit_gdn_chunk(sana_backend *be, sana_tensor *o, const sana_tensor *q_hat, const sana_tensor *q_rot,
                        const sana_tensor *k_hat, const sana_tensor *k_rot, const sana_tensor *v,
                        const sana_tensor *beta, const sana_tensor *g, const sana_tensor *gate,
                        sana_tensor *state_kv, sana_tensor *state_z, int64_t T, int save);

/* y[M,N] = x[M,K] · w[N,K]ᵀ + c[M,N] through cuBLASLt (c may not alias y unless equal) (cuda_linear.cu). */
void cuda_linear_acc(sana_backend *be, const char *op, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                     const sana_tensor *c);

/* conv3d's state (cuda_vae_conv3d.cu). cuda_vae_forget drops what it keeps for device memory
 * in [p, p + bytes) (the allocator calls it on every free); cuda_vae_release frees all of it. */
void cuda_vae_forget(sana_backend *be, const void *p, size_t bytes);
void cuda_vae_release(sana_backend *be);

/* cuBLASLt state (cuda_linear.cu). */
int cuda_linear_init(sana_backend *be, sana_error *err);
void cuda_linear_release(sana_backend *be);

#endif
