/* CUDA implementation of the vae family's ops (backend/ops_vae.h), bf16 storage, fp32 math.
 * conv3d lives in cuda_vae_conv3d.cu; the other ops are one pass each. */
#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"
extern "C" {
#include "backend/ops_vae.h"
}

/* cuda_vae_conv3d.cu */
void cuda_conv3d(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w, const sana_tensor *b,
                 sana_pad_mode pad);

#define VAE_THREADS 256
typedef __nv_bfloat16 bf16;

/* Index math in 32 bits where the tensor allows (64-bit division is a long subroutine that
 * dominated these bandwidth-bound kernels); IDX_LAUNCH picks the instance by element count. */
#define GRID_LOOP(I, i, n) for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < (I)(n); i += (I)gridDim.x * blockDim.x)
#define IDX_LAUNCH(n, kern, grid, s, ...)                                                      \
  do {                                                                                         \
    if ((int64_t)(n) < ((int64_t)1 << 31)) kern<uint32_t><<<(grid), VAE_THREADS, 0, (s)>>>(__VA_ARGS__); \
    else kern<int64_t><<<(grid), VAE_THREADS, 0, (s)>>>(__VA_ARGS__);                           \
  } while (0)

/* ---- rms_norm_act ----
 * Tiled (C <= RMS_TILE_MAX_C, R a multiple of 8): a block stages 64 voxels × all C channels in
 * shared memory with 16-byte loads, so x is read once (the two-pass kernel below re-reads it,
 * from DRAM at the VAE's sizes: three passes of traffic instead of two). */

#define RMS_V 64 /* voxels per block */
#define RMS_TILE_MAX_C 512

__global__ void __launch_bounds__(256) rms_norm_act_tile_kernel(bf16 *y, const bf16 *x, int C, int64_t R, float eps,
                                                                int act) {
  extern __shared__ __align__(16) unsigned char rms_smem[];
  bf16 *tile = (bf16 *)rms_smem; /* [C][RMS_V] */
  __shared__ float part[4][RMS_V];
  const int tid = threadIdx.x;
  const int64_t r0 = (int64_t)blockIdx.x * RMS_V, base = (int64_t)blockIdx.y * C * R + r0;
  const int nv = R - r0 < RMS_V ? (int)(R - r0) : RMS_V; /* a multiple of 8 */
  for (int e = tid; e < C * (RMS_V / 8); e += 256) {
    int c = e / (RMS_V / 8), q = e % (RMS_V / 8);
    uint4 v = make_uint4(0, 0, 0, 0);
    if (8 * q < nv) v = *(const uint4 *)(x + base + (int64_t)c * R + 8 * q);
    *(uint4 *)(tile + c * RMS_V + 8 * q) = v;
  }
  __syncthreads();
  {
    const int v = tid % RMS_V, g = tid / RMS_V;
    float s = 0.0f;
    for (int c = g; c < C; c += 4) {
      float f = __bfloat162float(tile[c * RMS_V + v]);
      s += f * f;
    }
    part[g][v] = s;
  }
  __syncthreads();
  if (tid < RMS_V) part[0][tid] = rsqrtf((part[0][tid] + part[1][tid] + part[2][tid] + part[3][tid]) / (float)C + eps);
  __syncthreads();
  for (int e = tid; e < C * (RMS_V / 8); e += 256) {
    int c = e / (RMS_V / 8), q = e % (RMS_V / 8);
    if (8 * q >= nv) continue;
    float f[8];
    bf16x8_to_f(*(const uint4 *)(tile + c * RMS_V + 8 * q), f);
#pragma unroll
    for (int k = 0; k < 8; k++) f[k] = dev_act(f[k] * part[0][8 * q + k], act);
    *(uint4 *)(y + base + (int64_t)c * R + 8 * q) = f_to_bf16x8(f);
  }
}

/* any shape: one thread per voxel, two passes over the channels */
__global__ void rms_norm_act_kernel(bf16 *y, const bf16 *x, int64_t T, int64_t C, int64_t R, float eps, int act) {
  GRID_LOOP(int64_t, i, T * R) {
    int64_t t = i / R, r = i % R;
    const bf16 *xp = x + t * C * R + r;
    float s = 0.0f;
    for (int64_t c = 0; c < C; c++) {
      float v = __bfloat162float(xp[c * R]);
      s += v * v;
    }
    float inv = rsqrtf(s / (float)C + eps);
    bf16 *yp = y + t * C * R + r;
    for (int64_t c = 0; c < C; c++) yp[c * R] = __float2bfloat16_rn(dev_act(__bfloat162float(xp[c * R]) * inv, act));
  }
}

static void cuda_rms_norm_act(sana_backend *be, sana_tensor *y, const sana_tensor *x, float eps, sana_act act) {
  const char *op = "vae.rms_norm_act";
  if (!CUDA_DTYPES(be, op, CUDA_BF16_ONLY, y, x)) return;
  if (x->nd < 2 || sana_numel(x) != sana_numel(y)) {
    cuda_fail(be, op, "expected x[T,C,...] and y of the same size");
    return;
  }
  int64_t T = x->ne[0], C = x->ne[1], R = T * C > 0 ? sana_numel(x) / (T * C) : 0;
  if (T * R == 0) return;
  cudaStream_t s = cuda_of(be)->stream;
  if (C <= RMS_TILE_MAX_C && R % 8 == 0 && T <= 65535 && cuda_aligned16(y->data, x->data)) {
    static bool attr_set = false;
    if (!attr_set) {
      CUDA_OK(be, op, cudaFuncSetAttribute(rms_norm_act_tile_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           RMS_TILE_MAX_C * RMS_V * (int)sizeof(bf16)));
      attr_set = true;
    }
    rms_norm_act_tile_kernel<<<dim3((unsigned)((R + RMS_V - 1) / RMS_V), (unsigned)T), 256,
                               (size_t)C * RMS_V * sizeof(bf16), s>>>((bf16 *)y->data, (const bf16 *)x->data, (int)C,
                                                                      R, eps, act);
  } else {
    rms_norm_act_kernel<<<cuda_blocks(T * R, VAE_THREADS), VAE_THREADS, 0, s>>>((bf16 *)y->data,
                                                                               (const bf16 *)x->data, T, C, R, eps, act);
  }
  cuda_after_launch(be, op);
}

/* ---- space_to_depth / depth_to_space / patchify / transpose01: one thread per output ---- */

template <typename I>
__global__ void s2d_kernel(bf16 *y, const bf16 *x, I To, I Co, I Ho, I Wo, I C,
                           int st, int sh, int sw, int group, int accumulate) {
  const I H = Ho * sh, W = Wo * sw, prod = (I)st * sh * sw;
  const float inv = 1.0f / (float)group;
  GRID_LOOP(I, i, To * Co * Ho * Wo) {
    I wo = i % Wo, ho = i / Wo % Ho, co = i / (Wo * Ho) % Co, to = i / (Wo * Ho * Co);
    float s = 0.0f;
    for (int k = 0; k < group; k++) {
      I cu = co * group + k, c = cu / prod, it = cu / (sh * sw) % st, ih = cu / sw % sh, iw = cu % sw;
      s += __bfloat162float(x[(((to * st + it) * C + c) * H + ho * sh + ih) * W + wo * sw + iw]) * inv;
    }
    if (accumulate) s += __bfloat162float(y[i]);
    y[i] = __float2bfloat16_rn(s);
  }
}

static void cuda_space_to_depth(sana_backend *be, sana_tensor *y, const sana_tensor *x, int st, int sh, int sw,
                                int group, int accumulate) {
  if (!CUDA_DTYPES(be, "vae.space_to_depth", CUDA_BF16_ONLY, y, x)) return;
  int64_t T = x->ne[0], C = x->ne[1], H = x->ne[2], W = x->ne[3], prod = (int64_t)st * sh * sw;
  if (x->nd != 4 || y->nd != 4 || st < 1 || sh < 1 || sw < 1 || group < 1 || T % st || H % sh || W % sw ||
      (C * prod) % group || y->ne[0] != T / st || y->ne[1] != C * prod / group || y->ne[2] != H / sh ||
      y->ne[3] != W / sw) {
    cuda_fail(be, "vae.space_to_depth", "shape mismatch");
    return;
  }
  int64_t n = sana_numel(y);
  if (n == 0) return;
  IDX_LAUNCH(n + sana_numel(x), s2d_kernel, cuda_blocks(n, VAE_THREADS), cuda_of(be)->stream,
      (bf16 *)y->data, (const bf16 *)x->data, T / st, y->ne[1], H / sh, W / sw, C, st, sh, sw, group, accumulate);
  cuda_after_launch(be, "vae.space_to_depth");
}

template <typename I>
__global__ void d2s_kernel(bf16 *y, const bf16 *x, I To, I Cy, I Ho, I Wo, I C,
                           int st, int sh, int sw, int trim, int accumulate) {
  const I H = Ho / sh, W = Wo / sw, Cx = C * st * sh * sw;
  GRID_LOOP(I, i, To * Cy * Ho * Wo) {
    I wo = i % Wo, ho = i / Wo % Ho, co = i / (Wo * Ho) % Cy, to = i / (Wo * Ho * Cy);
    I ts = to + trim, t = ts / st, it = ts % st, c = co % C;
    I cx = ((c * st + it) * sh + ho % sh) * sw + wo % sw;
    float v = __bfloat162float(x[((t * Cx + cx) * H + ho / sh) * W + wo / sw]);
    if (accumulate) v += __bfloat162float(y[i]);
    y[i] = __float2bfloat16_rn(v);
  }
}

static void cuda_depth_to_space(sana_backend *be, sana_tensor *y, const sana_tensor *x, int st, int sh, int sw,
                                int repeats, int trim, int accumulate) {
  if (!CUDA_DTYPES(be, "vae.depth_to_space", CUDA_BF16_ONLY, y, x)) return;
  int64_t T = x->ne[0], Cx = x->ne[1], H = x->ne[2], W = x->ne[3], prod = (int64_t)st * sh * sw;
  int64_t C = prod > 0 ? Cx / prod : 0, To = T * st - trim;
  if (x->nd != 4 || y->nd != 4 || prod < 1 || Cx % prod || To < 0 || trim < 0 || repeats < 1 || y->ne[0] != To ||
      y->ne[1] != C * repeats || y->ne[2] != H * sh || y->ne[3] != W * sw) {
    cuda_fail(be, "vae.depth_to_space", "shape mismatch");
    return;
  }
  int64_t n = sana_numel(y);
  if (n == 0) return;
  IDX_LAUNCH(n + sana_numel(x), d2s_kernel, cuda_blocks(n, VAE_THREADS), cuda_of(be)->stream,
      (bf16 *)y->data, (const bf16 *)x->data, To, C * repeats, H * sh, W * sw, C, st, sh, sw, trim, accumulate);
  cuda_after_launch(be, "vae.depth_to_space");
}

/* one thread per pixel element (t, c, Y, X); pat channel c·p² + (X % p)·p + Y % p */
template <typename I>
__global__ void patchify_kernel(bf16 *pix, bf16 *pat, I T, I C, I H, I W, int p,
                                int unpatch) {
  const I h = H / p, w = W / p;
  GRID_LOOP(I, i, T * C * H * W) {
    I X = i % W, Y = i / W % H, c = i / (W * H) % C, t = i / (W * H * C);
    I cp = c * p * p + (X % p) * p + Y % p;
    I j = ((t * C * p * p + cp) * h + Y / p) * w + X / p;
    if (unpatch) pix[i] = pat[j];
    else pat[j] = pix[i];
  }
}

static void cuda_patchify(sana_backend *be, sana_tensor *y, const sana_tensor *x, int p, int unpatch) {
  if (!CUDA_DTYPES(be, "vae.patchify", CUDA_BF16_ONLY, y, x)) return;
  const sana_tensor *pix = unpatch ? y : x, *pat = unpatch ? x : y;
  int64_t T = pix->ne[0], C = pix->ne[1], H = pix->ne[2], W = pix->ne[3];
  if (pix->nd != 4 || pat->nd != 4 || p < 1 || H % p || W % p || pat->ne[0] != T || pat->ne[1] != C * p * p ||
      pat->ne[2] != H / p || pat->ne[3] != W / p) {
    cuda_fail(be, "vae.patchify", "shape mismatch");
    return;
  }
  int64_t n = sana_numel(pix);
  if (n == 0) return;
  IDX_LAUNCH(n, patchify_kernel, cuda_blocks(n, VAE_THREADS), cuda_of(be)->stream,
      (bf16 *)pix->data, (bf16 *)pat->data, T, C, H, W, p, unpatch);
  cuda_after_launch(be, "vae.patchify");
}

template <typename I>
__global__ void transpose01_kernel(bf16 *y, const bf16 *x, I A, I B, I R) {
  GRID_LOOP(I, i, A * B * R) {
    I r = i % R, b = i / R % B, a = i / (R * B);
    y[i] = x[(b * A + a) * R + r];
  }
}

static void cuda_transpose01(sana_backend *be, sana_tensor *y, const sana_tensor *x) {
  if (!CUDA_DTYPES(be, "vae.transpose01", CUDA_BF16_ONLY, y, x)) return;
  if (x->nd < 2 || sana_numel(x) != sana_numel(y) || y->data == x->data) {
    cuda_fail(be, "vae.transpose01", "shape mismatch");
    return;
  }
  int64_t B = x->ne[0], A = x->ne[1], R = A * B > 0 ? sana_numel(x) / (A * B) : 0;
  if (A * B * R == 0) return;
  IDX_LAUNCH(A * B * R, transpose01_kernel, cuda_blocks(A * B * R, VAE_THREADS), cuda_of(be)->stream,
      (bf16 *)y->data, (const bf16 *)x->data, A, B, R);
  cuda_after_launch(be, "vae.transpose01");
}

/* ---- channel_affine, axpby ---- */

template <typename I>
__global__ void channel_affine_kernel(bf16 *y, const bf16 *x, const float *ss, I T, I C, I R) {
  GRID_LOOP(I, i, T * C * R) {
    I c = i / R % C;
    y[i] = __float2bfloat16_rn(__bfloat162float(x[i]) * ss[c] + ss[C + c]);
  }
}

static void cuda_channel_affine(sana_backend *be, sana_tensor *y, const sana_tensor *x, const float *scale,
                                const float *shift) {
  const char *op = "vae.channel_affine";
  if (!CUDA_DTYPES(be, op, CUDA_BF16_ONLY, y, x)) return;
  if (x->nd < 2 || sana_numel(x) != sana_numel(y) || !scale || !shift) {
    cuda_fail(be, op, "shape mismatch or missing scale/shift");
    return;
  }
  int64_t T = x->ne[0], C = x->ne[1], R = T * C > 0 ? sana_numel(x) / (T * C) : 0;
  if (T * C * R == 0) return;
  /* The host arrays go through a temporary device buffer: a pageable cudaMemcpyAsync has copied
   * them out by the time it returns, and the freed block is reused only by later stream work. */
  size_t bytes = (size_t)(2 * C) * sizeof(float);
  float *ss = (float *)be->alloc(be, bytes);
  if (!ss) {
    cuda_fail(be, op, "out of device memory for %lld channels", (long long)C);
    return;
  }
  cudaStream_t s = cuda_of(be)->stream;
  if (CUDA_OK(be, op, cudaMemcpyAsync(ss, scale, bytes / 2, cudaMemcpyHostToDevice, s)) &&
      CUDA_OK(be, op, cudaMemcpyAsync(ss + C, shift, bytes / 2, cudaMemcpyHostToDevice, s))) {
    IDX_LAUNCH(T * C * R, channel_affine_kernel, cuda_blocks(T * C * R, VAE_THREADS), s,
        (bf16 *)y->data, (const bf16 *)x->data, ss, T, C, R);
    cuda_after_launch(be, op);
  }
  be->free(be, ss);
}

__global__ void axpby_kernel(bf16 *y, const bf16 *x, int64_t n, float a, float b) {
  GRID_LOOP(int64_t, i, n) y[i] = __float2bfloat16_rn(__bfloat162float(x[i]) * a + __bfloat162float(y[i]) * b);
}

__global__ void axpby8_kernel(uint4 *y, const uint4 *x, int64_t n8, float a, float b) {
  GRID_LOOP(int64_t, i, n8) {
    float fx[8], fy[8];
    bf16x8_to_f(x[i], fx);
    bf16x8_to_f(y[i], fy);
#pragma unroll
    for (int k = 0; k < 8; k++) fy[k] = fx[k] * a + fy[k] * b;
    y[i] = f_to_bf16x8(fy);
  }
}

static void cuda_axpby(sana_backend *be, sana_tensor *y, const sana_tensor *x, float a, float b) {
  if (!CUDA_DTYPES(be, "vae.axpby", CUDA_BF16_ONLY, y, x)) return;
  int64_t n = sana_numel(x);
  if (n != sana_numel(y)) {
    cuda_fail(be, "vae.axpby", "element counts differ");
    return;
  }
  if (n == 0) return;
  cudaStream_t s = cuda_of(be)->stream;
  if (n % 8 == 0 && cuda_aligned16(y->data, x->data))
    axpby8_kernel<<<cuda_blocks(n / 8, VAE_THREADS), VAE_THREADS, 0, s>>>((uint4 *)y->data, (const uint4 *)x->data,
                                                                          n / 8, a, b);
  else
    axpby_kernel<<<cuda_blocks(n, VAE_THREADS), VAE_THREADS, 0, s>>>((bf16 *)y->data, (const bf16 *)x->data, n, a,
                                                                     b);
  cuda_after_launch(be, "vae.axpby");
}

static const struct sana_vae_ops cuda_vae_ops = {
    /* .conv3d = */ cuda_conv3d,
    /* .rms_norm_act = */ cuda_rms_norm_act,
    /* .space_to_depth = */ cuda_space_to_depth,
    /* .depth_to_space = */ cuda_depth_to_space,
    /* .patchify = */ cuda_patchify,
    /* .transpose01 = */ cuda_transpose01,
    /* .channel_affine = */ cuda_channel_affine,
    /* .axpby = */ cuda_axpby,
};

void cuda_install_vae_ops(sana_backend *be) { be->vae = &cuda_vae_ops; }
