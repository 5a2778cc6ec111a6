/* Row norms, one block per row, fp32 statistics, one bf16 rounding at the end:
 *  - layernorm_mod: LayerNorm without affine, then ⊙ (1 + scale) + shift (adaLN modulation);
 *  - rmsnorm: x·rsqrt(mean(x²) + eps)·(w_offset + w), the weight multiply in fp32 as
 *    NVlabs/Sana's RMSNorm does ((w.float() · x.float()·rsqrt(...)).to(x.dtype), model-spec §9
 *    item 5) and Gemma's (1 + w) variant likewise.
 * The mean and the variance take two passes over the row (the row stays in L1/L2), so a large
 * mean does not cancel the variance as a one-pass Σx² − (Σx)²/C would. */
#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"

#define NORM_THREADS 128

__device__ __forceinline__ float block_sum(float v, float *red) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
  __syncthreads(); /* red may still be read by the previous reduction */
  if (l == 0) red[w] = v;
  __syncthreads();
  float t = 0.0f;
  for (int i = 0; i < nw; i++) t += red[i];
  return t;
}

/* Element j of row `row` as float, and the vectorised variant's 8 elements. */
template <bool VEC> struct row_io;
template <> struct row_io<true> {
  static constexpr int W = 8;
  __device__ static void load(const __nv_bfloat16 *p, int64_t j, float f[8]) {
    bf16x8_to_f(*reinterpret_cast<const uint4 *>(p + j), f);
  }
  __device__ static void store(__nv_bfloat16 *p, int64_t j, const float f[8]) {
    *reinterpret_cast<uint4 *>(p + j) = f_to_bf16x8(f);
  }
};
template <> struct row_io<false> {
  static constexpr int W = 1;
  __device__ static void load(const __nv_bfloat16 *p, int64_t j, float f[1]) { f[0] = __bfloat162float(p[j]); }
  __device__ static void store(__nv_bfloat16 *p, int64_t j, const float f[1]) { p[j] = __float2bfloat16_rn(f[0]); }
};

/* mode 0: layernorm_mod (p = shift, q = scale); mode 1: rmsnorm (p = w, q unused). */
template <bool VEC, int MODE>
__global__ void __launch_bounds__(NORM_THREADS)
norm_kernel(__nv_bfloat16 *y, const __nv_bfloat16 *x, const __nv_bfloat16 *p,
            const __nv_bfloat16 *q, int64_t C, float eps, float off) {
  typedef row_io<VEC> io;
  constexpr int W = io::W;
  __shared__ float red[NORM_THREADS / 32];
  const __nv_bfloat16 *xr = x + blockIdx.x * C;
  __nv_bfloat16 *yr = y + blockIdx.x * C;
  float f[W], mean = 0.0f;
  if (MODE == 0) {
    float s = 0.0f;
    for (int64_t j = threadIdx.x * W; j < C; j += NORM_THREADS * W) {
      io::load(xr, j, f);
#pragma unroll
      for (int k = 0; k < W; k++) s += f[k];
    }
    mean = block_sum(s, red) / (float)C;
  }
  float s2 = 0.0f;
  for (int64_t j = threadIdx.x * W; j < C; j += NORM_THREADS * W) {
    io::load(xr, j, f);
#pragma unroll
    for (int k = 0; k < W; k++) {
      float d = f[k] - mean;
      s2 += d * d;
    }
  }
  const float inv = rsqrtf(block_sum(s2, red) / (float)C + eps);
  for (int64_t j = threadIdx.x * W; j < C; j += NORM_THREADS * W) {
    float a[W], b[W];
    io::load(xr, j, f);
    if (p) io::load(p, j, a);
    if (MODE == 0 && q) io::load(q, j, b);
#pragma unroll
    for (int k = 0; k < W; k++) {
      float v = (f[k] - mean) * inv;
      if (MODE == 0) {
        if (q) v *= 1.0f + b[k];
        if (p) v += a[k];
      } else if (p) {
        v *= off + a[k];
      }
      f[k] = v;
    }
    io::store(yr, j, f);
  }
}

template <int MODE>
static void launch_norm(sana_backend *be, const char *op, sana_tensor *y, const sana_tensor *x,
                        const sana_tensor *p, const sana_tensor *q, float eps, float off) {
  int64_t C = x->ne[x->nd - 1], rows = C ? sana_numel(x) / C : 0;
  if (rows == 0) return;
  if (rows > 0x7fffffff) {
    cuda_fail(be, op, "%lld rows exceed one grid", (long long)rows);
    return;
  }
  cudaStream_t s = cuda_of(be)->stream;
  const void *pp = p ? p->data : nullptr, *qp = q ? q->data : nullptr;
  bool vec = C % 8 == 0 && cuda_aligned16(y->data, x->data, pp) && cuda_aligned16(qp);
  auto yd = (__nv_bfloat16 *)y->data;
  auto xd = (const __nv_bfloat16 *)x->data;
  auto pd = (const __nv_bfloat16 *)pp, qd = (const __nv_bfloat16 *)qp;
  if (vec) norm_kernel<true, MODE><<<(unsigned)rows, NORM_THREADS, 0, s>>>(yd, xd, pd, qd, C, eps, off);
  else norm_kernel<false, MODE><<<(unsigned)rows, NORM_THREADS, 0, s>>>(yd, xd, pd, qd, C, eps, off);
  cuda_after_launch(be, op);
}

static void cuda_layernorm_mod(sana_backend *be, sana_tensor *y, const sana_tensor *x,
                               const sana_tensor *shift, const sana_tensor *scale, float eps) {
  if (!CUDA_DTYPES(be, "layernorm_mod", CUDA_BF16_ONLY, y, x, shift, scale)) return;
  int64_t C = x->ne[x->nd - 1];
  if (sana_numel(y) != sana_numel(x) || (shift && sana_numel(shift) != C) ||
      (scale && sana_numel(scale) != C)) {
    cuda_fail(be, "layernorm_mod", "shapes do not match (C = %lld)", (long long)C);
    return;
  }
  launch_norm<0>(be, "layernorm_mod", y, x, shift, scale, eps, 0.0f);
}

static void cuda_rmsnorm(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                         float eps, float w_offset) {
  if (!CUDA_DTYPES(be, "rmsnorm", CUDA_BF16_ONLY, y, x, w)) return;
  int64_t C = x->ne[x->nd - 1];
  if (sana_numel(y) != sana_numel(x) || (w && sana_numel(w) != C)) {
    cuda_fail(be, "rmsnorm", "shapes do not match (C = %lld)", (long long)C);
    return;
  }
  launch_norm<1>(be, "rmsnorm", y, x, w, nullptr, eps, w_offset);
}

void cuda_install_norm_ops(sana_backend *be) {
  be->layernorm_mod = cuda_layernorm_mod;
  be->rmsnorm = cuda_rmsnorm;
}
