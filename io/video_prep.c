/* Frame conversion with upstream's arithmetic; see video_prep.h. The interpolation weights
 * match torch's bit for bit; the blend of the four taps matches to within one fp32 rounding
 * (torch's vectorised kernel groups the multiply-adds in a way we do not reproduce: about
 * 70% of values are bit-equal, the rest differ by one ulp). */
#include "io/video_prep.h"

#include <math.h>
#include <stdlib.h>

#include "core/bf16.h"

sana_status sana_cover_geometry(int src_h, int src_w, int dst_h, int dst_w, sana_cover_geom *g,
                                sana_error *err) {
  if (src_h <= 0 || src_w <= 0 || dst_h <= 0 || dst_w <= 0)
    return sana_err(err, SANA_ERR_ARG, "cover resize: bad sizes %dx%d -> %dx%d", src_w, src_h, dst_w, dst_h);
  double rh = (double)dst_h / src_h, rw = (double)dst_w / src_w;
  /* nearbyint in the default rounding mode is Python's round(): half to even. */
  if (rh > rw) {
    g->resize_h = dst_h;
    g->resize_w = (int)nearbyint(src_w * rh);
  } else {
    g->resize_h = (int)nearbyint(src_h * rw);
    g->resize_w = dst_w;
  }
  /* int(round(s − d)/2.0): the difference is an integer, halving then truncating. */
  g->off_y = (int)((g->resize_h - dst_h) / 2.0);
  g->off_x = (int)((g->resize_w - dst_w) / 2.0);
  if (g->resize_h < dst_h || g->resize_w < dst_w)
    return sana_err(err, SANA_ERR_ARG, "cover resize: %dx%d -> %dx%d does not cover", src_w, src_h, dst_w, dst_h);
  return SANA_OK;
}

/* torch's source index and weights for one output coordinate. Measured against torch 1.13
 * (one-hot inputs reveal the weights exactly): the scale in/out is a float, the source index
 * scale·(o + 0.5) − 0.5 is formed in double, clamped at 0, and only the fractional part is
 * rounded to float. The right tap is the left one at the border. */
typedef struct {
  int i0, i1;
  float l0, l1;
} lin_tap;

static void lin_taps(int in, int out, int first, int n, lin_tap *taps) {
  float scale = (float)in / (float)out;
  for (int k = 0; k < n; k++) {
    int o = first + k;
    lin_tap *t = &taps[k];
    if (in == out) {
      t->i0 = t->i1 = o;
      t->l0 = 1.0f;
      t->l1 = 0.0f;
      continue;
    }
    double src = (double)scale * (o + 0.5) - 0.5;
    if (src < 0.0) src = 0.0;
    int i0 = (int)src;
    t->i0 = i0;
    t->i1 = i0 + (i0 < in - 1 ? 1 : 0);
    float l1 = (float)(src - i0);
    t->l1 = l1 < 0.0f ? 0.0f : (l1 > 1.0f ? 1.0f : l1);
    t->l0 = 1.0f - t->l1;
  }
}

sana_status sana_resize_bilinear_plane(const float *src, int h, int w, ptrdiff_t src_stride, int rh, int rw,
                                       int y0, int x0, int oh, int ow, float *dst, sana_error *err) {
  lin_tap *ty = malloc(sizeof *ty * (size_t)oh), *tx = malloc(sizeof *tx * (size_t)ow);
  if (!ty || !tx) {
    free(ty);
    free(tx);
    return sana_err(err, SANA_ERR_NOMEM, "bilinear resize to %dx%d", ow, oh);
  }
  lin_taps(h, rh, y0, oh, ty);
  lin_taps(w, rw, x0, ow, tx);
  for (int y = 0; y < oh; y++) {
    const float *r0 = src + ty[y].i0 * src_stride, *r1 = src + ty[y].i1 * src_stride;
    float h0 = ty[y].l0, h1 = ty[y].l1;
    for (int x = 0; x < ow; x++) {
      /* torch's order: the width interpolation of each row, then the height blend. */
      float a = r0[tx[x].i0] * tx[x].l0 + r0[tx[x].i1] * tx[x].l1;
      float b = r1[tx[x].i0] * tx[x].l0 + r1[tx[x].i1] * tx[x].l1;
      dst[(size_t)y * ow + x] = a * h0 + b * h1;
    }
  }
  free(ty);
  free(tx);
  return SANA_OK;
}

sana_status sana_video_prep_frame(const uint8_t *rgb, int h, int w, ptrdiff_t stride, int dst_h, int dst_w,
                                  sana_dtype dtype, void *out, ptrdiff_t plane_stride, sana_error *err) {
  if (dtype != SANA_F32 && dtype != SANA_BF16)
    return sana_err(err, SANA_ERR_DTYPE, "frame preprocessing: output dtype %s (want F32 or BF16)",
                    sana_dtype_name(dtype));
  sana_cover_geom g;
  sana_status st = sana_cover_geometry(h, w, dst_h, dst_w, &g, err);
  if (st) return st;
  size_t n_src = (size_t)h * w, n_dst = (size_t)dst_h * dst_w;
  float *plane = malloc(sizeof(float) * (n_src + n_dst));
  if (!plane) return sana_err(err, SANA_ERR_NOMEM, "frame preprocessing: %dx%d scratch", w, h);
  float *res = plane + n_src;
  for (int c = 0; c < 3; c++) {
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) plane[(size_t)y * w + x] = (float)rgb[y * stride + 3 * x + c] / 255.0f;
    st = sana_resize_bilinear_plane(plane, h, w, w, g.resize_h, g.resize_w, g.off_y, g.off_x, dst_h, dst_w, res, err);
    if (st) break;
    for (size_t i = 0; i < n_dst; i++) {
      float v = (res[i] - 0.5f) / 0.5f;
      if (dtype == SANA_F32)
        ((float *)out)[c * plane_stride + (ptrdiff_t)i] = v;
      else
        ((uint16_t *)out)[c * plane_stride + (ptrdiff_t)i] = sana_f32_to_bf16(v);
    }
  }
  free(plane);
  return st;
}

uint8_t sana_video_to_u8(float x) {
  /* Two roundings (the multiply, then the add) as torch's two elementwise ops; volatile keeps
   * the compiler from fusing them into one fma. */
  volatile float m = 127.5f * x;
  float v = m + 127.5f;
  if (!(v > 0.0f)) return 0; /* also NaN */
  if (v > 255.0f) return 255;
  return (uint8_t)v;
}

sana_status sana_video_unprep_frame(const void *in, sana_dtype dtype, ptrdiff_t plane_stride, int h, int w,
                                    uint8_t *rgb, sana_error *err) {
  if (dtype != SANA_F32 && dtype != SANA_BF16)
    return sana_err(err, SANA_ERR_DTYPE, "frame output conversion: input dtype %s (want F32 or BF16)",
                    sana_dtype_name(dtype));
  size_t n = (size_t)h * w;
  for (int c = 0; c < 3; c++)
    for (size_t i = 0; i < n; i++) {
      ptrdiff_t k = c * plane_stride + (ptrdiff_t)i;
      float x = dtype == SANA_F32 ? ((const float *)in)[k] : sana_bf16_to_f32(((const uint16_t *)in)[k]);
      rgb[3 * i + c] = sana_video_to_u8(x);
    }
  return SANA_OK;
}
