/* CPU implementation of the vae family's ops (backend/ops_vae.h): plain loops in fp32, the 3-D
 * conv as im2col + OpenBLAS sgemm. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/ops_vae.h"

/* im2col works on column tiles of the output plane so the buffer stays bounded (a 1280x704
 * frame at 128 channels would need 780 MB at once). */
#define CONV_COLS 4096

static int64_t pad_index(int64_t i, int64_t n, sana_pad_mode pad) {
  if (i >= 0 && i < n) return i;
  if (pad == SANA_PAD_ZEROS) return -1;
  return i < 0 ? -i : 2 * n - 2 - i; /* reflect: -1 -> 1, n -> n-2 */
}

static void cpu_conv3d(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                       const sana_tensor *b, sana_pad_mode pad) {
  if (!CPU_F32(be, "vae.conv3d", y, x, w, b)) return;
  if (x->nd != 4 || y->nd != 4 || w->nd != 5 || w->ne[2] != 3 || w->ne[3] != 3 || w->ne[4] != 3) {
    cpu_fail(be, "vae.conv3d", "expected x[T+2,Ci,H,W], y[T,Co,H,W], w[Co,Ci,3,3,3]");
    return;
  }
  int64_t T = y->ne[0], Co = y->ne[1], H = y->ne[2], W = y->ne[3], Ci = x->ne[1];
  if (x->ne[0] != T + 2 || x->ne[2] != H || x->ne[3] != W || w->ne[0] != Co || w->ne[1] != Ci ||
      (b && b->ne[0] != Co)) {
    cpu_fail(be, "vae.conv3d", "shape mismatch (x %lldx%lld, y %lldx%lld, w %lldx%lld)", (long long)x->ne[0],
             (long long)Ci, (long long)T, (long long)Co, (long long)w->ne[0], (long long)w->ne[1]);
    return;
  }
  if (pad == SANA_PAD_REFLECT && (H < 2 || W < 2)) {
    cpu_fail(be, "vae.conv3d", "reflect padding needs H, W >= 2 (got %lldx%lld)", (long long)H, (long long)W);
    return;
  }
  int64_t HW = H * W, K = Ci * 27, ncol = HW < CONV_COLS ? HW : CONV_COLS;
  float *col = malloc((size_t)(K * ncol) * sizeof(float));
  float *tmp = malloc((size_t)(Co * ncol) * sizeof(float));
  if (!col || !tmp) {
    free(col), free(tmp);
    cpu_fail(be, "vae.conv3d", "out of memory for the im2col buffer");
    return;
  }
  const float *xd = x->data, *wd = w->data, *bd = b ? b->data : NULL;
  float *yd = y->data;
  for (int64_t t = 0; t < T; t++) {
    for (int64_t p0 = 0; p0 < HW; p0 += ncol) {
      int64_t n = HW - p0 < ncol ? HW - p0 : ncol;
      /* col[(ci·27 + kt·9 + kh·3 + kw), j] = x[t+kt, ci, h+kh−1, w+kw−1], the weight's order */
      for (int64_t ci = 0; ci < Ci; ci++)
        for (int kt = 0; kt < 3; kt++) {
          const float *plane = xd + ((t + kt) * Ci + ci) * HW;
          for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++) {
              float *c = col + (ci * 27 + kt * 9 + kh * 3 + kw) * n;
              for (int64_t j = 0; j < n; j++) {
                int64_t p = p0 + j, ih = pad_index(p / W + kh - 1, H, pad), iw = pad_index(p % W + kw - 1, W, pad);
                c[j] = ih < 0 || iw < 0 ? 0.0f : plane[ih * W + iw];
              }
            }
        }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Co, (int)n, (int)K, 1.0f, wd, (int)K, col,
                  (int)n, 0.0f, tmp, (int)n);
      for (int64_t co = 0; co < Co; co++) {
        float *dst = yd + (t * Co + co) * HW + p0, bias = bd ? bd[co] : 0.0f;
        for (int64_t j = 0; j < n; j++) dst[j] = tmp[co * n + j] + bias;
      }
    }
  }
  free(col);
  free(tmp);
}

static void cpu_rms_norm_act(sana_backend *be, sana_tensor *y, const sana_tensor *x, float eps, sana_act act) {
  if (!CPU_F32(be, "vae.rms_norm_act", y, x)) return;
  if (x->nd < 2 || sana_numel(x) != sana_numel(y)) {
    cpu_fail(be, "vae.rms_norm_act", "expected x[T,C,...] and y of the same size");
    return;
  }
  int64_t T = x->ne[0], C = x->ne[1], R = sana_numel(x) / (T * C > 0 ? T * C : 1);
  const float *xd = x->data;
  float *yd = y->data;
  float *acc = malloc((size_t)(R ? R : 1) * sizeof(float));
  if (!acc) {
    cpu_fail(be, "vae.rms_norm_act", "out of memory");
    return;
  }
  for (int64_t t = 0; t < T; t++) {
    const float *xt = xd + t * C * R;
    float *yt = yd + t * C * R;
    memset(acc, 0, (size_t)R * sizeof(float));
    for (int64_t c = 0; c < C; c++)
      for (int64_t r = 0; r < R; r++) acc[r] += xt[c * R + r] * xt[c * R + r];
    for (int64_t r = 0; r < R; r++) acc[r] = 1.0f / sqrtf(acc[r] / (float)C + eps);
    for (int64_t c = 0; c < C; c++)
      for (int64_t r = 0; r < R; r++) yt[c * R + r] = cpu_act(xt[c * R + r] * acc[r], act);
  }
  free(acc);
}

static void cpu_space_to_depth(sana_backend *be, sana_tensor *y, const sana_tensor *x, int st, int sh, int sw,
                               int group, int accumulate) {
  if (!CPU_F32(be, "vae.space_to_depth", y, x)) return;
  int64_t T = x->ne[0], C = x->ne[1], H = x->ne[2], W = x->ne[3], prod = (int64_t)st * sh * sw;
  if (x->nd != 4 || y->nd != 4 || group < 1 || T % st || H % sh || W % sw || (C * prod) % group ||
      y->ne[0] != T / st || y->ne[1] != C * prod / group || y->ne[2] != H / sh || y->ne[3] != W / sw) {
    cpu_fail(be, "vae.space_to_depth", "shape mismatch");
    return;
  }
  int64_t To = T / st, Ho = H / sh, Wo = W / sw, Cu = C * prod, Co = Cu / group;
  const float *xd = x->data;
  float *yd = y->data;
  if (!accumulate) memset(yd, 0, sana_nbytes(y));
  float inv = 1.0f / (float)group;
  for (int64_t to = 0; to < To; to++)
    for (int64_t cu = 0; cu < Cu; cu++) {
      int64_t c = cu / prod, it = cu / (sh * sw) % st, ih = cu / sw % sh, iw = cu % sw;
      float *dst = yd + (to * Co + cu / group) * Ho * Wo;
      const float *src = xd + ((to * st + it) * C + c) * H * W;
      for (int64_t ho = 0; ho < Ho; ho++)
        for (int64_t wo = 0; wo < Wo; wo++) dst[ho * Wo + wo] += src[(ho * sh + ih) * W + wo * sw + iw] * inv;
    }
}

static void cpu_depth_to_space(sana_backend *be, sana_tensor *y, const sana_tensor *x, int st, int sh, int sw,
                               int repeats, int trim, int accumulate) {
  if (!CPU_F32(be, "vae.depth_to_space", y, x)) return;
  int64_t T = x->ne[0], Cx = x->ne[1], H = x->ne[2], W = x->ne[3], prod = (int64_t)st * sh * sw;
  int64_t C = Cx / prod, To = T * st - trim;
  if (x->nd != 4 || y->nd != 4 || Cx % prod || To < 0 || y->ne[0] != To || y->ne[1] != C * repeats ||
      y->ne[2] != H * sh || y->ne[3] != W * sw) {
    cpu_fail(be, "vae.depth_to_space", "shape mismatch");
    return;
  }
  int64_t Ho = H * sh, Wo = W * sw;
  const float *xd = x->data;
  float *yd = y->data;
  for (int64_t to = 0; to < To; to++) {
    int64_t ts = to + trim, t = ts / st, it = ts % st;
    for (int64_t co = 0; co < C * repeats; co++) {
      int64_t c = co % C;
      float *dst = yd + (to * C * repeats + co) * Ho * Wo;
      for (int64_t ho = 0; ho < Ho; ho++)
        for (int64_t wo = 0; wo < Wo; wo++) {
          int64_t cx = ((c * st + it) * sh + ho % sh) * sw + wo % sw;
          float v = xd[((t * Cx + cx) * H + ho / sh) * W + wo / sw];
          dst[ho * Wo + wo] = accumulate ? dst[ho * Wo + wo] + v : v;
        }
    }
  }
}

static void cpu_patchify(sana_backend *be, sana_tensor *y, const sana_tensor *x, int p, int unpatch) {
  if (!CPU_F32(be, "vae.patchify", y, x)) return;
  const sana_tensor *pix = unpatch ? y : x, *pat = unpatch ? x : y;
  int64_t T = pix->ne[0], C = pix->ne[1], H = pix->ne[2], W = pix->ne[3];
  if (pix->nd != 4 || pat->nd != 4 || H % p || W % p || pat->ne[0] != T || pat->ne[1] != C * p * p ||
      pat->ne[2] != H / p || pat->ne[3] != W / p) {
    cpu_fail(be, "vae.patchify", "shape mismatch");
    return;
  }
  int64_t h = H / p, w = W / p;
  float *pixd = pix->data, *patd = pat->data;
  for (int64_t t = 0; t < T; t++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t Y = 0; Y < H; Y++)
        for (int64_t X = 0; X < W; X++) {
          int64_t cp = c * p * p + (X % p) * p + Y % p;
          float *a = pixd + ((t * C + c) * H + Y) * W + X, *b = patd + ((t * C * p * p + cp) * h + Y / p) * w + X / p;
          if (unpatch)
            *a = *b;
          else
            *b = *a;
        }
}

static void cpu_transpose01(sana_backend *be, sana_tensor *y, const sana_tensor *x) {
  if (!CPU_F32(be, "vae.transpose01", y, x)) return;
  if (x->nd < 2 || sana_numel(x) != sana_numel(y)) {
    cpu_fail(be, "vae.transpose01", "shape mismatch");
    return;
  }
  int64_t B = x->ne[0], A = x->ne[1], R = sana_numel(x) / (A * B > 0 ? A * B : 1);
  const float *xd = x->data;
  float *yd = y->data;
  for (int64_t a = 0; a < A; a++)
    for (int64_t b = 0; b < B; b++) memcpy(yd + (a * B + b) * R, xd + (b * A + a) * R, (size_t)R * sizeof(float));
}

static void cpu_channel_affine(sana_backend *be, sana_tensor *y, const sana_tensor *x, const float *scale,
                               const float *shift) {
  if (!CPU_F32(be, "vae.channel_affine", y, x)) return;
  if (x->nd < 2 || sana_numel(x) != sana_numel(y)) {
    cpu_fail(be, "vae.channel_affine", "shape mismatch");
    return;
  }
  int64_t T = x->ne[0], C = x->ne[1], R = sana_numel(x) / (T * C > 0 ? T * C : 1);
  const float *xd = x->data;
  float *yd = y->data;
  for (int64_t t = 0; t < T; t++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t r = 0; r < R; r++) yd[(t * C + c) * R + r] = xd[(t * C + c) * R + r] * scale[c] + shift[c];
}

static void cpu_axpby(sana_backend *be, sana_tensor *y, const sana_tensor *x, float a, float b) {
  if (!CPU_F32(be, "vae.axpby", y, x)) return;
  if (sana_numel(x) != sana_numel(y)) {
    cpu_fail(be, "vae.axpby", "element counts differ");
    return;
  }
  const float *xd = x->data;
  float *yd = y->data;
  for (int64_t i = 0, n = sana_numel(x); i < n; i++) yd[i] = xd[i] * a + yd[i] * b;
}

static const struct sana_vae_ops cpu_vae_ops = {
    .conv3d = cpu_conv3d,
    .rms_norm_act = cpu_rms_norm_act,
    .space_to_depth = cpu_space_to_depth,
    .depth_to_space = cpu_depth_to_space,
    .patchify = cpu_patchify,
    .transpose01 = cpu_transpose01,
    .channel_affine = cpu_channel_affine,
    .axpby = cpu_axpby,
};

void cpu_install_vae_ops(sana_backend *be) { be->vae = &cpu_vae_ops; }
