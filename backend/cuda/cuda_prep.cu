/* The video family's ops (backend/ops_video.h) on the GPU: RGB8 frames to the model's planes
 * (cover-resize, crop, normalise) and back, one thread per output pixel.
 *
 * Bit-exact with the CPU reference (io/video_prep.c) in fp32: the interpolation taps are formed
 * as torch does (a float scale, the source coordinate in double, the fraction rounded to
 * float), and every float operation is an explicit _rn intrinsic in the reference's order, so
 * nvcc cannot contract a multiply and an add into an fma (the host code is compiled for plain
 * x86-64 SSE, which has no fma). */
#include <stdint.h>

#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"

extern "C" {
#include "backend/ops_video.h"
#include "io/video_prep.h"
}

#define PREP_THREADS 256

/* torch's source taps for output coordinate o of a resize in -> out (io/video_prep.c's
 * lin_taps): the right tap is the left one at the border. */
struct lin_tap {
  int i0, i1;
  float l0, l1;
};

__device__ __forceinline__ lin_tap tap_of(int in, int out, int o) {
  lin_tap t;
  if (in == out) {
    t.i0 = t.i1 = o;
    t.l0 = 1.0f;
    t.l1 = 0.0f;
    return t;
  }
  float scale = __fdiv_rn((float)in, (float)out);
  double src = __dadd_rn(__dmul_rn((double)scale, (double)o + 0.5), -0.5);
  if (src < 0.0) src = 0.0;
  int i0 = (int)src;
  t.i0 = i0;
  t.i1 = i0 + (i0 < in - 1 ? 1 : 0);
  float l1 = __double2float_rn(__dsub_rn(src, (double)i0));
  t.l1 = l1 < 0.0f ? 0.0f : (l1 > 1.0f ? 1.0f : l1);
  t.l0 = __fsub_rn(1.0f, t.l1);
  return t;
}

__device__ __forceinline__ float px(const uint8_t *row, int x, int c) {
  return __fdiv_rn((float)row[3 * (int64_t)x + c], 255.0f);
}

/* y [3, T, H, W] frames t0.. from rgb [n, h, w, 3]; the resize to (rh, rw) is read in the
 * window at (oy, ox). */
template <typename Y>
__global__ void frame_prep_kernel(Y *y, const uint8_t *rgb, int64_t n, int h, int w, int H, int W,
                                  int64_t plane, int64_t t0, int rh, int rw, int oy, int ox) {
  const int64_t HW = (int64_t)H * W;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * HW;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t f = i / HW;
    int p = (int)(i % HW), yy = p / W, xx = p % W;
    lin_tap ty = tap_of(h, rh, oy + yy), tx = tap_of(w, rw, ox + xx);
    const uint8_t *r0 = rgb + (f * h + ty.i0) * (int64_t)w * 3, *r1 = rgb + (f * h + ty.i1) * (int64_t)w * 3;
    Y *dst = y + (t0 + f) * HW + p;
#pragma unroll
    for (int c = 0; c < 3; c++) {
      /* the width interpolation of each row, then the height blend (torch's order) */
      float a = __fadd_rn(__fmul_rn(px(r0, tx.i0, c), tx.l0), __fmul_rn(px(r0, tx.i1, c), tx.l1));
      float b = __fadd_rn(__fmul_rn(px(r1, tx.i0, c), tx.l0), __fmul_rn(px(r1, tx.i1, c), tx.l1));
      float v = __fadd_rn(__fmul_rn(a, ty.l0), __fmul_rn(b, ty.l1));
      dst[c * plane] = from_f<Y>(__fdiv_rn(__fsub_rn(v, 0.5f), 0.5f));
    }
  }
}

/* rgb [n, H, W, 3] from frames t0.. of x [3, T, H, W]. */
template <typename X>
__global__ void frame_unprep_kernel(uint8_t *rgb, const X *x, int64_t n, int64_t HW, int64_t plane, int64_t t0) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * HW;
       i += (int64_t)gridDim.x * blockDim.x) {
    const X *src = x + t0 * HW + i; /* frame f = i / HW sits at (t0 + f)·HW + i % HW = t0·HW + i */
#pragma unroll
    for (int c = 0; c < 3; c++) {
      float v = __fadd_rn(__fmul_rn(127.5f, ld_f<X>(src + c * plane)), 127.5f);
      rgb[3 * i + c] = !(v > 0.0f) ? 0 : v > 255.0f ? 255 : (uint8_t)__float2uint_rz(v);
    }
  }
}

static int frames_ok(sana_backend *be, const char *op, const sana_tensor *rgb, const sana_tensor *planes,
                     int64_t t0, int same_size) {
  const char *why = sana_video_frames_problem(rgb, planes, t0, same_size);
  if (why) cuda_fail(be, op, "%s (t0 = %lld)", why, (long long)t0);
  return !why && CUDA_DTYPES(be, op, CUDA_FLOATS, planes);
}

static void cuda_frame_prep(sana_backend *be, sana_tensor *y, const sana_tensor *rgb, int64_t t0) {
  const char *op = "video.frame_prep";
  if (!frames_ok(be, op, rgb, y, t0, 0)) return;
  int64_t n = rgb->ne[0], h = rgb->ne[1], w = rgb->ne[2], H = y->ne[2], W = y->ne[3];
  if (h > INT32_MAX / 4 || w > INT32_MAX / 4 || H > INT32_MAX / 4 || W > INT32_MAX / 4) {
    cuda_fail(be, op, "frame too large");
    return;
  }
  sana_cover_geom g;
  sana_error e = {};
  if (sana_cover_geometry((int)h, (int)w, (int)H, (int)W, &g, &e)) {
    cuda_fail(be, op, "%s", e.msg);
    return;
  }
  if (!n || !H || !W) return;
  int64_t plane = y->ne[1] * H * W;
  unsigned grid = cuda_blocks(n * H * W, PREP_THREADS);
  cudaStream_t s = cuda_of(be)->stream;
  const uint8_t *src = (const uint8_t *)rgb->data;
#define PREP_LAUNCH(T)                                                                                   \
  frame_prep_kernel<T><<<grid, PREP_THREADS, 0, s>>>((T *)y->data, src, n, (int)h, (int)w, (int)H, (int)W, \
                                                      plane, t0, g.resize_h, g.resize_w, g.off_y, g.off_x)
  if (y->dtype == SANA_F32) PREP_LAUNCH(float);
  else if (y->dtype == SANA_BF16) PREP_LAUNCH(__nv_bfloat16);
  else PREP_LAUNCH(__half);
#undef PREP_LAUNCH
  cuda_after_launch(be, op);
}

static void cuda_frame_unprep(sana_backend *be, sana_tensor *rgb, const sana_tensor *x, int64_t t0) {
  const char *op = "video.frame_unprep";
  if (!frames_ok(be, op, rgb, x, t0, 1)) return;
  int64_t n = rgb->ne[0], H = x->ne[2], W = x->ne[3];
  if (!n || !H || !W) return;
  int64_t HW = H * W, plane = x->ne[1] * HW;
  unsigned grid = cuda_blocks(n * HW, PREP_THREADS);
  cudaStream_t s = cuda_of(be)->stream;
  uint8_t *dst = (uint8_t *)rgb->data;
  if (x->dtype == SANA_F32)
    frame_unprep_kernel<<<grid, PREP_THREADS, 0, s>>>(dst, (const float *)x->data, n, HW, plane, t0);
  else if (x->dtype == SANA_BF16)
    frame_unprep_kernel<<<grid, PREP_THREADS, 0, s>>>(dst, (const __nv_bfloat16 *)x->data, n, HW, plane, t0);
  else
    frame_unprep_kernel<<<grid, PREP_THREADS, 0, s>>>(dst, (const __half *)x->data, n, HW, plane, t0);
  cuda_after_launch(be, op);
}

static const struct sana_video_ops cuda_video_ops = {
    cuda_frame_prep, /* frame_prep */
    cuda_frame_unprep, /* frame_unprep */
};

void cuda_install_video_ops(sana_backend *be) { be->video = &cuda_video_ops; }
