/* CUDA implementation of the dit family's ops (backend/ops_dit.h), bf16 storage, fp32 math.
 *
 * The layout ops and the GLU are one pass each. The depthwise conv (alone, or with the SiLU
 * before it and the GLU after it fused, as GLUMBConv uses it) walks each column of a frame
 * top to bottom, one thread per (8 channels, column), so every input row is read from memory
 * once and the three rows of the window live in registers. The temporal conv is one GEMM over
 * the taps interleaved per channel (x3[n, 3c + k] = s_in[t−1+k][c]), which is the checkpoint's
 * own [C, C, 3] weight layout read as [C, 3C]: no weight rearrangement, and the residual s
 * enters through cuBLASLt's C operand. The GDN core is in cuda_dit_gdn.cu. */
#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/cuda_mma.cuh"
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

/* ---- dwconv3x3 and dwconv_glu: one thread per (V channels, column), walking the rows ---- */

#define DW_COLS 4 /* columns per block (blockDim.y); blockDim.x = 32 channel groups */

template <int V> __device__ __forceinline__ void ld_bf16v(const bf16 *p, float f[V]) {
  if constexpr (V == 8) {
    bf16x8_to_f(*(const uint4 *)p, f);
  } else if constexpr (V == 4) {
    uint2 u = *(const uint2 *)p;
    const __nv_bfloat162 *h = reinterpret_cast<const __nv_bfloat162 *>(&u);
    float2 a = __bfloat1622float2(h[0]), b = __bfloat1622float2(h[1]);
    f[0] = a.x, f[1] = a.y, f[2] = b.x, f[3] = b.y;
  } else {
#pragma unroll
    for (int v = 0; v < V; v++) f[v] = __bfloat162float(p[v]);
  }
}
template <int V> __device__ __forceinline__ void st_bf16v(bf16 *p, const float f[V]) {
  if constexpr (V == 8) {
    *(uint4 *)p = f_to_bf16x8(f);
  } else if constexpr (V == 4) {
    uint2 u;
    __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&u);
    h[0] = __floats2bfloat162_rn(f[0], f[1]);
    h[1] = __floats2bfloat162_rn(f[2], f[3]);
    *(uint2 *)p = u;
  } else {
#pragma unroll
    for (int v = 0; v < V; v++) p[v] = __float2bfloat16_rn(f[v]);
  }
}

/* SiLU with the fast exponential and division (relative error ~1e-7, far below bf16's) */
__device__ __forceinline__ float silu_fast(float x) { return __fdividef(x, 1.0f + __expf(-x)); }

/* One finished output row's P·V lanes: the conv's values (P = 1), or the GLU of the two halves
 * (P = 2: lanes 0..V−1 the value, V..2V−1 its gate). */
template <int V, int P>
__device__ __forceinline__ void dw_store(bf16 *row, const float *acc) {
  if constexpr (P == 1) {
    st_bf16v<V>(row, acc);
  } else {
    float o[V];
#pragma unroll
    for (int v = 0; v < V; v++) o[v] = acc[v] * silu_fast(acc[V + v]);
    st_bf16v<V>(row, o);
  }
}

/* P = 1: y[.., Ch] = dwconv(x); P = 2 (GLU): the thread convolves channels c and c + F of
 * SiLU(x[.., 2F]) and writes y[.., F] = a ⊙ SiLU(g). Input row r feeds output rows r+1 (tap row
 * 0), r (1) and r−1 (2): three running sums, the oldest complete (and stored) once row r has been
 * added. Grid (⌈G/32⌉, ⌈Wl/4⌉, T), G = (Ch/P)/V channel groups. */
template <int V, int P>
__global__ void __launch_bounds__(32 * DW_COLS) dwconv_kernel(bf16 *y, const bf16 *x, const bf16 *w, const bf16 *b,
                                                            int Hl, int Wl, int G) {
  constexpr int PV = P * V;
  const int j = blockIdx.x * 32 + threadIdx.x, col = blockIdx.y * DW_COLS + threadIdx.y, t = blockIdx.z;
  if (j >= G || col >= Wl) return;
  const int64_t F = (int64_t)G * V, Cin = F * P, frame = (int64_t)t * Hl * Wl;
  float wk[PV * 9], bias[PV];
#pragma unroll
  for (int p = 0; p < P; p++)
#pragma unroll
    for (int v = 0; v < V; v++) {
      const int64_t c = p * F + (int64_t)j * V + v;
#pragma unroll
      for (int q = 0; q < 9; q++) wk[(p * V + v) * 9 + q] = __bfloat162float(w[c * 9 + q]);
      bias[p * V + v] = b ? __bfloat162float(b[c]) : 0.0f;
    }
  const bool has_l = col > 0, has_r = col + 1 < Wl;
  /* the three inputs of row r: columns col−1, col, col+1 (zero outside the frame) */
  auto load_row = [&](int r, float xv[3][PV]) {
#pragma unroll
    for (int dx = 0; dx < 3; dx++) {
      bool ok = dx == 1 || (dx == 0 ? has_l : has_r);
#pragma unroll
      for (int p = 0; p < P; p++) {
        const bf16 *src = x + (frame + (int64_t)r * Wl + col + dx - 1) * Cin + p * F + (int64_t)j * V;
        if (ok) ld_bf16v<V>(src, xv[dx] + p * V);
        else
#pragma unroll
          for (int v = 0; v < V; v++) xv[dx][p * V + v] = 0.0f;
      }
    }
  };
  auto store = [&](int r, const float acc[PV]) {
    dw_store<V, P>(y + (frame + (int64_t)r * Wl + col) * F + (int64_t)j * V, acc);
  };
  float prev[PV], cur[PV], xv[3][PV], xn[3][PV]; /* prev: output r−1, cur: output r */
#pragma unroll
  for (int v = 0; v < PV; v++) cur[v] = bias[v], prev[v] = 0.0f;
  load_row(0, xv);
  for (int r = 0; r < Hl; r++) {
    if (r + 1 < Hl) load_row(r + 1, xn); /* in flight while row r is used */
    if (P == 2) /* the SiLU here, not in load_row, which would wait for the loads */
#pragma unroll
      for (int dx = 0; dx < 3; dx++)
#pragma unroll
        for (int v = 0; v < PV; v++) xv[dx][v] = silu_fast(xv[dx][v]);
    float nxt[PV];
#pragma unroll
    for (int v = 0; v < PV; v++) {
      float a0 = bias[v], a1 = cur[v], a2 = prev[v];
#pragma unroll
      for (int dx = 0; dx < 3; dx++) {
        float xi = xv[dx][v];
        a0 += wk[v * 9 + dx] * xi;     /* tap row 0 -> output r + 1 */
        a1 += wk[v * 9 + 3 + dx] * xi; /* tap row 1 -> output r */
        a2 += wk[v * 9 + 6 + dx] * xi; /* tap row 2 -> output r − 1 */
      }
      nxt[v] = a0, cur[v] = a1, prev[v] = a2;
    }
    if (r > 0) store(r - 1, prev);
#pragma unroll
    for (int v = 0; v < PV; v++) {
      prev[v] = cur[v], cur[v] = nxt[v];
#pragma unroll
      for (int dx = 0; dx < 3; dx++) xv[dx][v] = xn[dx][v];
    }
  }
  store(Hl - 1, prev);
}

/* The fast path of both forms: a block owns 32 groups of 8 input channels (8 of x for P = 1, 4
 * of each half for P = 2) and 8 output columns, and walks the rows with the next DWP_NS − 1
 * rows (plus a halo column each side) in flight through cp.async. Each row is converted to
 * fp32 (and SiLU'd) once in shared memory, then every thread convolves its (column, group). */
#define DWP_G 32
#define DWP_CW 8
#define DWP_NS 4
#define DWP_CELLS ((DWP_CW + 2) * DWP_G)

template <int P>
__global__ void __launch_bounds__(DWP_G *DWP_CW, 2) dwconv_pipe_kernel(bf16 *y, const bf16 *x, const bf16 *w,
                                                                      const bf16 *b, int Hl, int Wl, int G) {
  constexpr int V = 8 / P; /* channels per part */
  __shared__ __align__(16) bf16 raw[DWP_NS][DWP_CELLS * 8];
  __shared__ __align__(16) float cv[DWP_CELLS * 8];
  __shared__ __align__(16) float sbias[DWP_G * 8];
  const int gx = threadIdx.x, cy = threadIdx.y, tid = cy * DWP_G + gx;
  const int g0 = blockIdx.x * DWP_G, c0 = blockIdx.y * DWP_CW, t = blockIdx.z;
  const int64_t F = (int64_t)G * V, Cin = F * P, frame = (int64_t)t * Hl * Wl;
  const int j = g0 + gx, col = c0 + cy;
  const bool active = j < G && col < Wl;

  float wk[8 * 9];
#pragma unroll
  for (int p = 0; p < P; p++)
#pragma unroll
    for (int v = 0; v < V; v++) {
      const int64_t c = p * F + (int64_t)j * V + v;
#pragma unroll
      for (int q = 0; q < 9; q++) wk[(p * V + v) * 9 + q] = j < G ? __bfloat162float(w[c * 9 + q]) : 0.0f;
    }
  for (int i = tid; i < DWP_G * 8; i += DWP_G * DWP_CW) {
    int gg = g0 + i / 8, pv = i % 8;
    sbias[i] = b && gg < G ? __bfloat162float(b[(pv / V) * F + (int64_t)gg * V + pv % V]) : 0.0f;
  }

  /* row r of the tile (frame columns c0 − 1 .. c0 + CW) into stage r % NS; zeros outside */
  auto issue = [&](int r) {
    if (r < Hl) {
      bf16 *s = raw[r % DWP_NS];
      for (int i = tid; i < DWP_CELLS; i += DWP_G * DWP_CW) {
        const int fc = c0 - 1 + i / DWP_G, jj = g0 + i % DWP_G;
        const bool ok = fc >= 0 && fc < Wl && jj < G;
        const bf16 *src = ok ? x + (frame + (int64_t)r * Wl + fc) * Cin + (int64_t)jj * V : x;
        if constexpr (P == 1) {
          cp_async16(s + i * 8, src, ok);
        } else {
          cp_async8(s + i * 8, src, ok);
          cp_async8(s + i * 8 + 4, ok ? src + F : x, ok);
        }
      }
    }
    cp_async_commit();
  };
#pragma unroll
  for (int r = 0; r < DWP_NS - 1; r++) issue(r);

  float prev[8] = {}, cur[8] = {}; /* prev: output r − 1, cur: output r (bias when a row starts) */
  for (int r = 0; r < Hl; r++) {
    cp_async_wait<DWP_NS - 2>();
    __syncthreads(); /* row r landed; cv and stage (r − 1) % NS are free */
    issue(r + DWP_NS - 1);
    const bf16 *s = raw[r % DWP_NS];
    for (int i = tid; i < DWP_CELLS; i += DWP_G * DWP_CW) {
      float f[8];
      bf16x8_to_f(*(const uint4 *)(s + i * 8), f);
      if (P == 2)
#pragma unroll
        for (int v = 0; v < 8; v++) f[v] = silu_fast(f[v]);
      *(float4 *)(cv + i * 8) = make_float4(f[0], f[1], f[2], f[3]);
      *(float4 *)(cv + i * 8 + 4) = make_float4(f[4], f[5], f[6], f[7]);
    }
    __syncthreads();
    if (!active) continue;
    float nxt[8];
#pragma unroll
    for (int v = 0; v < 8; v++) {
      nxt[v] = sbias[gx * 8 + v];
      if (r == 0) cur[v] = nxt[v], prev[v] = 0.0f;
    }
#pragma unroll
    for (int dx = 0; dx < 3; dx++) {
      const float *c = cv + ((cy + dx) * DWP_G + gx) * 8;
      const float4 lo = *(const float4 *)c, hi = *(const float4 *)(c + 4);
      const float xi[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
      for (int v = 0; v < 8; v++) {
        nxt[v] += wk[v * 9 + dx] * xi[v];      /* tap row 0 -> output r + 1 */
        cur[v] += wk[v * 9 + 3 + dx] * xi[v];  /* tap row 1 -> output r */
        prev[v] += wk[v * 9 + 6 + dx] * xi[v]; /* tap row 2 -> output r − 1 */
      }
    }
    bf16 *row = y + (frame + (int64_t)(r - 1) * Wl + col) * F + (int64_t)j * V;
    if (r > 0) dw_store<V, P>(row, prev);
#pragma unroll
    for (int v = 0; v < 8; v++) prev[v] = cur[v], cur[v] = nxt[v];
  }
  cp_async_wait<0>();
  if (active) dw_store<V, P>(y + (frame + (int64_t)(Hl - 1) * Wl + col) * F + (int64_t)j * V, prev);
}

/* Checks and launches both forms; F = output channels (Ch for P = 1, half of x's for P = 2). */
static void dwconv_launch(sana_backend *be, const char *op, int P, sana_tensor *y, const sana_tensor *x,
                          const sana_tensor *w, const sana_tensor *b, int64_t T, int64_t Hl, int64_t Wl) {
  if (!CUDA_DTYPES(be, op, CUDA_BF16_ONLY, y, x, w, b)) return;
  int64_t Cin = last_dim(x), F = Cin / P, N = T * Hl * Wl;
  if (T < 0 || Hl < 0 || Wl < 0 || Cin % P || sana_numel(x) != N * Cin || sana_numel(y) != N * F ||
      sana_numel(w) != Cin * 9 || (b && sana_numel(b) != Cin) || y->data == x->data) {
    cuda_fail(be, op, "shapes do not match (%lld tokens, %lld channels)", (long long)N, (long long)Cin);
    return;
  }
  if (N * Cin == 0) return;
  if (N > 0x7fffffff || N * Cin > ((int64_t)1 << 40) || Cin > 0x7fffffff) {
    cuda_fail(be, op, "%lld tokens of %lld channels exceed the kernel's indexing", (long long)N, (long long)Cin);
    return;
  }
  /* 16-byte accesses of eight channels (four per half with the GLU, whose thread holds both) */
  const int VV = P == 1 ? 8 : 4;
  bool vec = F % VV == 0 && ((uintptr_t)y->data | (uintptr_t)x->data) % (2 * VV) == 0;
  int64_t G = vec ? F / VV : F;
  if (T > 65535 || G > ((int64_t)32 << 20) || Wl > 65535) {
    cuda_fail(be, op, "%lld frames of width %lld exceed the grid", (long long)T, (long long)Wl);
    return;
  }
  cudaStream_t st = cuda_of(be)->stream;
  const bf16 *bp = b ? (const bf16 *)b->data : nullptr;
  if (vec) {
    dim3 grid(cuda_blocks(G, DWP_G), (unsigned)((Wl + DWP_CW - 1) / DWP_CW), (unsigned)T), block(DWP_G, DWP_CW);
    void (*kern)(bf16 *, const bf16 *, const bf16 *, const bf16 *, int, int, int) =
        P == 1 ? dwconv_pipe_kernel<1> : dwconv_pipe_kernel<2>;
    kern<<<grid, block, 0, st>>>((bf16 *)y->data, (const bf16 *)x->data, (const bf16 *)w->data, bp, (int)Hl, (int)Wl,
                                 (int)G);
  } else {
    dim3 grid(cuda_blocks(G, 32), (unsigned)((Wl + DW_COLS - 1) / DW_COLS), (unsigned)T), block(32, DW_COLS);
    void (*kern)(bf16 *, const bf16 *, const bf16 *, const bf16 *, int, int, int) =
        P == 1 ? dwconv_kernel<1, 1> : dwconv_kernel<1, 2>;
    kern<<<grid, block, 0, st>>>((bf16 *)y->data, (const bf16 *)x->data, (const bf16 *)w->data, bp, (int)Hl, (int)Wl,
                                 (int)G);
  }
  cuda_after_launch(be, op);
}

static void cuda_dwconv3x3(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                           const sana_tensor *b, int64_t T, int64_t Hl, int64_t Wl) {
  dwconv_launch(be, "dit.dwconv3x3", 1, y, x, w, b, T, Hl, Wl);
}

static void cuda_dwconv_glu(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                            const sana_tensor *b, int64_t T, int64_t Hl, int64_t Wl) {
  dwconv_launch(be, "dit.dwconv_glu", 2, y, x, w, b, T, Hl, Wl);
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

/* ---- temporal_conv: one GEMM over the interleaved taps ---- */

/* x3[n, 3c + k] = s_in[t−1+k][tok][c] with s_in[−1] = prev (or 0) and s_in[T] = 0; V channels
 * per thread (3V outputs, contiguous). Grid-stride over tokens in y. */
template <int V> __global__ void tconv_stack_kernel(bf16 *x3, const bf16 *s, const bf16 *prev, int T, int S, int C) {
  const int G = C / V;
  for (int n = blockIdx.y; n < T * S; n += gridDim.y) {
    const int t = n / S, tok = n % S;
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < G; j += gridDim.x * blockDim.x) {
      bf16 out[3 * V];
#pragma unroll
      for (int k = 0; k < 3; k++) {
        const int ts = t - 1 + k;
        const bf16 *src = ts >= 0 && ts < T ? s + ((int64_t)ts * S + tok) * C : ts < 0 && prev ? prev + (int64_t)tok * C : nullptr;
        bf16 v[V];
        if constexpr (V == 8) {
          uint4 u = src ? *(const uint4 *)(src + j * 8) : make_uint4(0, 0, 0, 0);
          *(uint4 *)v = u;
        } else {
          v[0] = src ? src[j] : __float2bfloat16_rn(0.0f);
        }
#pragma unroll
        for (int c = 0; c < V; c++) out[3 * c + k] = v[c];
      }
      bf16 *dst = x3 + (int64_t)n * 3 * C + (int64_t)j * 3 * V;
      if constexpr (V == 8) {
#pragma unroll
        for (int q = 0; q < 3; q++) ((uint4 *)dst)[q] = ((const uint4 *)out)[q];
      } else {
#pragma unroll
        for (int q = 0; q < 3; q++) dst[q] = out[q];
      }
    }
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
  size_t xb = (size_t)(N * 3 * C) * sizeof(bf16);
  void *x3 = be->alloc(be, xb);
  if (!x3) {
    cuda_fail(be, "dit.temporal_conv", "out of device memory for the stacked taps (%zu bytes)", xb);
    return;
  }
  cudaStream_t st = cuda_of(be)->stream;
  bool vec = C % 8 == 0 && cuda_aligned16(x3, s->data, prev ? prev->data : nullptr);
  int64_t G = vec ? C / 8 : C;
  dim3 grid(cuda_blocks(G, DIT_THREADS), (unsigned)(N < 65535 ? N : 65535));
  if (vec)
    tconv_stack_kernel<8><<<grid, DIT_THREADS, 0, st>>>((bf16 *)x3, (const bf16 *)s->data,
                                                       prev ? (const bf16 *)prev->data : nullptr, (int)T, (int)S, (int)C);
  else
    tconv_stack_kernel<1><<<grid, DIT_THREADS, 0, st>>>((bf16 *)x3, (const bf16 *)s->data,
                                                       prev ? (const bf16 *)prev->data : nullptr, (int)T, (int)S, (int)C);
  cuda_after_launch(be, "dit.temporal_conv");
  /* y = x3 · w[C, 3C]ᵀ + s */
  int64_t xne[2] = {N, 3 * C}, wne[2] = {C, 3 * C}, yne[2] = {N, C};
  sana_tensor xt = sana_tensor_make(SANA_BF16, x3, 2, xne), wt = sana_tensor_make(SANA_BF16, w->data, 2, wne);
  sana_tensor yt = sana_tensor_make(SANA_BF16, y->data, 2, yne), sv = sana_tensor_make(SANA_BF16, s->data, 2, yne);
  cuda_linear_acc(be, "dit.temporal_conv", &yt, &xt, &wt, &sv);
  /* the allocator reuses freed blocks only for later work on the same stream */
  be->free(be, x3);
}

static const struct sana_dit_ops cuda_dit_ops = {
    /* .concat_cols = */ cuda_concat_cols,
    /* .frame_mean = */ cuda_frame_mean,
    /* .dwconv3x3 = */ cuda_dwconv3x3,
    /* .glu = */ cuda_glu,
    /* .temporal_conv = */ cuda_temporal_conv,
    /* .gdn_chunk = */ cuda_dit_gdn_chunk,
    /* .dwconv_glu = */ cuda_dwconv_glu,
};

void cuda_install_dit_ops(sana_backend *be) { be->dit = &cuda_dit_ops; }
