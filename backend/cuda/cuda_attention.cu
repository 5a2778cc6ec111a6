/* Attention, flash-style: o[n,H,Dv] = softmax(scale·q·kᵀ (softcap, + bias, mask))·v, never
 * materialising the n×m scores. GQA: head h reads kv head h / (H/Hk).
 *
 * Fast path (head dims multiples of 8, ≤ 256, 16-byte aligned rows): one block of 4 warps per
 * (64·MT queries, head); each warp owns 16·MT query rows. Key/value tiles of 64 rows stream through
 * shared memory with cp.async, double-buffered. S = Q·Kᵀ and O += P·V run on the tensor cores
 * (mma.sync m16n8k16, bf16 operands, fp32 accumulators); the online softmax works on the
 * accumulator registers, whose layout (PTX ISA, "Matrix fragments for mma.m16n8k16") puts
 * rows g = lane/4 and g + 8, columns 2·(lane%4) + {0,1} of each 8-column tile in each thread,
 * which is also the A-operand layout P needs for the second product. Head dims are padded to
 * a multiple of 16 in shared memory with zeros (cp.async zero-fill), so D = 112 runs as is.
 *
 * Fallback (any head dim ≤ 256): one warp per (query, head), fp32 online softmax over keys.
 * It is slow and exists for odd shapes and as a second implementation to test against. */
#include <math.h>
#include <stdlib.h>

#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/cuda_mma.cuh"

#define FA_BR 64 /* queries per block */
#define FA_BC 64 /* keys per tile */
#define FA_THREADS 128

struct attn_args {
  const __nv_bfloat16 *q, *k, *v, *bias;
  __nv_bfloat16 *o;
  int n, m, H, Hk, D, Dv, group;
  float scale, softcap;
  int causal, window;
};

/* The mask of the CPU reference: query i (of n) sees key j (of m) iff j ≤ i + (m − n), and
 * with a window also j > i + (m − n) − window. */
__device__ __forceinline__ bool attn_masked(const attn_args &a, int i, int j) {
  if (j >= a.m) return true;
  if (!a.causal) return false;
  int lim = i + (a.m - a.n);
  return j > lim || (a.window > 0 && j <= lim - a.window);
}

__device__ __forceinline__ float attn_logit(const attn_args &a, float s, int j) {
  float x = s * a.scale;
  if (a.softcap > 0.0f) x = a.softcap * tanhf(x / a.softcap);
  if (a.bias) x += __bfloat162float(a.bias[j]);
  return x;
}

/* ---- tensor-core path ---- */

#define LOG2E 1.4426950408889634f
__device__ __forceinline__ float fast_exp2(float x) { /* ex2.approx: exp2(-inf) = 0 */
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
/* Copies rows [r0, r0 + R) of a [rows, stride] bf16 matrix (columns [0, width) of each) into
 * shared memory [R][LD]; rows ≥ limit and columns ≥ width become zeros. */
template <int R, int DP>
__device__ __forceinline__ void load_tile(__nv_bfloat16 *s, const __nv_bfloat16 *g, int r0,
                                          int limit, int64_t stride, int width) {
  constexpr int LD = DP + 8, CH = DP / 8, N = R * CH / FA_THREADS;
  static_assert(R * CH % FA_THREADS == 0, "tile chunks must split evenly over the block");
  /* chunk i = threadIdx.x + k·FA_THREADS is (row i / CH, column i % CH); step (r, c) instead
   * of dividing for each chunk */
  constexpr int DR = FA_THREADS / CH, DC = FA_THREADS % CH;
  int r = threadIdx.x / CH, c = threadIdx.x % CH;
#pragma unroll
  for (int k = 0; k < N; k++) {
    bool ok = r0 + r < limit && c * 8 < width;
    const __nv_bfloat16 *src = ok ? g + (int64_t)(r0 + r) * stride + c * 8 : g;
    cp_async16(s + r * LD + c * 8, src, ok);
    r += DR;
    c += DC;
    if (c >= CH) {
      c -= CH;
      r++;
    }
  }
}

/* MT m-tiles of 16 query rows per warp: with MT = 2 each K/V fragment read from shared memory
 * feeds two mma instead of one. The accumulators of 32 rows take all 255 registers (a little
 * spill at D = 112) and allow 2 blocks per SM instead of 3, yet on an H100 the SANA self-
 * attention ran at 227 TFLOP/s with MT = 2 against 181 with MT = 1, so MT = 2 is the default
 * for head dims up to 112 (SANA_CUDA_ATTN_MT=1 selects the other); D = 256 needs MT = 1. */
template <int DP, int MT>
__global__ void __launch_bounds__(FA_THREADS) attn_mma_kernel(attn_args a) {
  constexpr int LD = DP + 8, BR = FA_BR * MT;
  extern __shared__ uint4 smem_raw[];
  __nv_bfloat16 *sQ = reinterpret_cast<__nv_bfloat16 *>(smem_raw);
  __nv_bfloat16 *sK = sQ + BR * LD; /* [2][FA_BC][LD] */
  __nv_bfloat16 *sV = sK + 2 * FA_BC * LD;

  const int q0 = blockIdx.x * BR, h = blockIdx.y, hk = h / a.group;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, tig = lane & 3;
  const int64_t qs = (int64_t)a.H * a.D, ks = (int64_t)a.Hk * a.D, vs = (int64_t)a.Hk * a.Dv;
  const __nv_bfloat16 *qg = a.q + (int64_t)h * a.D, *kg = a.k + (int64_t)hk * a.D,
                      *vg = a.v + (int64_t)hk * a.Dv;

  /* Keys this block can see at all: causal caps the end, a window the start. */
  const int off = a.m - a.n;
  int kv_lo = 0, kv_hi = a.m;
  if (a.causal) {
    int last = min(q0 + BR, a.n) - 1;
    kv_hi = max(0, min(a.m, last + off + 1));
    if (a.window > 0) kv_lo = max(0, q0 + off - a.window + 1);
  }
  const int t_lo = kv_lo / FA_BC, t_hi = kv_hi > kv_lo ? (kv_hi + FA_BC - 1) / FA_BC : t_lo;

  float o[MT][DP / 8][4];
  float mrow[MT][2], lrow[MT][2];
  int qi[MT][2];
  const int r0 = warp * 16 * MT;
#pragma unroll
  for (int mt = 0; mt < MT; mt++) {
#pragma unroll
    for (int i = 0; i < DP / 8; i++) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.0f;
#pragma unroll
    for (int r = 0; r < 2; r++) {
      mrow[mt][r] = -INFINITY;
      lrow[mt][r] = 0.0f;
      qi[mt][r] = q0 + r0 + mt * 16 + g + 8 * r;
    }
  }

  load_tile<BR, DP>(sQ, qg, q0, a.n, qs, a.D);
  if (t_lo < t_hi) {
    load_tile<FA_BC, DP>(sK, kg, t_lo * FA_BC, a.m, ks, a.D);
    load_tile<FA_BC, DP>(sV, vg, t_lo * FA_BC, a.m, vs, a.Dv);
  }
  cp_async_commit();

  for (int t = t_lo; t < t_hi; t++) {
    const int buf = (t - t_lo) & 1, kv0 = t * FA_BC;
    if (t + 1 < t_hi) {
      const int nb = buf ^ 1;
      load_tile<FA_BC, DP>(sK + nb * FA_BC * LD, kg, kv0 + FA_BC, a.m, ks, a.D);
      load_tile<FA_BC, DP>(sV + nb * FA_BC * LD, vg, kv0 + FA_BC, a.m, vs, a.Dv);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const __nv_bfloat16 *cK = sK + buf * FA_BC * LD, *cV = sV + buf * FA_BC * LD;

    /* S[16·MT × 64] = Q_warp · K_tileᵀ */
    float s[MT][FA_BC / 8][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
      for (int j = 0; j < FA_BC / 8; j++) s[mt][j][0] = s[mt][j][1] = s[mt][j][2] = s[mt][j][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < DP / 16; kk++) {
      unsigned qa[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; mt++)
        ldsm_x4(qa[mt], sQ + (r0 + mt * 16 + (lane & 15)) * LD + kk * 16 + (lane >> 4) * 8);
#pragma unroll
      for (int np = 0; np < FA_BC / 16; np++) {
        unsigned kb[4];
        ldsm_x4(kb, cK + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * LD + kk * 16 +
                        ((lane >> 3) & 1) * 8);
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
          mma_bf16(s[mt][2 * np], qa[mt], kb[0], kb[1]);
          mma_bf16(s[mt][2 * np + 1], qa[mt], kb[2], kb[3]);
        }
      }
    }

    /* logits, mask, online softmax (rows g and g + 8 of each 16-row m-tile), in the log2
     * domain so each probability is one ex2. Each option is a uniform branch around a whole
     * loop: inside the loop the compiler would predicate the tanh of the softcap into every
     * element, which once doubled the kernel's instruction count. */
    const bool plain = !a.causal && kv0 + FA_BC <= a.m; /* every key of the tile is visible */
    const bool extra = a.softcap > 0.0f || a.bias;
    const float sc = extra ? a.scale : a.scale * LOG2E;
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
      for (int j = 0; j < FA_BC / 8; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) s[mt][j][e] *= sc;
    if (extra) {
      if (a.softcap > 0.0f) {
        const float cap = a.softcap, icap = 1.0f / a.softcap;
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
          for (int j = 0; j < FA_BC / 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) s[mt][j][e] = cap * tanhf(s[mt][j][e] * icap);
      }
      if (a.bias) {
#pragma unroll
        for (int j = 0; j < FA_BC / 8; j++)
#pragma unroll
          for (int e = 0; e < 2; e++) {
            int key = min(kv0 + j * 8 + 2 * tig + e, a.m - 1); /* keys past m are masked below */
            float b = __bfloat162float(a.bias[key]);
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
              s[mt][j][e] += b;
              s[mt][j][e + 2] += b;
            }
          }
      }
#pragma unroll
      for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int j = 0; j < FA_BC / 8; j++)
#pragma unroll
          for (int e = 0; e < 4; e++) s[mt][j][e] *= LOG2E;
    }
    if (!plain) {
#pragma unroll
      for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int j = 0; j < FA_BC / 8; j++)
#pragma unroll
          for (int e = 0; e < 4; e++)
            if (attn_masked(a, qi[mt][e >> 1], kv0 + j * 8 + 2 * tig + (e & 1))) s[mt][j][e] = -INFINITY;
    }
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
      /* two partial maxima per row shorten the dependency chain */
      float mx[2][2] = {{-INFINITY, -INFINITY}, {-INFINITY, -INFINITY}};
#pragma unroll
      for (int j = 0; j < FA_BC / 8; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) mx[e >> 1][e & 1] = fmaxf(mx[e >> 1][e & 1], s[mt][j][e]);
      float alpha[2], base[2];
#pragma unroll
      for (int r = 0; r < 2; r++) {
        float m = fmaxf(mx[r][0], mx[r][1]);
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
        float mn = fmaxf(mrow[mt][r], m);
        base[r] = mn == -INFINITY ? 0.0f : mn; /* a row with nothing visible yet stays at 0 */
        alpha[r] = fast_exp2(mrow[mt][r] - base[r]);
        mrow[mt][r] = mn;
      }
      float ls[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
#pragma unroll
      for (int j = 0; j < FA_BC / 8; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          float p = fast_exp2(s[mt][j][e] - base[e >> 1]);
          s[mt][j][e] = p;
          ls[e >> 1][e & 1] += p;
        }
#pragma unroll
      for (int r = 0; r < 2; r++) lrow[mt][r] = lrow[mt][r] * alpha[r] + ls[r][0] + ls[r][1];
#pragma unroll
      for (int i = 0; i < DP / 8; i++) {
        o[mt][i][0] *= alpha[0];
        o[mt][i][1] *= alpha[0];
        o[mt][i][2] *= alpha[1];
        o[mt][i][3] *= alpha[1];
      }
    }

    /* O[16·MT × DP] += P · V_tile; P's accumulator layout is the A-operand layout */
#pragma unroll
    for (int kk = 0; kk < FA_BC / 16; kk++) {
      unsigned pa[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; mt++) {
        pa[mt][0] = pack_bf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        pa[mt][1] = pack_bf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        pa[mt][2] = pack_bf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        pa[mt][3] = pack_bf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < DP / 16; dp++) {
        unsigned vb[4];
        ldsm_x4_t(vb, cV + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LD + dp * 16 +
                          (lane >> 4) * 8);
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
          mma_bf16(o[mt][2 * dp], pa[mt], vb[0], vb[1]);
          mma_bf16(o[mt][2 * dp + 1], pa[mt], vb[2], vb[3]);
        }
      }
    }
    __syncthreads(); /* this buffer is refilled two tiles on */
  }
  cp_async_wait<0>();

  const int64_t os = (int64_t)a.H * a.Dv;
#pragma unroll
  for (int mt = 0; mt < MT; mt++) {
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      float l = lrow[mt][r];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      inv[r] = l > 0.0f ? 1.0f / l : 0.0f; /* fully masked rows give 0, as the CPU */
    }
#pragma unroll
    for (int i = 0; i < DP / 8; i++) {
      int d = i * 8 + 2 * tig;
      if (d >= a.Dv) continue;
#pragma unroll
      for (int r = 0; r < 2; r++)
        if (qi[mt][r] < a.n)
          *reinterpret_cast<__nv_bfloat162 *>(a.o + qi[mt][r] * os + (int64_t)h * a.Dv + d) =
              __floats2bfloat162_rn(o[mt][i][2 * r] * inv[r], o[mt][i][2 * r + 1] * inv[r]);
    }
  }
}

template <int DP, int MT> static size_t mma_smem_bytes() {
  return (size_t)(FA_BR * MT + 4 * FA_BC) * (DP + 8) * sizeof(__nv_bfloat16);
}

template <int DP, int MT> static void launch_mma(sana_backend *be, const attn_args &a) {
  cuda_impl *c = cuda_of(be);
  static bool configured = false; /* the attribute is per kernel, per process */
  size_t smem = mma_smem_bytes<DP, MT>();
  if (!configured) {
    if (!CUDA_OK(be, "attention",
                 cudaFuncSetAttribute(attn_mma_kernel<DP, MT>,
                                      cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem)))
      return;
    configured = true;
  }
  dim3 grid((unsigned)((a.n + FA_BR * MT - 1) / (FA_BR * MT)), (unsigned)a.H);
  attn_mma_kernel<DP, MT><<<grid, FA_THREADS, smem, c->stream>>>(a);
}

/* ---- fallback: one warp per (query, head) ---- */

#define SIMPLE_DMAX 256
__global__ void __launch_bounds__(128) attn_simple_kernel(attn_args a) {
  const int64_t wid = blockIdx.x * 4 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (wid >= (int64_t)a.n * a.H) return;
  const int i = (int)(wid / a.H), h = (int)(wid % a.H), hk = h / a.group;
  const __nv_bfloat16 *q = a.q + ((int64_t)i * a.H + h) * a.D;
  float qv[SIMPLE_DMAX / 32], ov[SIMPLE_DMAX / 32];
#pragma unroll
  for (int k = 0; k < SIMPLE_DMAX / 32; k++) {
    int d = lane + 32 * k;
    qv[k] = d < a.D ? __bfloat162float(q[d]) : 0.0f;
    ov[k] = 0.0f;
  }
  float mrun = -INFINITY, l = 0.0f;
  for (int j = 0; j < a.m; j++) {
    if (attn_masked(a, i, j)) continue;
    const __nv_bfloat16 *kr = a.k + ((int64_t)j * a.Hk + hk) * a.D;
    const __nv_bfloat16 *vr = a.v + ((int64_t)j * a.Hk + hk) * a.Dv;
    float dot = 0.0f;
#pragma unroll
    for (int k = 0; k < SIMPLE_DMAX / 32; k++) {
      int d = lane + 32 * k;
      if (d < a.D) dot += qv[k] * __bfloat162float(kr[d]);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    float x = attn_logit(a, dot, j), mn = fmaxf(mrun, x);
    float alpha = __expf(mrun - mn), p = __expf(x - mn);
    l = l * alpha + p;
#pragma unroll
    for (int k = 0; k < SIMPLE_DMAX / 32; k++) {
      int d = lane + 32 * k;
      ov[k] = ov[k] * alpha + (d < a.Dv ? p * __bfloat162float(vr[d]) : 0.0f);
    }
    mrun = mn;
  }
  float inv = l > 0.0f ? 1.0f / l : 0.0f;
  __nv_bfloat16 *o = a.o + ((int64_t)i * a.H + h) * a.Dv;
#pragma unroll
  for (int k = 0; k < SIMPLE_DMAX / 32; k++) {
    int d = lane + 32 * k;
    if (d < a.Dv) o[d] = __float2bfloat16_rn(ov[k] * inv);
  }
}

static void cuda_attention(sana_backend *be, sana_tensor *o, const sana_tensor *q, const sana_tensor *k,
                           const sana_tensor *v, const sana_attn_params *p) {
  if (!CUDA_DTYPES(be, "attention", CUDA_BF16_ONLY, o, q, k, v, p->bias)) return;
  if (q->nd != 3 || k->nd != 3 || v->nd != 3 || o->nd != 3) {
    cuda_fail(be, "attention", "q, k, v and o must be [tokens, heads, dim]");
    return;
  }
  attn_args a;
  a.q = (const __nv_bfloat16 *)q->data;
  a.k = (const __nv_bfloat16 *)k->data;
  a.v = (const __nv_bfloat16 *)v->data;
  a.bias = p->bias ? (const __nv_bfloat16 *)p->bias->data : nullptr;
  a.o = (__nv_bfloat16 *)o->data;
  int64_t n = q->ne[0], m = k->ne[0], H = q->ne[1], Hk = k->ne[1], D = q->ne[2], Dv = v->ne[2];
  if (k->ne[2] != D || v->ne[0] != m || v->ne[1] != Hk || Hk == 0 || H % Hk || o->ne[0] != n ||
      o->ne[1] != H || o->ne[2] != Dv || (p->bias && sana_numel(p->bias) != m)) {
    cuda_fail(be, "attention", "inconsistent shapes");
    return;
  }
  if (D > SIMPLE_DMAX || Dv > SIMPLE_DMAX || n > 0x7fffffff || m > 0x7fffffff || H > 65535) {
    cuda_fail(be, "attention", "unsupported size (head dims %lld/%lld, at most %d; n %lld, m %lld, H %lld)",
              (long long)D, (long long)Dv, SIMPLE_DMAX, (long long)n, (long long)m, (long long)H);
    return;
  }
  if (n == 0 || H == 0) return;
  a.n = (int)n, a.m = (int)m, a.H = (int)H, a.Hk = (int)Hk, a.D = (int)D, a.Dv = (int)Dv;
  a.group = (int)(H / Hk);
  a.scale = p->scale, a.softcap = p->softcap, a.causal = p->causal, a.window = p->window;

  int dmax = D > Dv ? (int)D : (int)Dv;
  bool mma = D % 8 == 0 && Dv % 8 == 0 && cuda_aligned16(a.q, a.k, a.v) && cuda_aligned16(a.o);
  static int mt2 = -1; /* SANA_CUDA_ATTN_MT=1: one m-tile per warp for every head dim */
  if (mt2 < 0) mt2 = !(getenv("SANA_CUDA_ATTN_MT") && atoi(getenv("SANA_CUDA_ATTN_MT")) == 1);
  if (mma && dmax <= 32) mt2 ? launch_mma<32, 2>(be, a) : launch_mma<32, 1>(be, a);
  else if (mma && dmax <= 64) mt2 ? launch_mma<64, 2>(be, a) : launch_mma<64, 1>(be, a);
  else if (mma && dmax <= 112) mt2 ? launch_mma<112, 2>(be, a) : launch_mma<112, 1>(be, a);
  else if (mma) launch_mma<256, 1>(be, a);
  else
    attn_simple_kernel<<<cuda_blocks(n * H, 4), 128, 0, cuda_of(be)->stream>>>(a);
  cuda_after_launch(be, "attention");
}

void cuda_install_attention_op(sana_backend *be) { be->attention = cuda_attention; }
