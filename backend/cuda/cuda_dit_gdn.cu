/* dit.gdn_chunk on the GPU (backend/ops_dit.h, model-spec §4.5): the frame-wise bidirectional
 * Gated DeltaNet core, three kernels.
 *
 *   stats    P = Σ β k_rot k_rotᵀ, Pz = Σ β k_hat k_hatᵀ, Â = Σ β v k_rotᵀ per (head, frame): a
 *            [D × S]·[S × D] product on the tensor cores (mma.sync m16n8k16), bf16 operands with
 *            β·k rounded to bf16 (as upstream's kernel), fp32 accumulation. One block per
 *            64×64 output tile over all the frame's tokens, so every element is written once
 *            (no atomics, no partial sums); the tokens stream through shared memory with a
 *            cp.async pipeline. b = Σ β k_hat stays fp32 (SIMT, from the same tiles).
 *   scan     each row of the value × key state evolves on its own (X ← g(X − X·P) + Â), and
 *            the forward scan (from the cached state) and the reverse one (from zero) are
 *            independent: one block per (head, 16 state rows, direction), z as one more row
 *            against Pz (symmetric, so z·Pz = Pz·z). fp32 throughout, as the state is carried
 *            from chunk to chunk; P_t is staged in shared memory, the next frame's copy in
 *            flight while this one is used. Each direction writes its own history.
 *   readout  num = q_rot·(Ŝ + R̂)ᵀ on the tensor cores (the summed history rounded to bf16 once),
 *            den = q_hat·(z + r) in fp32, o = num / (den + 1e-8) ⊙ SiLU(gate).
 *
 * The error budget (harness tolerance 2e-4 NMSE) is spent on the bf16 operands of the two
 * products, each about one bf16 rounding (1e-6 to 1e-5 of NMSE at the output). */
#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/cuda_mma.cuh"

typedef __nv_bfloat16 bf16;

#define GDN_DMAX 128 /* head dims up to this (SANA: 112) */

/* ---- stats ---- */

#define ST_TOK 32     /* tokens per pipeline stage */
#define ST_LD 72      /* shared row stride of a 64-column tile (+8: conflict-free ldmatrix) */
#define ST_STAGES 3
#define ST_THREADS 128
#define ST_BCHUNK 1024 /* tokens whose β is staged at once */

struct gdn_stats_args {
  float *mats, *bvec; /* mats [H][T][3][D][D] (P, Pz, Â), bvec [H][T][D] */
  const bf16 *kh, *kr, *v, *beta;
  int T, S, H, D, rt; /* rt: 64-wide row (and column) tiles per matrix */
};

/* Copies tokens [tok, tok + 32) (of n valid), columns [c0, c0 + 64) of one head's [tokens, D]
 * slice (row stride ld) into a [32][ST_LD] tile; everything outside becomes zero. */
template <bool VEC>
__device__ __forceinline__ void st_load(bf16 *s, const bf16 *g, int tok, int n, int64_t ld, int c0, int D) {
  if (VEC) {
#pragma unroll
    for (int k = 0; k < ST_TOK * 8 / ST_THREADS; k++) {
      int i = threadIdx.x + k * ST_THREADS, r = i >> 3, c = c0 + (i & 7) * 8;
      bool ok = tok + r < n && c < D;
      cp_async16(s + r * ST_LD + (i & 7) * 8, ok ? g + (int64_t)(tok + r) * ld + c : g, ok);
    }
  } else {
    for (int i = threadIdx.x; i < ST_TOK * 64; i += ST_THREADS) {
      int r = i >> 6, c = c0 + (i & 63);
      s[r * ST_LD + (i & 63)] = tok + r < n && c < D ? g[(int64_t)(tok + r) * ld + c] : __float2bfloat16_rn(0.0f);
    }
  }
}

/* Grid (H·T, 3 matrices, rt²), 4 warps in 2×2, each 32 rows × 32 columns of the 64×64 tile. The
 * A operand (rows d) is the left factor read transposed from the token-major tile and scaled
 * by β in registers; B (columns e) the right factor, also transposed. */
template <bool VEC>
__global__ void __launch_bounds__(ST_THREADS) gdn_stats_kernel(gdn_stats_args a) {
  __shared__ __align__(16) bf16 sL[ST_STAGES][ST_TOK * ST_LD], sR[ST_STAGES][ST_TOK * ST_LD];
  __shared__ __align__(16) bf16 sB[ST_BCHUNK];
  const int h = blockIdx.x / a.T, t = blockIdx.x % a.T, m = blockIdx.y;
  const int r0 = (blockIdx.z / a.rt) * 64, c0 = (blockIdx.z % a.rt) * 64;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, tg = lane & 3;
  const int wm = warp >> 1, wn = warp & 1;
  const int64_t ld = (int64_t)a.H * a.D, base = (int64_t)t * a.S * ld + (int64_t)h * a.D;
  const bf16 *lsrc = (m == 0 ? a.kr : m == 1 ? a.kh : a.v) + base, *rsrc = (m == 1 ? a.kh : a.kr) + base;
  const bf16 *bsrc = a.beta + (int64_t)t * a.S * a.H + h;
  const bool do_b = m == 1 && c0 == 0; /* b = Σ β k_hat, rows of this tile */
  float acc[2][4][4] = {};
  float bacc = 0.0f;

  for (int q0 = 0; q0 < a.S; q0 += ST_BCHUNK) {
    const int n = min(ST_BCHUNK, a.S - q0), ntile = (n + ST_TOK - 1) / ST_TOK;
    const bf16 *lq = lsrc + (int64_t)q0 * ld, *rq = rsrc + (int64_t)q0 * ld;
    __syncthreads(); /* the previous chunk is done with sB and the stages */
    for (int i = threadIdx.x; i < ntile * ST_TOK; i += ST_THREADS)
      sB[i] = i < n ? bsrc[(int64_t)(q0 + i) * a.H] : __float2bfloat16_rn(0.0f);
#pragma unroll
    for (int s = 0; s < ST_STAGES - 1; s++) {
      if (s < ntile) {
        st_load<VEC>(sL[s], lq, s * ST_TOK, n, ld, r0, a.D);
        st_load<VEC>(sR[s], rq, s * ST_TOK, n, ld, c0, a.D);
      }
      cp_async_commit();
    }
    for (int kt = 0; kt < ntile; kt++) {
      cp_async_wait<ST_STAGES - 2>();
      __syncthreads(); /* tile kt landed for everyone; stage (kt − 1) % STAGES is free */
      {
        int nt = kt + ST_STAGES - 1, st = nt % ST_STAGES;
        if (nt < ntile) {
          st_load<VEC>(sL[st], lq, nt * ST_TOK, n, ld, r0, a.D);
          st_load<VEC>(sR[st], rq, nt * ST_TOK, n, ld, c0, a.D);
        }
        cp_async_commit();
      }
      const bf16 *L = sL[kt % ST_STAGES], *R = sR[kt % ST_STAGES], *B = sB + kt * ST_TOK;
      if (do_b && threadIdx.x < 64) {
        float s = 0.0f;
#pragma unroll 8
        for (int r = 0; r < ST_TOK; r++)
          s += __bfloat162float(B[r]) * __bfloat162float(L[r * ST_LD + threadIdx.x]);
        bacc += s;
      }
#pragma unroll
      for (int kk = 0; kk < ST_TOK / 16; kk++) {
        const int s0 = kk * 16;
        const __nv_bfloat162 b0 = *reinterpret_cast<const __nv_bfloat162 *>(B + s0 + 2 * tg);
        const __nv_bfloat162 b1 = *reinterpret_cast<const __nv_bfloat162 *>(B + s0 + 8 + 2 * tg);
        unsigned af[2][4];
#pragma unroll
        for (int i = 0; i < 2; i++) {
          ldsm_x4_t(af[i], L + (s0 + (lane & 7) + 8 * (lane >> 4)) * ST_LD + wm * 32 + i * 16 + 8 * ((lane >> 3) & 1));
          /* tokens 2c, 2c+1 in a0/a1, 2c+8, 2c+9 in a2/a3: β·k rounded once to bf16 */
          __nv_bfloat162 *p = reinterpret_cast<__nv_bfloat162 *>(af[i]);
          p[0] = __hmul2(p[0], b0);
          p[1] = __hmul2(p[1], b0);
          p[2] = __hmul2(p[2], b1);
          p[3] = __hmul2(p[3], b1);
        }
#pragma unroll
        for (int p = 0; p < 2; p++) {
          unsigned bf[4];
          ldsm_x4_t(bf, R + (s0 + (lane & 7) + 8 * ((lane >> 3) & 1)) * ST_LD + wn * 32 + p * 16 + 8 * (lane >> 4));
#pragma unroll
          for (int i = 0; i < 2; i++) {
            mma_bf16(acc[i][2 * p], af[i], bf[0], bf[1]);
            mma_bf16(acc[i][2 * p + 1], af[i], bf[2], bf[3]);
          }
        }
      }
    }
    cp_async_wait<0>();
  }

  float *dst = a.mats + (((int64_t)h * a.T + t) * 3 + m) * a.D * a.D;
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        int row = r0 + wm * 32 + i * 16 + g + 8 * (e >> 1), col = c0 + wn * 32 + j * 8 + 2 * tg + (e & 1);
        if (row < a.D && col < a.D) dst[(int64_t)row * a.D + col] = acc[i][j][e];
      }
  if (do_b && threadIdx.x < 64 && r0 + (int)threadIdx.x < a.D)
    a.bvec[((int64_t)h * a.T + t) * a.D + r0 + threadIdx.x] = bacc;
}

/* ---- scan ---- */

#define SC_ROWS 16
#define SC_THREADS 256

struct gdn_scan_args {
  float *hist; /* [2 directions][H][T][D + 1][D]: rows 0..D−1 the state, row D z */
  const float *mats, *bvec;
  const bf16 *g;
  float *skv, *sz;
  int T, H, D, save;
};

/* cp.async of one D×D fp32 matrix into shared memory (D·D a multiple of 4), or plain copies */
__device__ __forceinline__ void sc_load(float *s, const float *gm, int DD, bool vec) {
  if (vec) {
    for (int i = threadIdx.x; i < DD / 4; i += SC_THREADS) cp_async16(s + 4 * i, gm + 4 * i, true);
  } else {
    for (int i = threadIdx.x; i < DD; i += SC_THREADS) s[i] = gm[i];
  }
  cp_async_commit();
}

/* Grid (H, ⌈D/16⌉ + 1, 2). Thread (column b = tid % 128, row group tid / 128) updates 8 rows of
 * column b: X[r][b] ← g·(X[r][b] − Σ_k X[r][k]·M[k][b]) + add[r][b]. Shared: two M buffers
 * [D][D], X [16][D]. */
__global__ void __launch_bounds__(SC_THREADS) gdn_scan_kernel(gdn_scan_args a) {
  extern __shared__ __align__(16) float sc_sm[];
  const int D = a.D, DD = D * D, T = a.T, h = blockIdx.x, dir = blockIdx.z;
  const bool zb = blockIdx.y == gridDim.y - 1;
  const int r0 = zb ? 0 : blockIdx.y * SC_ROWS, nr = zb ? 1 : min(SC_ROWS, D - r0);
  const int mi = zb ? 1 : 0; /* Pz for z, P for the state */
  float *Ms = sc_sm, *Xs = Ms + 2 * DD;
  const int b = threadIdx.x & 127, rg = (threadIdx.x >> 7) * 8;
  const bool vec = (DD & 3) == 0;
  float *hist = a.hist + (int64_t)dir * a.H * T * (D + 1) * D;

  for (int i = threadIdx.x; i < SC_ROWS * D; i += SC_THREADS) {
    int r = i / D, c = i % D;
    float x = 0.0f;
    if (dir == 0 && r < nr) x = zb ? a.sz[(int64_t)h * D + c] : a.skv[((int64_t)h * D + r0 + r) * D + c];
    Xs[i] = x;
  }
  /* updates: forward frames 0..T−1; reverse frames T−1..1 (frame 0's update is never read) */
  const int nup = dir == 0 ? T : T - 1;
  auto frame = [&](int step) { return dir == 0 ? step : T - 1 - step; };
  if (nup > 0) sc_load(Ms, a.mats + (((int64_t)h * T + frame(0)) * 3 + mi) * DD, DD, vec);
  __syncthreads();
  if (dir == 1) /* the reverse history of the last frame is zero */
    for (int i = threadIdx.x; i < nr * D; i += SC_THREADS)
      hist[(((int64_t)h * T + T - 1) * (D + 1) + (zb ? D : r0) + i / D) * D + i % D] = 0.0f;

  for (int step = 0; step < nup; step++) {
    const int t = frame(step);
    const float *M = Ms + (step & 1) * DD;
    cp_async_wait<0>();
    __syncthreads(); /* M_t in place for all; the other buffer is free */
    if (step + 1 < nup) sc_load(Ms + ((step + 1) & 1) * DD, a.mats + (((int64_t)h * T + frame(step + 1)) * 3 + mi) * DD, DD, vec);
    const float gt = __bfloat162float(a.g[(int64_t)t * a.H + h]);
    float add[8]; /* Â's rows (b for z), loaded before the product so their latency hides behind it */
#pragma unroll
    for (int r = 0; r < 8; r++)
      add[r] = b < D && rg + r < nr
                   ? (zb ? a.bvec[((int64_t)h * T + t) * D + b]
                         : a.mats[(((int64_t)h * T + t) * 3 + 2) * DD + (int64_t)(r0 + rg + r) * D + b])
                   : 0.0f;
    float acc[8] = {};
    if (b < D) {
      if ((D & 3) == 0) {
        for (int k = 0; k < D; k += 4) {
          float m0 = M[k * D + b], m1 = M[(k + 1) * D + b], m2 = M[(k + 2) * D + b], m3 = M[(k + 3) * D + b];
#pragma unroll
          for (int r = 0; r < 8; r++) {
            float4 x = *reinterpret_cast<const float4 *>(Xs + (rg + r) * D + k);
            acc[r] += x.x * m0 + x.y * m1 + x.z * m2 + x.w * m3;
          }
        }
      } else {
        for (int k = 0; k < D; k++) {
          float mk = M[k * D + b];
#pragma unroll
          for (int r = 0; r < 8; r++) acc[r] += Xs[(rg + r) * D + k] * mk;
        }
      }
    }
    float nx[8];
#pragma unroll
    for (int r = 0; r < 8; r++) nx[r] = gt * (Xs[(rg + r) * D + (b < D ? b : 0)] - acc[r]) + add[r];
    __syncthreads(); /* everyone has read X */
    const int tr = dir == 0 ? t : t - 1; /* forward: state after frame t; reverse: seen by frame t − 1 */
#pragma unroll
    for (int r = 0; r < 8; r++)
      if (b < D && rg + r < nr) {
        Xs[(rg + r) * D + b] = nx[r];
        hist[(((int64_t)h * T + tr) * (D + 1) + (zb ? D : r0 + rg + r)) * D + b] = nx[r];
      }
  }
  if (dir == 0 && a.save) {
    __syncthreads();
    for (int i = threadIdx.x; i < nr * D; i += SC_THREADS) {
      int r = i / D, c = i % D;
      if (zb) a.sz[(int64_t)h * D + c] = Xs[c];
      else a.skv[((int64_t)h * D + r0 + r) * D + c] = Xs[r * D + c];
    }
  }
}

/* ---- readout ---- */

#define RO_TOK 128 /* tokens per block, 16 per warp */
#define RO_THREADS 256

struct gdn_read_args {
  bf16 *o;
  const float *hist;
  const bf16 *qh, *qr, *gate;
  int T, S, H, D;
};

/* Grid (H·T, ⌈S/128⌉). Shared: M = Ŝ + R̂ [DP][LD] bf16, the tile's q_rot [128][LD] bf16 (DP = D
 * rounded up to 16, LD = DP + 8, zero padding), z + r and den in fp32. */
template <bool VEC>
__global__ void __launch_bounds__(RO_THREADS) gdn_readout_kernel(gdn_read_args a) {
  extern __shared__ __align__(16) uint4 ro_raw[];
  const int D = a.D, DP = (D + 15) & ~15, LD = DP + 8;
  bf16 *sM = reinterpret_cast<bf16 *>(ro_raw), *sQ = sM + DP * LD;
  float *sz = reinterpret_cast<float *>(sQ + RO_TOK * LD), *sden = sz + GDN_DMAX;
  const int h = blockIdx.x / a.T, t = blockIdx.x % a.T, s0 = blockIdx.y * RO_TOK;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, tg = lane & 3;
  const int64_t ld = (int64_t)a.H * D, tok0 = (int64_t)t * a.S;
  const bf16 *qr = a.qr + tok0 * ld + (int64_t)h * D;
  const int nq = min(RO_TOK, a.S - s0);

  if (VEC) {
    const int CH = DP / 8;
    for (int i = threadIdx.x; i < RO_TOK * CH; i += RO_THREADS) {
      int r = i / CH, c = (i % CH) * 8;
      bool ok = r < nq && c < D;
      cp_async16(sQ + r * LD + c, ok ? qr + (int64_t)(s0 + r) * ld + c : qr, ok);
    }
    cp_async_commit();
  } else {
    for (int i = threadIdx.x; i < RO_TOK * DP; i += RO_THREADS) {
      int r = i / DP, c = i % DP;
      sQ[r * LD + c] = r < nq && c < D ? qr[(int64_t)(s0 + r) * ld + c] : __float2bfloat16_rn(0.0f);
    }
  }
  const int64_t hsz = (int64_t)a.H * a.T * (D + 1) * D;
  const float *hf = a.hist + ((int64_t)h * a.T + t) * (D + 1) * D, *hr = hf + hsz;
  if (VEC) { /* D % 8 == 0: four columns at a time, eight loads in flight per thread */
    const int C4 = DP / 4, n4 = DP * C4;
    for (int i0 = threadIdx.x; i0 < n4; i0 += 4 * RO_THREADS) {
      float4 f[4], r[4];
#pragma unroll
      for (int u = 0; u < 4; u++) {
        int i = i0 + u * RO_THREADS, row = i / C4, c = (i % C4) * 4;
        bool ok = i < n4 && row < D && c < D;
        f[u] = ok ? *reinterpret_cast<const float4 *>(hf + row * D + c) : make_float4(0, 0, 0, 0);
        r[u] = ok ? *reinterpret_cast<const float4 *>(hr + row * D + c) : make_float4(0, 0, 0, 0);
      }
#pragma unroll
      for (int u = 0; u < 4; u++) {
        int i = i0 + u * RO_THREADS, row = i / C4, c = (i % C4) * 4;
        if (i < n4) {
          uint2 pk = make_uint2(pack_bf16(f[u].x + r[u].x, f[u].y + r[u].y), pack_bf16(f[u].z + r[u].z, f[u].w + r[u].w));
          *reinterpret_cast<uint2 *>(sM + row * LD + c) = pk;
        }
      }
    }
  } else {
    for (int i = threadIdx.x; i < DP * DP; i += RO_THREADS) {
      int r = i / DP, c = i % DP;
      float x = r < D && c < D ? hf[r * D + c] + hr[r * D + c] : 0.0f;
      sM[r * LD + c] = __float2bfloat16_rn(x);
    }
  }
  for (int i = threadIdx.x; i < D; i += RO_THREADS) sz[i] = hf[D * D + i] + hr[D * D + i];
  __syncthreads();
  /* den per token, fp32 against z + r: each warp's 16 tokens, every load issued before the sums */
  {
    float p[16];
#pragma unroll
    for (int k = 0; k < 16; k++) p[k] = 0.0f;
#pragma unroll
    for (int d0 = 0; d0 < GDN_DMAX; d0 += 32) {
      const int d = d0 + lane;
      if (d0 >= D) break;
      bf16 q[16];
#pragma unroll
      for (int k = 0; k < 16; k++) {
        const int r = warp * 16 + k;
        q[k] = r < nq && d < D ? a.qh[(tok0 + s0 + r) * ld + (int64_t)h * D + d] : __float2bfloat16_rn(0.0f);
      }
      const float zd = d < D ? sz[d] : 0.0f;
#pragma unroll
      for (int k = 0; k < 16; k++) p[k] += __bfloat162float(q[k]) * zd;
    }
#pragma unroll
    for (int k = 0; k < 16; k++) {
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) p[k] += __shfl_xor_sync(0xffffffffu, p[k], off);
    }
    if (lane < 16) {
      float v = p[0];
#pragma unroll
      for (int k = 1; k < 16; k++) v = lane == k ? p[k] : v;
      sden[warp * 16 + lane] = v;
    }
  }
  if (VEC) cp_async_wait<0>();
  __syncthreads();

  float acc[GDN_DMAX / 8][4] = {};
  const int KS = DP / 16;
#pragma unroll
  for (int kk = 0; kk < GDN_DMAX / 16; kk++) {
    if (kk >= KS) break;
    unsigned af[4];
    ldsm_x4(af, sQ + (warp * 16 + (lane & 7) + 8 * ((lane >> 3) & 1)) * LD + kk * 16 + 8 * (lane >> 4));
#pragma unroll
    for (int p = 0; p < GDN_DMAX / 16; p++) {
      if (p >= KS) break;
      unsigned bfr[4];
      ldsm_x4(bfr, sM + (p * 16 + (lane & 7) + 8 * (lane >> 4)) * LD + kk * 16 + 8 * ((lane >> 3) & 1));
      mma_bf16(acc[2 * p], af, bfr[0], bfr[1]);
      mma_bf16(acc[2 * p + 1], af, bfr[2], bfr[3]);
    }
  }

#pragma unroll
  for (int e2 = 0; e2 < 2; e2++) {
    const int r = warp * 16 + g + 8 * e2;
    if (r >= nq) continue;
    const float inv = 1.0f / (sden[r] + 1e-8f);
    const int64_t off = (tok0 + s0 + r) * ld + (int64_t)h * D;
#pragma unroll
    for (int j = 0; j < GDN_DMAX / 8; j++) {
      const int col = j * 8 + 2 * tg;
      if (j >= 2 * KS || col >= D) continue;
      if (VEC) { /* D even: col + 1 < D */
        float2 gv = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(a.gate + off + col));
        *reinterpret_cast<__nv_bfloat162 *>(a.o + off + col) =
            __floats2bfloat162_rn(acc[j][2 * e2] * inv * dev_act(gv.x, SANA_ACT_SILU),
                                  acc[j][2 * e2 + 1] * inv * dev_act(gv.y, SANA_ACT_SILU));
      } else {
#pragma unroll
        for (int e = 0; e < 2; e++)
          if (col + e < D)
            a.o[off + col + e] = __float2bfloat16_rn(acc[j][2 * e2 + e] * inv *
                                                     dev_act(__bfloat162float(a.gate[off + col + e]), SANA_ACT_SILU));
      }
    }
  }
}

static size_t ro_smem(int D) {
  int DP = (D + 15) & ~15, LD = DP + 8;
  return (size_t)(DP + RO_TOK) * LD * sizeof(bf16) + (GDN_DMAX + RO_TOK) * sizeof(float);
}
static size_t sc_smem(int D) { return (size_t)(2 * D * D + SC_ROWS * D) * sizeof(float); }

void cuda_dit_gdn_chunk(sana_backend *be, sana_tensor *o, const sana_tensor *q_hat, const sana_tensor *q_rot,
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
  if (D > GDN_DMAX || D < 1 || H * T > 0x7fffffff || H > 65535 || N * H * D > 0x7fffffffLL ||
      (S + RO_TOK - 1) / RO_TOK > 65535) {
    cuda_fail(be, op, "head dim %lld (at most %d), %lld heads or %lld tokens per frame out of range", (long long)D,
              GDN_DMAX, (long long)H, (long long)S);
    return;
  }
  if (S == 0) return;
  size_t mats_n = (size_t)(H * T * 3 * D * D), b_n = (size_t)(H * T * D), hist_n = (size_t)(2 * H * T * (D + 1) * D);
  size_t bytes = (mats_n + b_n + hist_n) * sizeof(float);
  float *buf = (float *)be->alloc(be, bytes);
  if (!buf) {
    cuda_fail(be, op, "out of device memory for the frame statistics (%zu bytes)", bytes);
    return;
  }
  float *mats = buf, *bvec = mats + mats_n, *hist = bvec + b_n;
  cudaStream_t st = cuda_of(be)->stream;
  static bool attr_set = false;
  if (!attr_set) {
    if (!CUDA_OK(be, op, cudaFuncSetAttribute(gdn_scan_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             (int)sc_smem(GDN_DMAX))) ||
        !CUDA_OK(be, op, cudaFuncSetAttribute(gdn_readout_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             (int)ro_smem(GDN_DMAX))) ||
        !CUDA_OK(be, op, cudaFuncSetAttribute(gdn_readout_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             (int)ro_smem(GDN_DMAX)))) {
      be->free(be, buf);
      return;
    }
    attr_set = true;
  }
  const bool vec = D % 8 == 0 && cuda_aligned16(k_hat->data, k_rot->data, v->data) &&
                   cuda_aligned16(q_rot->data, o->data, gate->data);
  gdn_stats_args sa = {mats, bvec, (const bf16 *)k_hat->data, (const bf16 *)k_rot->data, (const bf16 *)v->data,
                       (const bf16 *)beta->data, (int)T, (int)S, (int)H, (int)D, (int)((D + 63) / 64)};
  dim3 sgrid((unsigned)(H * T), 3, (unsigned)(sa.rt * sa.rt));
  if (vec) gdn_stats_kernel<true><<<sgrid, ST_THREADS, 0, st>>>(sa);
  else gdn_stats_kernel<false><<<sgrid, ST_THREADS, 0, st>>>(sa);
  gdn_scan_args ca = {hist, mats, bvec, (const bf16 *)g->data, (float *)state_kv->data, (float *)state_z->data,
                      (int)T, (int)H, (int)D, save};
  gdn_scan_kernel<<<dim3((unsigned)H, (unsigned)((D + SC_ROWS - 1) / SC_ROWS + 1), 2), SC_THREADS, sc_smem((int)D),
                    st>>>(ca);
  gdn_read_args ra = {(bf16 *)o->data, hist, (const bf16 *)q_hat->data, (const bf16 *)q_rot->data,
                      (const bf16 *)gate->data, (int)T, (int)S, (int)H, (int)D};
  dim3 rgrid((unsigned)(H * T), (unsigned)((S + RO_TOK - 1) / RO_TOK));
  if (vec) gdn_readout_kernel<true><<<rgrid, RO_THREADS, ro_smem((int)D), st>>>(ra);
  else gdn_readout_kernel<false><<<rgrid, RO_THREADS, ro_smem((int)D), st>>>(ra);
  cuda_after_launch(be, op);
  be->free(be, buf);
}
