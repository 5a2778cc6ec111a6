/* vae.conv3d on the GPU (backend/ops_vae.h): x[T+2, Ci, H, W] (frame-major, temporally padded
 * by the caller) → y[T, Co, H, W], 3×3×3, stride 1, spatial zeros or reflect padding.
 *
 * Two paths:
 *  - cuDNN (when the build found it and SANA_CUDNN is not 0): the conv runs in channels-last
 *    NDHWC, the only layout where cuDNN's Hopper kernels reach 770–960 TF/s at the VAE's
 *    shapes (its NCDHW path 460–720, a strided frame-major descriptor 50–180; docs/cuda.md).
 *    Frame-major [T, C, H, W] with batch 1 is NCDHW with the D and C strides swapped, so the
 *    op transposes x to [T+2, H', W', Ci] (reflect padding resolved into a one-pixel border
 *    there; zeros padding left to cuDNN), runs the implicit-precomp GEMM, and transposes the
 *    [T, H, W, Co] result back with the bias added. The weight is rearranged to [Co, 3, 3, 3, Ci]
 *    in place on first use, its address remembered until that memory is freed (get_weight).
 *  - our own implicit GEMM on mma.sync (135 TF/s), used without cuDNN and for shapes cuDNN
 *    refuses: a block computes 64 output channels × an 8×32 pixel tile of one output frame;
 *    per input frame kt and run of 32 input channels it stages the tile's 10×34 halo (padding
 *    resolved while loading, channels innermost) and the 9 spatial taps' weights in shared
 *    memory, and every tap reads its B fragments from the same halo shifted by (kh, kw). */
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/cuda_mma.cuh"
extern "C" {
#include "backend/ops_vae.h"
}
#ifdef SANA_HAVE_CUDNN
#include <cudnn.h>
#endif

typedef __nv_bfloat16 bf16;
static const char *const OP = "vae.conv3d";

__device__ __forceinline__ int pad_idx(int i, int n, int reflect) {
  if (i >= 0 && i < n) return i;
  if (!reflect) return -1;
  i = i < 0 ? -i : 2 * n - 2 - i;
  return i >= 0 && i < n ? i : -1; /* only rows/columns past the tile's valid outputs get here */
}

/* ---- our own implicit GEMM ---- */

#define CV_CO 64           /* output channels per block */
#define CV_TH 8            /* output rows per block */
#define CV_TW 32           /* output columns per block */
#define CV_CI 32           /* input channels per stage */
#define CV_HH (CV_TH + 2)  /* halo rows */
#define CV_HW (CV_TW + 2)  /* halo columns */
#define CV_LD 40           /* shared row stride in bf16: 20 words, conflict-free fragment loads */
#define CV_SMEM ((CV_HH * CV_HW + 9 * CV_CO) * CV_LD * 2)

/* wt[tap][co][ci] (co < Cop, ci < Cip, zero outside) = w[co][ci][tap] */
__global__ void conv_weight_kernel(bf16 *wt, const bf16 *w, int64_t Co, int64_t Ci, int64_t Cop, int64_t Cip) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < 27 * Cop * Cip; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t tap = i / (Cop * Cip), co = i / Cip % Cop, ci = i % Cip;
    wt[i] = co < Co && ci < Ci ? w[(co * Ci + ci) * 27 + tap] : __float2bfloat16_rn(0.0f);
  }
}

/* Grid (tiles of H×W, Cop/64, T). Warp w: channels (w & 1)·32 + [0, 32), output rows
 * 2·(w >> 1) + {0, 1}, all 32 columns: 2 m16 × 8 n8 accumulators. */
__global__ void __launch_bounds__(256) conv3d_kernel(bf16 *y, const bf16 *x, const bf16 *wt, const bf16 *bias,
                                                     int Ci, int Co, int Cip, int Cop, int H, int W, int reflect) {
  extern __shared__ __align__(16) unsigned char conv_smem[];
  bf16 *Xs = (bf16 *)conv_smem, *Ws = Xs + CV_HH * CV_HW * CV_LD;
  const int tiles_w = (W + CV_TW - 1) / CV_TW;
  const int h0 = blockIdx.x / tiles_w * CV_TH, w0 = blockIdx.x % tiles_w * CV_TW, co0 = blockIdx.y * CV_CO;
  const int t = blockIdx.z, tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, c4 = lane & 3;
  const int wm = warp & 1, wn = warp >> 1;
  const int64_t HW = (int64_t)H * W;
  float acc[2][8][4] = {};
  for (int kt = 0; kt < 3; kt++) {
    const bf16 *xf = x + (int64_t)(t + kt) * Ci * HW;
    for (int ci0 = 0; ci0 < Cip; ci0 += CV_CI) {
      for (int e = tid; e < CV_CI * CV_HH * CV_HW; e += 256) {
        int ci = e / (CV_HH * CV_HW), p = e % (CV_HH * CV_HW);
        int hh = pad_idx(h0 + p / CV_HW - 1, H, reflect), ww = pad_idx(w0 + p % CV_HW - 1, W, reflect);
        bf16 v = __float2bfloat16_rn(0.0f);
        if (ci0 + ci < Ci && hh >= 0 && ww >= 0) v = xf[(int64_t)(ci0 + ci) * HW + (int64_t)hh * W + ww];
        Xs[p * CV_LD + ci] = v;
      }
      for (int e = tid; e < 9 * CV_CO * (CV_CI / 8); e += 256) {
        int tap = e / (CV_CO * 4), co = e / 4 % CV_CO, q = e % 4;
        const uint4 *src = (const uint4 *)(wt + ((int64_t)(kt * 9 + tap) * Cop + co0 + co) * Cip + ci0) + q;
        *(uint4 *)(Ws + (tap * CV_CO + co) * CV_LD + q * 8) = *src;
      }
      __syncthreads();
#pragma unroll 1
      for (int tap = 0; tap < 9; tap++) {
        const int kh = tap / 3, kw = tap % 3;
#pragma unroll
        for (int ks = 0; ks < CV_CI; ks += 16) {
          uint32_t a[2][4], b[8][2];
#pragma unroll
          for (int mi = 0; mi < 2; mi++) {
            const bf16 *wr = Ws + (tap * CV_CO + wm * 32 + mi * 16 + g) * CV_LD + ks + 2 * c4;
            a[mi][0] = *(const uint32_t *)wr;
            a[mi][1] = *(const uint32_t *)(wr + 8 * CV_LD);
            a[mi][2] = *(const uint32_t *)(wr + 8);
            a[mi][3] = *(const uint32_t *)(wr + 8 * CV_LD + 8);
          }
#pragma unroll
          for (int nj = 0; nj < 8; nj++) {
            int pr = 2 * wn + nj / 4 + kh, pc = (nj % 4) * 8 + g + kw;
            const bf16 *xr = Xs + (pr * CV_HW + pc) * CV_LD + ks + 2 * c4;
            b[nj][0] = *(const uint32_t *)xr;
            b[nj][1] = *(const uint32_t *)(xr + 8);
          }
#pragma unroll
          for (int mi = 0; mi < 2; mi++)
#pragma unroll
            for (int nj = 0; nj < 8; nj++) mma_bf16(acc[mi][nj], a[mi], b[nj][0], b[nj][1]);
        }
      }
      __syncthreads();
    }
  }
#pragma unroll
  for (int mi = 0; mi < 2; mi++)
#pragma unroll
    for (int half = 0; half < 2; half++) {
      int co = co0 + wm * 32 + mi * 16 + g + 8 * half;
      if (co >= Co) continue;
      float bv = bias ? __bfloat162float(bias[co]) : 0.0f;
#pragma unroll
      for (int nj = 0; nj < 8; nj++) {
        int h = h0 + 2 * wn + nj / 4, w = w0 + (nj % 4) * 8 + 2 * c4;
        if (h >= H) continue;
        bf16 *dst = y + ((int64_t)t * Co + co) * HW + (int64_t)h * W + w;
        if (w < W) dst[0] = __float2bfloat16_rn(acc[mi][nj][2 * half] + bv);
        if (w + 1 < W) dst[1] = __float2bfloat16_rn(acc[mi][nj][2 * half + 1] + bv);
      }
    }
}

static void conv3d_own(sana_backend *be, bf16 *y, const bf16 *x, const bf16 *w, const bf16 *b, int64_t T,
                       int64_t Ci, int64_t Co, int64_t H, int64_t W, int reflect) {
  int64_t tiles = ((H + CV_TH - 1) / CV_TH) * ((W + CV_TW - 1) / CV_TW);
  if (T > 65535 || tiles > 0x7fffffff || Co > 65535 * CV_CO || H * W > ((int64_t)1 << 31) || Ci > (1 << 24)) {
    cuda_fail(be, OP, "shape too large for one grid");
    return;
  }
  int64_t Cop = (Co + CV_CO - 1) / CV_CO * CV_CO, Cip = (Ci + CV_CI - 1) / CV_CI * CV_CI;
  size_t wb = (size_t)(27 * Cop * Cip) * sizeof(bf16);
  bf16 *wt = (bf16 *)be->alloc(be, wb);
  if (!wt) {
    cuda_fail(be, OP, "out of device memory for the rearranged weight (%zu bytes)", wb);
    return;
  }
  cudaStream_t s = cuda_of(be)->stream;
  static bool attr_set = false;
  if (!attr_set) {
    CUDA_OK(be, OP, cudaFuncSetAttribute(conv3d_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, CV_SMEM));
    attr_set = true;
  }
  conv_weight_kernel<<<cuda_blocks(27 * Cop * Cip, 256), 256, 0, s>>>(wt, w, Co, Ci, Cop, Cip);
  conv3d_kernel<<<dim3((unsigned)tiles, (unsigned)(Cop / CV_CO), (unsigned)T), 256, CV_SMEM, s>>>(
      y, x, wt, b, (int)Ci, (int)Co, (int)Cip, (int)Cop, (int)H, (int)W, reflect);
  cuda_after_launch(be, OP);
  be->free(be, wt); /* reused only by later work on the same stream */
}

#ifdef SANA_HAVE_CUDNN
/* ---- layout passes between frame-major [F, C, H, W] and channels-last [F, H', W', C] ----
 * Tiles of 64 channels × 64 pixels move as 32-bit words holding two bf16: a 2×2 block of
 * (channel, pixel) pairs is swapped by two byte permutes, and the word tile goes through
 * shared memory with a 33-word row stride (conflict-free both ways). Global accesses are
 * 128 bytes per warp on both sides. Needs C and W even; other shapes take the scalar kernels. */

#define TR_T 64 /* tile edge in elements */

/* x [F][C][H][W] → xc [F][H+2p][W+2p][C] (interior only; the border is reflect_border's) */
__global__ void __launch_bounds__(256) to_cl_kernel(bf16 *xc, const bf16 *x, int C, int H, int W, int p) {
  __shared__ uint32_t s0[32][33], s1[32][33];
  const int HW = H * W, Wp = W + 2 * p;
  const int64_t f = blockIdx.z;
  const int px0 = blockIdx.x * TR_T, c0 = blockIdx.y * TR_T, tx = threadIdx.x;
  const bf16 *xf = x + f * C * HW;
  for (int i = threadIdx.y; i < 32; i += 8) { /* i: channel pair, tx: pixel pair */
    int c = c0 + 2 * i, px = px0 + 2 * tx;
    uint32_t a = 0, b = 0;
    if (c < C && px < HW) {
      a = *(const uint32_t *)(xf + (int64_t)c * HW + px);
      b = *(const uint32_t *)(xf + (int64_t)(c + 1) * HW + px);
    }
    s0[tx][i] = __byte_perm(a, b, 0x5410); /* pixel px: channels c, c+1 */
    s1[tx][i] = __byte_perm(a, b, 0x7632); /* pixel px+1 */
  }
  __syncthreads();
  bf16 *of = xc + f * (int64_t)(H + 2 * p) * Wp * C;
  for (int j = threadIdx.y; j < 32; j += 8) { /* j: pixel pair, tx: channel pair */
    int px = px0 + 2 * j, c = c0 + 2 * tx;
    if (px >= HW || c >= C) continue;
    int h = px / W, w = px % W; /* W even: px and px+1 share the row */
    uint32_t *dst = (uint32_t *)(of + ((int64_t)(h + p) * Wp + w + p) * C + c);
    dst[0] = s0[j][tx];
    dst[C / 2] = s1[j][tx];
  }
}

/* yc [F][HW][C] → y [F][C][HW] + bias[c] */
__global__ void __launch_bounds__(256) from_cl_kernel(bf16 *y, const bf16 *yc, const bf16 *bias, int C, int HW) {
  __shared__ uint32_t s0[32][33], s1[32][33];
  const int64_t f = blockIdx.z;
  const int px0 = blockIdx.x * TR_T, c0 = blockIdx.y * TR_T, tx = threadIdx.x;
  const bf16 *src = yc + f * C * HW;
  for (int j = threadIdx.y; j < 32; j += 8) { /* j: pixel pair, tx: channel pair */
    int px = px0 + 2 * j, c = c0 + 2 * tx;
    uint32_t a = 0, b = 0;
    if (c < C && px < HW) {
      a = *(const uint32_t *)(src + (int64_t)px * C + c);
      b = *(const uint32_t *)(src + (int64_t)(px + 1) * C + c);
    }
    s0[tx][j] = __byte_perm(a, b, 0x5410); /* channel c: pixels px, px+1 */
    s1[tx][j] = __byte_perm(a, b, 0x7632); /* channel c+1 */
  }
  __syncthreads();
  bf16 *yf = y + f * C * HW;
  for (int i = threadIdx.y; i < 32; i += 8) { /* i: channel pair, tx: pixel pair */
    int c = c0 + 2 * i, px = px0 + 2 * tx;
    if (c >= C || px >= HW) continue;
    float b0 = bias ? __bfloat162float(bias[c]) : 0.0f, b1 = bias ? __bfloat162float(bias[c + 1]) : 0.0f;
    uint32_t q0 = s0[i][tx], q1 = s1[i][tx];
    float2 v0 = __bfloat1622float2(*(__nv_bfloat162 *)&q0), v1 = __bfloat1622float2(*(__nv_bfloat162 *)&q1);
    *(__nv_bfloat162 *)(yf + (int64_t)c * HW + px) = __floats2bfloat162_rn(v0.x + b0, v0.y + b0);
    *(__nv_bfloat162 *)(yf + (int64_t)(c + 1) * HW + px) = __floats2bfloat162_rn(v1.x + b1, v1.y + b1);
  }
}

/* scalar versions for odd C or W: one thread per destination element */
__global__ void to_cl_scalar_kernel(bf16 *xc, const bf16 *x, int64_t F, int C, int H, int W, int p) {
  const int Hp = H + 2 * p, Wp = W + 2 * p;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < F * H * W * C; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t c = i % C, px = i / C % ((int64_t)H * W), f = i / ((int64_t)C * H * W);
    int h = (int)(px / W), w = (int)(px % W);
    xc[((f * Hp + h + p) * Wp + w + p) * C + c] = x[(f * C + c) * H * W + px];
  }
}
__global__ void from_cl_scalar_kernel(bf16 *y, const bf16 *yc, const bf16 *bias, int64_t F, int C, int64_t HW) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < F * C * HW; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t px = i % HW, c = i / HW % C, f = i / (HW * C);
    float v = __bfloat162float(yc[(f * HW + px) * C + c]) + (bias ? __bfloat162float(bias[c]) : 0.0f);
    y[i] = __float2bfloat16_rn(v);
  }
}

/* The one-pixel border of xc [F][H+2][W+2][C] by reflection of its interior. */
__global__ void reflect_border_kernel(bf16 *xc, int64_t F, int C, int H, int W) {
  const int Hp = H + 2, Wp = W + 2, nb = 2 * Wp + 2 * H; /* rows 0 and Hp-1 whole, then columns */
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < F * nb * C; i += (int64_t)gridDim.x * blockDim.x) {
    int c = (int)(i % C), k = (int)(i / C % nb);
    int64_t f = i / ((int64_t)C * nb);
    int hp, wp;
    if (k < 2 * Wp) hp = k < Wp ? 0 : Hp - 1, wp = k % Wp;
    else k -= 2 * Wp, hp = 1 + k % H, wp = k < H ? 0 : Wp - 1;
    int hs = pad_idx(hp - 1, H, 1) + 1, ws = pad_idx(wp - 1, W, 1) + 1;
    bf16 *fr = xc + f * Hp * Wp * C;
    fr[((int64_t)hp * Wp + wp) * C + c] = fr[((int64_t)hs * Wp + ws) * C + c];
  }
}

/* w [Co][Ci][27] → [Co][27][Ci] */
/* [Co][Ci][27] <-> [Co][27][Ci]; back = 1 undoes it */
__global__ void weight_cl_kernel(bf16 *o, const bf16 *w, int64_t Co, int64_t Ci, int back) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < 27 * Co * Ci; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t co = i / (27 * Ci), tap = i / Ci % 27, ci = i % Ci, j = (co * Ci + ci) * 27 + tap;
    if (back) o[j] = w[i];
    else o[i] = w[j];
  }
}

static void to_channels_last(cudaStream_t s, bf16 *xc, const bf16 *x, int64_t F, int C, int H, int W, int p) {
  if (C % 2 == 0 && W % 2 == 0 && ((uintptr_t)x & 3) == 0)
    to_cl_kernel<<<dim3((unsigned)((H * W + TR_T - 1) / TR_T), (unsigned)((C + TR_T - 1) / TR_T), (unsigned)F),
                   dim3(32, 8), 0, s>>>(xc, x, C, H, W, p);
  else
    to_cl_scalar_kernel<<<cuda_blocks(F * H * W * C, 256), 256, 0, s>>>(xc, x, F, C, H, W, p);
  if (p) reflect_border_kernel<<<cuda_blocks(F * (2 * (W + 2) + 2 * H) * C, 256), 256, 0, s>>>(xc, F, C, H, W);
}

static void from_channels_last(cudaStream_t s, bf16 *y, const bf16 *yc, const bf16 *b, int64_t F, int C, int64_t HW) {
  if (C % 2 == 0 && HW % 2 == 0 && ((uintptr_t)y & 3) == 0)
    from_cl_kernel<<<dim3((unsigned)((HW + TR_T - 1) / TR_T), (unsigned)((C + TR_T - 1) / TR_T), (unsigned)F),
                     dim3(32, 8), 0, s>>>(y, yc, b, C, (int)HW);
  else
    from_cl_scalar_kernel<<<cuda_blocks(F * C * HW, 256), 256, 0, s>>>(y, yc, b, F, C, HW);
}

/* ---- cuDNN state: the handle, descriptors per shape, rearranged weights per address ---- */

struct conv_plan {
  int T, Ci, Co, H, W, p, ok;
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  size_t ws;
};
struct conv_weight {
  const void *key; /* the weight's device address, which now holds it as [Co][3][3][3][Ci] */
  int64_t Co, Ci;
};
struct cuda_vae_state {
  int dnn_state; /* 0 not tried, 1 ready, -1 unavailable or switched off */
  cudnnHandle_t dnn;
  conv_plan *plans;
  int n_plans, cap_plans;
  conv_weight *weights;
  int n_weights, cap_weights;
};

static cuda_vae_state *vae_state(sana_backend *be) {
  cuda_impl *c = cuda_of(be);
  if (!c->vae) c->vae = calloc(1, sizeof(cuda_vae_state));
  return (cuda_vae_state *)c->vae;
}

static bool dnn_ready(sana_backend *be, cuda_vae_state *st) {
  if (st->dnn_state == 0) {
    const char *env = getenv("SANA_CUDNN");
    st->dnn_state = -1;
    if (!(env && atoi(env) == 0) && cudnnCreate(&st->dnn) == CUDNN_STATUS_SUCCESS) {
      if (cudnnSetStream(st->dnn, cuda_of(be)->stream) == CUDNN_STATUS_SUCCESS) st->dnn_state = 1;
      else cudnnDestroy(st->dnn);
    }
  }
  return st->dnn_state == 1;
}

/* Descriptors for x [1, Ci, T+2, H+2p, W+2p], y [1, Co, T, H, W], w [Co, Ci, 3, 3, 3], all
 * NDHWC, convolution padding (0, 1−p, 1−p). NULL where cuDNN refuses the shape. */
static conv_plan *get_plan(cuda_vae_state *st, int T, int Ci, int Co, int H, int W, int p) {
  for (int i = 0; i < st->n_plans; i++) {
    conv_plan *q = &st->plans[i];
    if (q->T == T && q->Ci == Ci && q->Co == Co && q->H == H && q->W == W && q->p == p) return q->ok ? q : NULL;
  }
  if (st->n_plans == st->cap_plans) {
    int cap = st->cap_plans ? 2 * st->cap_plans : 16;
    conv_plan *np = (conv_plan *)realloc(st->plans, (size_t)cap * sizeof *np);
    if (!np) return NULL;
    st->plans = np, st->cap_plans = cap;
  }
  conv_plan *q = &st->plans[st->n_plans++];
  memset(q, 0, sizeof *q);
  q->T = T, q->Ci = Ci, q->Co = Co, q->H = H, q->W = W, q->p = p;
  int xdim[5] = {1, Ci, T + 2, H + 2 * p, W + 2 * p}, ydim[5] = {1, Co, T, H, W}, wdim[5] = {Co, Ci, 3, 3, 3};
  int pads[3] = {0, 1 - p, 1 - p}, ones[3] = {1, 1, 1};
  q->ok = cudnnCreateTensorDescriptor(&q->xd) == CUDNN_STATUS_SUCCESS &&
          cudnnCreateTensorDescriptor(&q->yd) == CUDNN_STATUS_SUCCESS &&
          cudnnCreateFilterDescriptor(&q->wd) == CUDNN_STATUS_SUCCESS &&
          cudnnCreateConvolutionDescriptor(&q->cd) == CUDNN_STATUS_SUCCESS &&
          cudnnSetTensorNdDescriptorEx(q->xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, 5, xdim) == CUDNN_STATUS_SUCCESS &&
          cudnnSetTensorNdDescriptorEx(q->yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, 5, ydim) == CUDNN_STATUS_SUCCESS &&
          cudnnSetFilterNdDescriptor(q->wd, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_NHWC, 5, wdim) == CUDNN_STATUS_SUCCESS &&
          cudnnSetConvolutionNdDescriptor(q->cd, 3, pads, ones, ones, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT) ==
              CUDNN_STATUS_SUCCESS &&
          cudnnSetConvolutionMathType(q->cd, CUDNN_TENSOR_OP_MATH) == CUDNN_STATUS_SUCCESS &&
          cudnnGetConvolutionForwardWorkspaceSize(st->dnn, q->xd, q->wd, q->cd, q->yd,
                                                  CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                                                  &q->ws) == CUDNN_STATUS_SUCCESS;
  return q->ok ? q : NULL;
}

static conv_weight *find_weight(cuda_vae_state *st, const sana_tensor *w) {
  for (int i = 0; st && i < st->n_weights; i++) {
    conv_weight *q = &st->weights[i];
    if (q->key == w->data && q->Co == w->ne[0] && q->Ci == w->ne[1]) return q;
  }
  return NULL;
}

/* The weight as [Co][3][3][3][Ci]. On first use the tensor's own memory is rearranged in place
 * (through a scratch copy) rather than kept twice: the VAE's conv weights are 2.4 GB, and only
 * conv3d reads them. The address is remembered until that memory is freed (cuda_vae_forget);
 * a conv that must fall back to our own kernel undoes the layout into scratch (weight_for_own). */
static const bf16 *get_weight(sana_backend *be, cuda_vae_state *st, const sana_tensor *w) {
  int64_t Co = w->ne[0], Ci = w->ne[1];
  if (find_weight(st, w)) return (const bf16 *)w->data;
  if (st->n_weights == st->cap_weights) {
    int cap = st->cap_weights ? 2 * st->cap_weights : 64;
    conv_weight *nw = (conv_weight *)realloc(st->weights, (size_t)cap * sizeof *nw);
    if (!nw) return NULL;
    st->weights = nw, st->cap_weights = cap;
  }
  size_t bytes = (size_t)(27 * Co * Ci) * sizeof(bf16);
  bf16 *tmp = (bf16 *)be->alloc(be, bytes);
  if (!tmp) return NULL;
  cudaStream_t s = cuda_of(be)->stream;
  cudaMemcpyAsync(tmp, w->data, bytes, cudaMemcpyDeviceToDevice, s);
  weight_cl_kernel<<<cuda_blocks(27 * Co * Ci, 256), 256, 0, s>>>((bf16 *)w->data, tmp, Co, Ci, 0);
  be->free(be, tmp); /* stream-ordered reuse: later work on this stream sees the kernel done */
  st->weights[st->n_weights++] = conv_weight{w->data, Co, Ci};
  return (const bf16 *)w->data;
}

/* The weight in the checkpoint's [Co][Ci][3][3][3] for our own kernel: the tensor itself, or a
 * scratch copy with the layout undone where get_weight rearranged it; *scratch to be freed. */
static const bf16 *weight_for_own(sana_backend *be, const sana_tensor *w, bf16 **scratch) {
  *scratch = NULL;
  if (!find_weight((cuda_vae_state *)cuda_of(be)->vae, w)) return (const bf16 *)w->data;
  int64_t Co = w->ne[0], Ci = w->ne[1];
  *scratch = (bf16 *)be->alloc(be, (size_t)(27 * Co * Ci) * sizeof(bf16));
  if (!*scratch) return NULL;
  weight_cl_kernel<<<cuda_blocks(27 * Co * Ci, 256), 256, 0, cuda_of(be)->stream>>>(*scratch, (const bf16 *)w->data,
                                                                                      Co, Ci, 1);
  return *scratch;
}

/* Runs the conv through cuDNN; false (nothing launched) where it cannot, so the caller falls
 * back to our own kernel. */
static bool conv3d_cudnn(sana_backend *be, const sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                         const sana_tensor *b, int64_t T, int64_t Ci, int64_t Co, int64_t H, int64_t W, int reflect) {
  cuda_vae_state *st = vae_state(be);
  if (!st || !dnn_ready(be, st)) return false;
  const int p = reflect ? 1 : 0;
  const int64_t nx = (T + 2) * (H + 2 * p) * (W + 2 * p) * Ci, ny = T * H * W * Co;
  if (nx >= ((int64_t)1 << 31) || ny >= ((int64_t)1 << 31) || 27 * Co * Ci >= ((int64_t)1 << 31) || T + 2 > 65535)
    return false;
  conv_plan *q = get_plan(st, (int)T, (int)Ci, (int)Co, (int)H, (int)W, p);
  if (!q) return false;
  const bf16 *wk = get_weight(be, st, w);
  bf16 *xc = (bf16 *)be->alloc(be, (size_t)nx * sizeof(bf16));
  bf16 *yc = (bf16 *)be->alloc(be, (size_t)ny * sizeof(bf16));
  void *ws = q->ws ? be->alloc(be, q->ws) : NULL;
  bool ok = wk && xc && yc && (ws || !q->ws);
  if (ok) {
    cudaStream_t s = cuda_of(be)->stream;
    to_channels_last(s, xc, (const bf16 *)x->data, T + 2, (int)Ci, (int)H, (int)W, p);
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t e = cudnnConvolutionForward(st->dnn, &one, q->xd, xc, q->wd, wk, q->cd,
                                              CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, ws, q->ws, &zero,
                                              q->yd, yc);
    if (e == CUDNN_STATUS_SUCCESS) {
      from_channels_last(s, (bf16 *)y->data, yc, b ? (const bf16 *)b->data : nullptr, T, (int)Co, H * W);
      cuda_after_launch(be, OP);
    } else {
      q->ok = 0; /* this shape goes to our own kernel from now on */
      ok = false;
    }
  }
  if (ws) be->free(be, ws); /* scratch: reused only by later work on the same stream */
  if (yc) be->free(be, yc);
  if (xc) be->free(be, xc);
  return ok;
}

void cuda_vae_forget(sana_backend *be, const void *p, size_t bytes) {
  cuda_vae_state *st = (cuda_vae_state *)cuda_of(be)->vae;
  if (!st) return;
  for (int i = 0; i < st->n_weights;) {
    const char *k = (const char *)st->weights[i].key;
    if (k >= (const char *)p && k < (const char *)p + bytes) {
      st->weights[i] = st->weights[--st->n_weights]; /* the memory itself is the caller's to free */
    } else {
      i++;
    }
  }
}

void cuda_vae_release(sana_backend *be) {
  cuda_impl *c = cuda_of(be);
  cuda_vae_state *st = (cuda_vae_state *)c->vae;
  if (!st) return;
  for (int i = 0; i < st->n_plans; i++) {
    conv_plan *q = &st->plans[i];
    if (q->xd) cudnnDestroyTensorDescriptor(q->xd);
    if (q->yd) cudnnDestroyTensorDescriptor(q->yd);
    if (q->wd) cudnnDestroyFilterDescriptor(q->wd);
    if (q->cd) cudnnDestroyConvolutionDescriptor(q->cd);
  }
  if (st->dnn_state == 1) cudnnDestroy(st->dnn);
  free(st->plans);
  free(st->weights);
  free(st);
  c->vae = NULL;
}
#else
void cuda_vae_forget(sana_backend *be, const void *p, size_t bytes) {}
void cuda_vae_release(sana_backend *be) {}
#endif

void cuda_conv3d(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w, const sana_tensor *b,
                 sana_pad_mode pad) {
  if (!CUDA_DTYPES(be, OP, CUDA_BF16_ONLY, y, x, w, b)) return;
  if (x->nd != 4 || y->nd != 4 || w->nd != 5 || w->ne[2] != 3 || w->ne[3] != 3 || w->ne[4] != 3) {
    cuda_fail(be, OP, "expected x[T+2,Ci,H,W], y[T,Co,H,W], w[Co,Ci,3,3,3]");
    return;
  }
  int64_t T = y->ne[0], Co = y->ne[1], H = y->ne[2], W = y->ne[3], Ci = x->ne[1];
  if (x->ne[0] != T + 2 || x->ne[2] != H || x->ne[3] != W || w->ne[0] != Co || w->ne[1] != Ci ||
      (b && b->ne[0] != Co)) {
    cuda_fail(be, OP, "shape mismatch (x %lldx%lld, y %lldx%lld, w %lldx%lld)", (long long)x->ne[0], (long long)Ci,
              (long long)T, (long long)Co, (long long)w->ne[0], (long long)w->ne[1]);
    return;
  }
  if (pad == SANA_PAD_REFLECT && (H < 2 || W < 2)) {
    cuda_fail(be, OP, "reflect padding needs H, W >= 2 (got %lldx%lld)", (long long)H, (long long)W);
    return;
  }
  if (T * Co * H * W == 0) return;
  const int reflect = pad == SANA_PAD_REFLECT;
  const bf16 *bd = b ? (const bf16 *)b->data : nullptr;
#ifdef SANA_HAVE_CUDNN
  if (conv3d_cudnn(be, y, x, w, b, T, Ci, Co, H, W, reflect)) return;
  bf16 *scratch;
  const bf16 *wo = weight_for_own(be, w, &scratch);
  if (!wo) {
    cuda_fail(be, OP, "out of device memory for the weight's layout (%lldx%lld)", (long long)Co, (long long)Ci);
    return;
  }
  conv3d_own(be, (bf16 *)y->data, (const bf16 *)x->data, wo, bd, T, Ci, Co, H, W, reflect);
  if (scratch) be->free(be, scratch);
#else
  conv3d_own(be, (bf16 *)y->data, (const bf16 *)x->data, (const bf16 *)w->data, bd, T, Ci, Co, H, W, reflect);
#endif
}
