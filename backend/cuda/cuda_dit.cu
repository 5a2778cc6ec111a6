/* CUDA implementation of the dit family's ops (backend/ops_dit.h), bf16 storage, fp32 math.
 *
 * The layout ops, the GLU and the depthwise conv are one pass each. The temporal conv is one
 * GEMM through be->linear with the three taps stacked along K ([s_{t−1} ‖ s_t ‖ s_{t+1}] against
 * the rearranged weight), then the residual add. The GDN core runs in three kernels, all fp32
 * (upstream's fused kernel rounds its dot operands and num/den to bf16, model-spec §9 item 7;
 * fp32 is closer to the reference):
 *   stats   P, Pz, Â per (head, frame, matrix), the frame's tokens split over a few blocks that
 *           add into a zeroed buffer;
 *   scan    each row of the value × key state evolves on its own (X ← g(X − X·P) + Â), so a
 *           warp owns one row through the forward and the reverse scan; z is one more row
 *           against Pz (symmetric, so z·Pz = Pz·z);
 *   readout num = q_rot·(Ŝ + R̂)ᵀ, den = q_hat·(z + r), o = num / (den + 1e-8) ⊙ SiLU(gate). */
#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"
extern "C" {
#include "backend/ops_dit.h"
}

#define DIT_THREADS 256
typedef __nv_bfloat16 bf16;

static int64_t last_dim(const sana_tensor *t) { return t->nd ? t->ne[t->nd - 1] : 1; }

/* ---- concat_cols ---- */

template <typename I> __global__ void concat_kernel(bf16 *y, const bf16 *a, const bf16 *b, I M, I A, I B) {
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < M * (A + B); i += (I)gridDim.x * blockDim.x) {
    I r = i / (A + B), j = i % (A + B);
    y[i] = j < A ? a[r * A + j] : b[r * B + j - A];
  }
}

static void cuda_concat_cols(sana_backend *be, sana_tensor *y, const sana_tensor *a, const sana_tensor *b) {
  if (!CUDA_DTYPES(be, "dit.concat_cols", CUDA_BF16_ONLY, y, a, b)) return;
  int64_t A = last_dim(a), B = last_dim(b), M = sana_numel(a) / (A ? A : 1);
  if (sana_numel(b) != M * B || sana_numel(y) != M * (A + B)) {
    cuda_fail(be, "dit.concat_cols", "shapes do not match (%lld rows)", (long long)M);
    return;
  }
  if (M * (A + B) == 0) return;
  unsigned blocks = cuda_blocks(M * (A + B), DIT_THREADS);
  cudaStream_t s = cuda_of(be)->stream;
  if (M * (A + B) < ((int64_t)1 << 31))
    concat_kernel<uint32_t><<<blocks, DIT_THREADS, 0, s>>>((bf16 *)y->data, (const bf16 *)a->data,
                                                          (const bf16 *)b->data, M, A, B);
  else
    concat_kernel<int64_t><<<blocks, DIT_THREADS, 0, s>>>((bf16 *)y->data, (const bf16 *)a->data,
                                                         (const bf16 *)b->data, M, A, B);
  cuda_after_launch(be, "dit.concat_cols");
}

/* ---- frame_mean: 32 columns × 8 token lanes per block, one block column per frame ---- */

__global__ void frame_mean_kernel(bf16 *y, const bf16 *x, int64_t S, int64_t C) {
  __shared__ float part[8][33];
  int64_t c = blockIdx.x * 32 + threadIdx.x, t = blockIdx.y;
  float s = 0.0f;
  if (c < C)
    for (int64_t i = threadIdx.y; i < S; i += 8) s += __bfloat162float(x[(t * S + i) * C + c]);
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    for (int k = 1; k < 8; k++) s += part[k][threadIdx.x];
    y[t * C + c] = __float2bfloat16_rn(s / (float)S);
  }
}

static void cuda_frame_mean(sana_backend *be, sana_tensor *y, const sana_tensor *x, int64_t T) {
  if (!CUDA_DTYPES(be, "dit.frame_mean", CUDA_BF16_ONLY, y, x)) return;
  int64_t C = last_dim(x), N = C ? sana_numel(x) / C : 0;
  if (T <= 0 || N % T || sana_numel(y) != T * C || T > 65535) {
    cuda_fail(be, "dit.frame_mean", "x has %lld tokens, not a multiple of %lld frames", (long long)N, (long long)T);
    return;
  }
  if (C == 0) return;
  frame_mean_kernel<<<dim3(cuda_blocks(C, 32), (unsigned)T), dim3(32, 8), 0, cuda_of(be)->stream>>>(
      (bf16 *)y->data, (const bf16 *)x->data, N / T, C);
  cuda_after_launch(be, "dit.frame_mean");
}

/* ---- dwconv3x3: one thread per (token, channel) ---- */

template <int V>
__global__ void dwconv_kernel(bf16 *y, const bf16 *x, const bf16 *w, const bf16 *b, int N, int Hl, int Wl, int Ch) {
  const int S = Hl * Wl, G = Ch / V;
  for (int n = blockIdx.y; n < N; n += gridDim.y) {
    const int t = n / S, h = n % S / Wl, ww = n % Wl;
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < G; j += gridDim.x * blockDim.x) {
      float acc[V], wk[V * 9], xv[V];
      if constexpr (V == 8) {
        if (b) bf16x8_to_f(*(const uint4 *)(b + j * 8), acc);
#pragma unroll
        for (int q = 0; q < 9; q++) bf16x8_to_f(((const uint4 *)(w + (int64_t)j * 72))[q], wk + 8 * q);
      } else {
        acc[0] = b ? __bfloat162float(b[j]) : 0.0f;
#pragma unroll
        for (int q = 0; q < 9; q++) wk[q] = __bfloat162float(w[(int64_t)j * 9 + q]);
      }
      if (!b)
#pragma unroll
        for (int v = 0; v < V; v++) acc[v] = 0.0f;
#pragma unroll
      for (int dy = 0; dy < 3; dy++) {
        int hh = h + dy - 1;
        if (hh < 0 || hh >= Hl) continue;
#pragma unroll
        for (int dx = 0; dx < 3; dx++) {
          int xx = ww + dx - 1;
          if (xx < 0 || xx >= Wl) continue;
          const bf16 *src = x + ((int64_t)t * S + hh * Wl + xx) * Ch + (int64_t)j * V;
          if constexpr (V == 8) bf16x8_to_f(*(const uint4 *)src, xv);
          else xv[0] = __bfloat162float(*src);
#pragma unroll
          for (int v = 0; v < V; v++) acc[v] += wk[v * 9 + dy * 3 + dx] * xv[v];
        }
      }
      bf16 *dst = y + (int64_t)n * Ch + (int64_t)j * V;
      if constexpr (V == 8) *(uint4 *)dst = f_to_bf16x8(acc);
      else *dst = __float2bfloat16_rn(acc[0]);
    }
  }
}

static void cuda_dwconv3x3(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                           const sana_tensor *b, int64_t T, int64_t Hl, int64_t Wl) {
  if (!CUDA_DTYPES(be, "dit.dwconv3x3", CUDA_BF16_ONLY, y, x, w, b)) return;
  int64_t Ch = last_dim(x), N = T * Hl * Wl;
  if (sana_numel(x) != N * Ch || sana_numel(y) != N * Ch || sana_numel(w) != Ch * 9 ||
      (b && sana_numel(b) != Ch) || y->data == x->data) {
    cuda_fail(be, "dit.dwconv3x3", "shapes do not match (%lld tokens, %lld channels)", (long long)N, (long long)Ch);
    return;
  }
  if (N * Ch == 0) return;
  if (N > 0x7fffffff || N * Ch > ((int64_t)1 << 40) || Ch > 0x7fffffff) {
    cuda_fail(be, "dit.dwconv3x3", "%lld tokens of %lld channels exceed the kernel's indexing", (long long)N,
              (long long)Ch);
    return;
  }
  /* eight channels per thread (16-byte loads; the weight's 8x9 taps are 144 aligned bytes) */
  bool vec = Ch % 8 == 0 && cuda_aligned16(y->data, x->data, w->data) && cuda_aligned16(b ? b->data : nullptr);
  int V = vec ? 8 : 1;
  dim3 grid(cuda_blocks(Ch / V, DIT_THREADS), (unsigned)(N < 65535 ? N : 65535));
  void (*kern)(bf16 *, const bf16 *, const bf16 *, const bf16 *, int, int, int, int) =
      vec ? dwconv_kernel<8> : dwconv_kernel<1>;
  kern<<<grid, DIT_THREADS, 0, cuda_of(be)->stream>>>((bf16 *)y->data, (const bf16 *)x->data, (const bf16 *)w->data,
                                                       b ? (const bf16 *)b->data : nullptr, (int)N, (int)Hl, (int)Wl,
                                                       (int)Ch);
  cuda_after_launch(be, "dit.dwconv3x3");
}

/* ---- glu ---- */

template <typename I> __global__ void glu_kernel(bf16 *y, const bf16 *x, I M, I F) {
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < M * F; i += (I)gridDim.x * blockDim.x) {
    I r = i / F, j = i % F;
    const bf16 *xr = x + r * 2 * F;
    y[i] = __float2bfloat16_rn(__bfloat162float(xr[j]) * dev_act(__bfloat162float(xr[F + j]), SANA_ACT_SILU));
  }
}

template <typename I> __global__ void glu8_kernel(uint4 *y, const uint4 *x, I M, I F8) {
  for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < M * F8; i += (I)gridDim.x * blockDim.x) {
    I r = i / F8, j = i % F8;
    float a[8], g[8];
    bf16x8_to_f(x[r * 2 * F8 + j], a);
    bf16x8_to_f(x[r * 2 * F8 + F8 + j], g);
#pragma unroll
    for (int k = 0; k < 8; k++) a[k] *= dev_act(g[k], SANA_ACT_SILU);
    y[i] = f_to_bf16x8(a);
  }
}

static void cuda_glu(sana_backend *be, sana_tensor *y, const sana_tensor *x) {
  if (!CUDA_DTYPES(be, "dit.glu", CUDA_BF16_ONLY, y, x)) return;
  int64_t F2 = last_dim(x), M = F2 ? sana_numel(x) / F2 : 0, F = F2 / 2;
  if (F2 % 2 || sana_numel(y) != M * F) {
    cuda_fail(be, "dit.glu", "x must be [M, 2F] and y [M, F]");
    return;
  }
  if (M * F == 0) return;
  cudaStream_t s = cuda_of(be)->stream;
  bool small = 2 * M * F < ((int64_t)1 << 31);
  if (F % 8 == 0 && cuda_aligned16(y->data, x->data)) {
    unsigned g = cuda_blocks(M * F / 8, DIT_THREADS);
    if (small) glu8_kernel<uint32_t><<<g, DIT_THREADS, 0, s>>>((uint4 *)y->data, (const uint4 *)x->data, M, F / 8);
    else glu8_kernel<int64_t><<<g, DIT_THREADS, 0, s>>>((uint4 *)y->data, (const uint4 *)x->data, M, F / 8);
  } else {
    unsigned g = cuda_blocks(M * F, DIT_THREADS);
    if (small) glu_kernel<uint32_t><<<g, DIT_THREADS, 0, s>>>((bf16 *)y->data, (const bf16 *)x->data, M, F);
    else glu_kernel<int64_t><<<g, DIT_THREADS, 0, s>>>((bf16 *)y->data, (const bf16 *)x->data, M, F);
  }
  cuda_after_launch(be, "dit.glu");
}

/* ---- temporal_conv: one GEMM over the stacked taps ---- */

/* x3[n, k·C + c] = s_in[t−1+k][tok][c] with s_in[−1] = prev (or 0) and s_in[T] = 0. */
__global__ void tconv_stack_kernel(bf16 *x3, const bf16 *s, const bf16 *prev, int T, int S, int C) {
  const bf16 zero = __float2bfloat16_rn(0.0f);
  for (int n = blockIdx.y; n < T * S; n += gridDim.y) {
    const int t = n / S, tok = n % S;
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < 3 * C; j += gridDim.x * blockDim.x) {
      int k = j / C, c = j - k * C, ts = t - 1 + k;
      bf16 v = zero;
      if (ts >= 0 && ts < T) v = s[((int64_t)ts * S + tok) * C + c];
      else if (ts < 0 && prev) v = prev[(int64_t)tok * C + c];
      x3[(int64_t)n * 3 * C + j] = v;
    }
  }
}

/* w3[o, k·C + c] = w[o, c, k, 0] */
__global__ void tconv_weight_kernel(bf16 *w3, const bf16 *w, int C) {
  for (int o = blockIdx.y; o < C; o += gridDim.y)
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < 3 * C; j += gridDim.x * blockDim.x) {
      int k = j / C, c = j - k * C;
      w3[(int64_t)o * 3 * C + j] = w[((int64_t)o * C + c) * 3 + k];
    }
}

static void cuda_temporal_conv(sana_backend *be, sana_tensor *y, const sana_tensor *s, const sana_tensor *w,
                               const sana_tensor *prev, int64_t T) {
  if (!CUDA_DTYPES(be, "dit.temporal_conv", CUDA_BF16_ONLY, y, s, w, prev)) return;
  int64_t C = last_dim(s), N = C ? sana_numel(s) / C : 0, S = T > 0 ? N / T : 0;
  if (T <= 0 || N % T || sana_numel(y) != N * C || sana_numel(w) != C * C * 3 ||
      (prev && sana_numel(prev) != S * C) || y->data == s->data) {
    cuda_fail(be, "dit.temporal_conv", "shapes do not match (%lld tokens, %lld frames, %lld channels)", (long long)N,
              (long long)T, (long long)C);
    return;
  }
  if (N * C == 0) return;
  if (N > 0x7fffffff || 3 * C > 0x7fffffff) {
    cuda_fail(be, "dit.temporal_conv", "%lld tokens of %lld channels exceed the kernel's indexing", (long long)N,
              (long long)C);
    return;
  }
  size_t xb = (size_t)(N * 3 * C) * sizeof(bf16), wb = (size_t)(3 * C * C) * sizeof(bf16);
  void *x3 = be->alloc(be, xb), *w3 = be->alloc(be, wb);
  if (!x3 || !w3) {
    if (x3) be->free(be, x3);
    if (w3) be->free(be, w3);
    cuda_fail(be, "dit.temporal_conv", "out of device memory for the stacked taps (%zu bytes)", xb + wb);
    return;
  }
  cudaStream_t st = cuda_of(be)->stream;
  unsigned gx = cuda_blocks(3 * C, DIT_THREADS);
  tconv_stack_kernel<<<dim3(gx, (unsigned)(N < 65535 ? N : 65535)), DIT_THREADS, 0, st>>>(
      (bf16 *)x3, (const bf16 *)s->data, prev ? (const bf16 *)prev->data : nullptr, (int)T, (int)S, (int)C);
  tconv_weight_kernel<<<dim3(gx, (unsigned)(C < 65535 ? C : 65535)), DIT_THREADS, 0, st>>>(
      (bf16 *)w3, (const bf16 *)w->data, (int)C);
  cuda_after_launch(be, "dit.temporal_conv");
  int64_t xne[2] = {N, 3 * C}, wne[2] = {C, 3 * C}, yne[2] = {N, C};
  sana_tensor xt = sana_tensor_make(SANA_BF16, x3, 2, xne), wt = sana_tensor_make(SANA_BF16, w3, 2, wne);
  sana_tensor yt = sana_tensor_make(SANA_BF16, y->data, 2, yne), sv = sana_tensor_make(SANA_BF16, s->data, 2, yne);
  be->linear(be, &yt, &xt, &wt, NULL, SANA_ACT_NONE);
  be->binary(be, &yt, &yt, &sv, SANA_ADD);
  /* the allocator reuses freed blocks only for later work on the same stream */
  be->free(be, x3);
  be->free(be, w3);
}

/* ---- gdn_chunk ---- */

#define GDN_DMAX 128 /* head dims up to this (SANA: 112) */
#define GDN_SPLIT 4  /* blocks sharing one frame's tokens in the statistics */
#define GDN_TOK 32   /* tokens per shared-memory tile in the statistics */
#define GDN_RT 64    /* tokens per block in the readout */

/* stats layout, fp32: mats[h][t][m][D][D] with m = 0: P (β k_rot k_rotᵀ), 1: Pz (β k_hat k_hatᵀ),
 * 2: Â (β v k_rotᵀ); bvec[h][t][D] = Σ β k_hat. Grid (H·T, 3, GDN_SPLIT), 16×16 threads, thread
 * (ty, tx) owns rows and columns 4·ty + {0..3, 64..67} × 4·tx + {0..3, 64..67} (float4 reads). */
__global__ void __launch_bounds__(256, 2) gdn_stats_kernel(float *mats, float *bvec, const bf16 *kh, const bf16 *kr,
                                                        const bf16 *v, const bf16 *beta, int64_t T, int64_t S,
                                                        int H, int D) {
  __shared__ __align__(16) float L[GDN_TOK][GDN_DMAX], R[GDN_TOK][GDN_DMAX];
  const int h = blockIdx.x / (int)T, t = blockIdx.x % (int)T, m = blockIdx.y;
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * 16 + tx;
  const int64_t HD = (int64_t)H * D, per = (S + GDN_SPLIT - 1) / GDN_SPLIT;
  const int64_t s0 = blockIdx.z * per, s1 = s0 + per < S ? s0 + per : S;
  const bf16 *lsrc = m == 0 ? kr : m == 1 ? kh : v, *rsrc = m == 1 ? kh : kr;
  float acc[8][8] = {};
  float bacc = 0.0f;
  for (int64_t c0 = s0; c0 < s1; c0 += GDN_TOK) {
    for (int e = tid; e < GDN_TOK * GDN_DMAX; e += 256) {
      int r = e / GDN_DMAX, d = e % GDN_DMAX;
      int64_t s = c0 + r;
      float l = 0.0f, rr = 0.0f;
      if (s < s1 && d < D) {
        int64_t n = t * S + s, off = n * HD + (int64_t)h * D + d;
        float b = __bfloat162float(beta[n * H + h]);
        l = b * __bfloat162float(lsrc[off]);
        rr = __bfloat162float(rsrc[off]);
      }
      L[r][d] = l;
      R[r][d] = rr;
    }
    __syncthreads();
    if (m == 1 && tid < D)
      for (int r = 0; r < GDN_TOK; r++) bacc += L[r][tid];
#pragma unroll 4
    for (int r = 0; r < GDN_TOK; r++) {
      const float4 l0 = *(const float4 *)&L[r][4 * ty], l1 = *(const float4 *)&L[r][64 + 4 * ty];
      const float4 r0 = *(const float4 *)&R[r][4 * tx], r1 = *(const float4 *)&R[r][64 + 4 * tx];
      const float a[8] = {l0.x, l0.y, l0.z, l0.w, l1.x, l1.y, l1.z, l1.w};
      const float b[8] = {r0.x, r0.y, r0.z, r0.w, r1.x, r1.y, r1.z, r1.w};
#pragma unroll
      for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
  float *dst = mats + (((int64_t)h * T + t) * 3 + m) * D * D;
#pragma unroll
  for (int i = 0; i < 8; i++)
#pragma unroll
    for (int j = 0; j < 8; j++) {
      int a = (i & 3) + (i >> 2) * 64 + 4 * ty, b = (j & 3) + (j >> 2) * 64 + 4 * tx;
      if (a < D && b < D) atomicAdd(dst + a * D + b, acc[i][j]);
    }
  if (m == 1 && tid < D) atomicAdd(bvec + ((int64_t)h * T + t) * D + tid, bacc);
}

/* One warp per state row: rows 0..D−1 of Ŝ (against P, adding Â's row), row D is z (against
 * Pz, adding b). hist[h][t][D+1][D] receives forward + reverse. */
__global__ void __launch_bounds__(256) gdn_scan_kernel(float *hist, const float *mats, const float *bvec,
                                                       const bf16 *g, float *skv, float *sz, int64_t T, int H,
                                                       int D, int save) {
  __shared__ float xs[8][GDN_DMAX];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, h = blockIdx.x;
  const int row = blockIdx.y * 8 + warp;
  if (row > D) return; /* whole warps leave; no block barrier below */
  const bool zrow = row == D;
  float *x = xs[warp];
  for (int b = lane; b < D; b += 32) x[b] = zrow ? sz[(int64_t)h * D + b] : skv[((int64_t)h * D + row) * D + b];
  __syncwarp();
  float nx[GDN_DMAX / 32];
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      if (save)
        for (int b = lane; b < D; b += 32) {
          if (zrow) sz[(int64_t)h * D + b] = x[b];
          else skv[((int64_t)h * D + row) * D + b] = x[b];
        }
      __syncwarp();
      for (int b = lane; b < D; b += 32) x[b] = 0.0f;
      __syncwarp();
    }
    for (int64_t step = 0; step < T; step++) {
      int64_t t = pass == 0 ? step : T - 1 - step;
      float *hrow = hist + (((int64_t)h * T + t) * (D + 1) + row) * D;
      if (pass == 1)
        for (int b = lane; b < D; b += 32) hrow[b] += x[b];
      const float *base = mats + ((int64_t)h * T + t) * 3 * D * D;
      const float *M = base + (zrow ? D * D : 0);
      const float *add = zrow ? bvec + ((int64_t)h * T + t) * D : base + 2 * D * D + (int64_t)row * D;
      float gt = __bfloat162float(g[t * H + h]);
#pragma unroll
      for (int c = 0; c < GDN_DMAX / 32; c++) nx[c] = 0.0f;
#pragma unroll 8 /* independent loads in flight: the loop is latency-bound otherwise */
      for (int k = 0; k < D; k++) {
        float xk = x[k];
#pragma unroll
        for (int c = 0; c < GDN_DMAX / 32; c++) {
          int b = lane + 32 * c;
          if (b < D) nx[c] += xk * M[(int64_t)k * D + b];
        }
      }
      __syncwarp();
#pragma unroll
      for (int c = 0; c < GDN_DMAX / 32; c++) {
        int b = lane + 32 * c;
        if (b < D) x[b] = gt * (x[b] - nx[c]) + add[b];
      }
      __syncwarp();
      if (pass == 0)
        for (int b = lane; b < D; b += 32) hrow[b] = x[b];
    }
  }
}

/* Grid (H·T, token tiles); 16×16 threads, thread (ty, tx) owns tokens ty + 16i and outputs
 * tx + 16j. Shared: the frame's history Ŝ+R̂ [D][D+1] (padded against bank conflicts), z+r,
 * the tile's q_rot [GDN_RT][D] and den. */
__global__ void __launch_bounds__(256) gdn_readout_kernel(bf16 *o, const float *hist, const bf16 *qh,
                                                          const bf16 *qr, const bf16 *gate, int64_t T, int64_t S,
                                                          int H, int D) {
  extern __shared__ float sm[];
  float *Ms = sm, *z = Ms + D * (D + 1), *Q = z + GDN_DMAX, *den = Q + GDN_RT * D;
  const int h = blockIdx.x / (int)T, t = blockIdx.x % (int)T;
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * 16 + tx, warp = tid >> 5, lane = tid & 31;
  const int64_t HD = (int64_t)H * D, s0 = (int64_t)blockIdx.y * GDN_RT;
  const float *hs = hist + ((int64_t)h * T + t) * (D + 1) * D;
  for (int e = tid; e < D * D; e += 256) Ms[(e / D) * (D + 1) + e % D] = hs[e];
  for (int e = tid; e < D; e += 256) z[e] = hs[D * D + e];
  for (int e = tid; e < GDN_RT * D; e += 256) {
    int r = e / D, d = e % D;
    int64_t s = s0 + r;
    Q[e] = s < S ? __bfloat162float(qr[(t * S + s) * HD + (int64_t)h * D + d]) : 0.0f;
  }
  __syncthreads();
  for (int r = warp; r < GDN_RT; r += 8) { /* den per token, one warp each */
    int64_t s = s0 + r;
    float p = 0.0f;
    if (s < S)
      for (int d = lane; d < D; d += 32) p += __bfloat162float(qh[(t * S + s) * HD + (int64_t)h * D + d]) * z[d];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) p += __shfl_xor_sync(0xffffffffu, p, off);
    if (lane == 0) den[r] = p;
  }
  __syncthreads();
  float acc[GDN_RT / 16][GDN_DMAX / 16] = {};
  for (int k = 0; k < D; k++) {
    float q[GDN_RT / 16], mv[GDN_DMAX / 16];
#pragma unroll
    for (int i = 0; i < GDN_RT / 16; i++) q[i] = Q[(ty + 16 * i) * D + k];
#pragma unroll
    for (int j = 0; j < GDN_DMAX / 16; j++) {
      int a = tx + 16 * j;
      mv[j] = a < D ? Ms[a * (D + 1) + k] : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < GDN_RT / 16; i++)
#pragma unroll
      for (int j = 0; j < GDN_DMAX / 16; j++) acc[i][j] += q[i] * mv[j];
  }
#pragma unroll
  for (int i = 0; i < GDN_RT / 16; i++) {
    int r = ty + 16 * i;
    int64_t s = s0 + r;
    if (s >= S) continue;
    float inv = 1.0f / (den[r] + 1e-8f);
#pragma unroll
    for (int j = 0; j < GDN_DMAX / 16; j++) {
      int a = tx + 16 * j;
      if (a >= D) continue;
      int64_t off = (t * S + s) * HD + (int64_t)h * D + a;
      o[off] = __float2bfloat16_rn(acc[i][j] * inv * dev_act(__bfloat162float(gate[off]), SANA_ACT_SILU));
    }
  }
}

static void cuda_gdn_chunk(sana_backend *be, sana_tensor *o, const sana_tensor *q_hat, const sana_tensor *q_rot,
                           const sana_tensor *k_hat, const sana_tensor *k_rot, const sana_tensor *v,
                           const sana_tensor *beta, const sana_tensor *g, const sana_tensor *gate,
                           sana_tensor *state_kv, sana_tensor *state_z, int64_t T, int save) {
  const char *op = "dit.gdn_chunk";
  if (!CUDA_DTYPES(be, op, CUDA_BF16_ONLY, o, q_hat, q_rot, k_hat, k_rot, v, beta, g, gate)) return;
  if (!CUDA_DTYPES(be, op, 1u << SANA_F32, state_kv, state_z)) return;
  if (q_hat->nd != 3 || T <= 0 || q_hat->ne[0] % T) {
    cuda_fail(be, op, "q_hat must be [N, H, D] with N a multiple of T = %lld", (long long)T);
    return;
  }
  int64_t N = q_hat->ne[0], H = q_hat->ne[1], D = q_hat->ne[2], S = N / T;
  const sana_tensor *same[] = {o, q_rot, k_hat, k_rot, v, gate};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++)
    if (sana_numel(same[i]) != N * H * D) {
      cuda_fail(be, op, "operand %zu does not have %lld×%lld×%lld elements", i, (long long)N, (long long)H,
                (long long)D);
      return;
    }
  if (sana_numel(beta) != N * H || sana_numel(g) != T * H || sana_numel(state_kv) != H * D * D ||
      sana_numel(state_z) != H * D) {
    cuda_fail(be, op, "beta, g or the state have the wrong size");
    return;
  }
  if (D > GDN_DMAX || D < 1 || H * T > 0x7fffffff || (S + GDN_RT - 1) / GDN_RT > 65535) {
    cuda_fail(be, op, "head dim %lld (at most %d) or %lld tokens per frame out of range", (long long)D, GDN_DMAX,
              (long long)S);
    return;
  }
  if (S == 0) return;
  size_t mats_n = (size_t)(H * T * 3 * D * D), b_n = (size_t)(H * T * D), hist_n = (size_t)(H * T * (D + 1) * D);
  size_t bytes = (mats_n + b_n + hist_n) * sizeof(float);
  float *buf = (float *)be->alloc(be, bytes);
  if (!buf) {
    cuda_fail(be, op, "out of device memory for the frame statistics (%zu bytes)", bytes);
    return;
  }
  float *mats = buf, *bvec = mats + mats_n, *hist = bvec + b_n;
  cudaStream_t st = cuda_of(be)->stream;
  if (!CUDA_OK(be, op, cudaMemsetAsync(buf, 0, (mats_n + b_n) * sizeof(float), st))) {
    be->free(be, buf);
    return;
  }
  gdn_stats_kernel<<<dim3((unsigned)(H * T), 3, GDN_SPLIT), dim3(16, 16), 0, st>>>(
      mats, bvec, (const bf16 *)k_hat->data, (const bf16 *)k_rot->data, (const bf16 *)v->data,
      (const bf16 *)beta->data, T, S, (int)H, (int)D);
  gdn_scan_kernel<<<dim3((unsigned)H, (unsigned)((D + 1 + 7) / 8)), 256, 0, st>>>(
      hist, mats, bvec, (const bf16 *)g->data, (float *)state_kv->data, (float *)state_z->data, T, (int)H, (int)D,
      save);
  size_t smem = (size_t)(D * (D + 1) + GDN_DMAX + GDN_RT * D + GDN_RT) * sizeof(float);
  static bool attr_set = false;
  if (!attr_set) {
    CUDA_OK(be, op, cudaFuncSetAttribute(gdn_readout_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int)((GDN_DMAX * (GDN_DMAX + 1) + GDN_DMAX + GDN_RT * GDN_DMAX + GDN_RT) *
                                               sizeof(float))));
    attr_set = true;
  }
  gdn_readout_kernel<<<dim3((unsigned)(H * T), (unsigned)((S + GDN_RT - 1) / GDN_RT)), dim3(16, 16), smem, st>>>(
      (bf16 *)o->data, hist, (const bf16 *)q_hat->data, (const bf16 *)q_rot->data, (const bf16 *)gate->data, T, S,
      (int)H, (int)D);
  cuda_after_launch(be, op);
  be->free(be, buf);
}

static const struct sana_dit_ops cuda_dit_ops = {
    /* .concat_cols = */ cuda_concat_cols,
    /* .frame_mean = */ cuda_frame_mean,
    /* .dwconv3x3 = */ cuda_dwconv3x3,
    /* .glu = */ cuda_glu,
    /* .temporal_conv = */ cuda_temporal_conv,
    /* .gdn_chunk = */ cuda_gdn_chunk,
};

void cuda_install_dit_ops(sana_backend *be) { be->dit = &cuda_dit_ops; }
