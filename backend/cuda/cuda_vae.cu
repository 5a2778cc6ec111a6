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
 * Tiled (R a multiple of 16, C <= 2048): a block stages V voxels × all C channels in shared
 * memory with 16-byte loads, so x is read once (the two-pass kernel below re-reads it, from
 * DRAM at the VAE's sizes: three passes of traffic instead of two). V = 64 at 128 channels
 * down to 16 (32-byte row segments) at 512 and more, so the tile stays small and a wave has
 * enough blocks. */

#define RMS_MAX_C 2048

template <int V>
__global__ void __launch_bounds__(256) rms_norm_act_tile_kernel(bf16 *y, const bf16 *x, int C, int64_t R, float eps,
                                                                int act) {
  extern __shared__ __align__(16) unsigned char rms_smem[];
  bf16 *tile = (bf16 *)rms_smem; /* [C][V] */
  constexpr int G = 256 / V, Q = V / 8; /* channel groups for the sums; 16-byte pieces per row */
  __shared__ float part[G][V];
  const int tid = threadIdx.x;
  const int64_t r0 = (int64_t)blockIdx.x * V, base = (int64_t)blockIdx.y * C * R + r0;
  const int nv = R - r0 < V ? (int)(R - r0) : V; /* a multiple of 16 */
  for (int e = tid; e < C * Q; e += 256) {
    int c = e / Q, q = e % Q;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (8 * q < nv) v = *(const uint4 *)(x + base + (int64_t)c * R + 8 * q);
    *(uint4 *)(tile + c * V + 8 * q) = v;
  }
  __syncthreads();
  {
    const int v = tid % V, g = tid / V;
    float s = 0.0f;
    for (int c = g; c < C; c += G) {
      float f = __bfloat162float(tile[c * V + v]);
      s += f * f;
    }
    part[g][v] = s;
  }
  __syncthreads();
  if (tid < V) {
    float s = 0.0f;
#pragma unroll
    for (int g = 0; g < G; g++) s += part[g][tid];
    part[0][tid] = rsqrtf(s / (float)C + eps);
  }
  __syncthreads();
  for (int e = tid; e < C * Q; e += 256) {
    int c = e / Q, q = e % Q;
    if (8 * q >= nv) continue;
    float f[8];
    bf16x8_to_f(*(const uint4 *)(tile + c * V + 8 * q), f);
#pragma unroll
    for (int k = 0; k < 8; k++) f[k] = dev_act(f[k] * part[0][8 * q + k], act);
    *(uint4 *)(y + base + (int64_t)c * R + 8 * q) = f_to_bf16x8(f);
  }
}

template <int V>
static void rms_tile_launch(sana_backend *be, bf16 *y, const bf16 *x, int64_t T, int C, int64_t R, float eps, int act) {
  static bool attr_set = false;
  size_t smem = (size_t)C * V * sizeof(bf16);
  if (!attr_set) {
    CUDA_OK(be, "vae.rms_norm_act",
            cudaFuncSetAttribute(rms_norm_act_tile_kernel<V>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 RMS_MAX_C * 16 * (int)sizeof(bf16)));
    attr_set = true;
  }
  rms_norm_act_tile_kernel<V><<<dim3((unsigned)((R + V - 1) / V), (unsigned)T), 256, smem, cuda_of(be)->stream>>>(
      y, x, C, R, eps, act);
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
  if (C <= RMS_MAX_C && R % 16 == 0 && T <= 65535 && cuda_aligned16(y->data, x->data)) {
    bf16 *yd = (bf16 *)y->data;
    const bf16 *xd = (const bf16 *)x->data;
    if (C <= 128) rms_tile_launch<64>(be, yd, xd, T, (int)C, R, eps, act);
    else if (C <= 256) rms_tile_launch<32>(be, yd, xd, T, (int)C, R, eps, act);
    else rms_tile_launch<16>(be, yd, xd, T, (int)C, R, eps, act);
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

/* sw == 2 (the VAE's spatial unshuffles): the two iw of a pair of u channels are adjacent
 * pixels of x, one 32-bit load. Grouped (group even): one thread per output, group/2 loads.
 * Ungrouped (group 1): one thread per output pair (u channels 2p, 2p+1). */
template <typename I>
__global__ void s2d_grouped_pairs_kernel(bf16 *y, const bf16 *x, I To, I Co, I Ho, I Wo, I C, int st, int sh,
                                         int group, int accumulate) {
  const I H = Ho * sh, W = Wo * 2, prod = (I)st * sh * 2;
  const float inv = 1.0f / (float)group;
  GRID_LOOP(I, i, To * Co * Ho * Wo) {
    I wo = i % Wo, ho = i / Wo % Ho, co = i / (Wo * Ho) % Co, to = i / (Wo * Ho * Co);
    float s = 0.0f;
    for (int k = 0; k < group; k += 2) {
      I cu = co * group + k, c = cu / prod, it = cu / (sh * 2) % st, ih = cu / 2 % sh;
      __nv_bfloat162 v = *(const __nv_bfloat162 *)(x + (((to * st + it) * C + c) * H + ho * sh + ih) * W + 2 * wo);
      float2 f = __bfloat1622float2(v);
      s += f.x * inv + f.y * inv;
    }
    if (accumulate) s += __bfloat162float(y[i]);
    y[i] = __float2bfloat16_rn(s);
  }
}

template <typename I>
__global__ void s2d_pairs_kernel(bf16 *y, const bf16 *x, I To, I Cu, I Ho, I Wo, I C, int st, int sh, int accumulate) {
  const I H = Ho * sh, W = Wo * 2, prod = (I)st * sh * 2, HWo = Ho * Wo;
  GRID_LOOP(I, i, To * (Cu / 2) * HWo) {
    I wo = i % Wo, ho = i / Wo % Ho, pr = i / HWo % (Cu / 2), to = i / (HWo * (Cu / 2));
    I cu = 2 * pr, c = cu / prod, it = cu / (sh * 2) % st, ih = cu / 2 % sh;
    float2 f = __bfloat1622float2(
        *(const __nv_bfloat162 *)(x + (((to * st + it) * C + c) * H + ho * sh + ih) * W + 2 * wo));
    bf16 *y0 = y + (to * Cu + cu) * HWo + ho * Wo + wo, *y1 = y0 + HWo;
    if (accumulate) f.x += __bfloat162float(*y0), f.y += __bfloat162float(*y1);
    *y0 = __float2bfloat16_rn(f.x);
    *y1 = __float2bfloat16_rn(f.y);
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
  cudaStream_t s = cuda_of(be)->stream;
  bf16 *yd = (bf16 *)y->data;
  const bf16 *xd = (const bf16 *)x->data;
  if (sw == 2 && group % 2 == 0 && ((uintptr_t)xd & 3) == 0)
    IDX_LAUNCH(n + sana_numel(x), s2d_grouped_pairs_kernel, cuda_blocks(n, VAE_THREADS), s, yd, xd, T / st, y->ne[1],
               H / sh, W / 2, C, st, sh, group, accumulate);
  else if (sw == 2 && group == 1 && ((uintptr_t)xd & 3) == 0)
    IDX_LAUNCH(n + sana_numel(x), s2d_pairs_kernel, cuda_blocks(n / 2, VAE_THREADS), s, yd, xd, T / st, y->ne[1],
               H / sh, W / 2, C, st, sh, accumulate);
  else
    IDX_LAUNCH(n + sana_numel(x), s2d_kernel, cuda_blocks(n, VAE_THREADS), s, yd, xd, T / st, y->ne[1], H / sh,
               W / sw, C, st, sh, sw, group, accumulate);
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

/* sw == 2 (the VAE's upsamplers): one thread per x pixel and u channel pair (iw = 0, 1), two
 * coalesced loads, one 32-bit store per repeat: y[ts][r·C + c][h·sh + ih][2w, 2w + 1]. */
template <typename I>
__global__ void d2s_pairs_kernel(bf16 *y, const bf16 *x, I T, I C, I H, I W, int st, int sh, int repeats, int trim,
                                 int accumulate) {
  const I Cx = C * st * sh * 2, Ho = H * sh, Wo = W * 2, HW = H * W;
  GRID_LOOP(I, i, T * C * st * sh * HW) {
    I w = i % W, h = i / W % H, r = i / HW;
    I ih = r % sh, it = r / sh % st, c = r / (sh * st) % C, t = r / (sh * st * C);
    I ts = t * st + it;
    if (ts < (I)trim) continue;
    ts -= trim;
    I cx = ((c * st + it) * sh + ih) * 2;
    const bf16 *xp = x + (t * Cx + cx) * HW + h * W + w;
    float2 f = make_float2(__bfloat162float(xp[0]), __bfloat162float(xp[HW]));
    for (int rep = 0; rep < repeats; rep++) {
      __nv_bfloat162 *dst = (__nv_bfloat162 *)(y + ((ts * C * repeats + rep * C + c) * Ho + h * sh + ih) * Wo + 2 * w);
      float2 g = f;
      if (accumulate) {
        float2 o = __bfloat1622float2(*dst);
        g.x += o.x, g.y += o.y;
      }
      *dst = __floats2bfloat162_rn(g.x, g.y);
    }
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
  cudaStream_t s = cuda_of(be)->stream;
  if (sw == 2 && ((uintptr_t)y->data & 3) == 0)
    IDX_LAUNCH(n + sana_numel(x), d2s_pairs_kernel, cuda_blocks(sana_numel(x) / 2, VAE_THREADS), s, (bf16 *)y->data,
               (const bf16 *)x->data, T, C, H, W, st, sh, repeats, trim, accumulate);
  else
    IDX_LAUNCH(n + sana_numel(x), d2s_kernel, cuda_blocks(n, VAE_THREADS), s, (bf16 *)y->data,
               (const bf16 *)x->data, To, C * repeats, H * sh, W * sw, C, st, sh, sw, trim, accumulate);
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
