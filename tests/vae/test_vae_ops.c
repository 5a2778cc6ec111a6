/* Op-level tests of the vae sub-table (backend/ops_vae.h) on the CPU backend: the conv and the
 * norm against direct loops written here (NMSE tolerance 1e-12: the same fp32 products summed in
 * another order), the (un)shuffles and patchify against hand-derived index layouts (exact). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ops_vae.h"
#include "tests/test_util.h"

static sana_backend *be;
static const struct sana_vae_ops *ops;

static float frand(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static sana_tensor make(int nd, const int64_t *ne, unsigned seed) {
  sana_tensor t = {0};
  sana_error err = {0};
  CHECK_OK(sana_backend_tensor(be, &t, SANA_F32, nd, ne, &err), &err);
  for (int64_t i = 0; i < sana_numel(&t); i++) ((float *)t.data)[i] = seed ? frand(&seed) : (float)i;
  return t;
}
#define MAKE(seed, ...) make((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}, (seed))

static int64_t refl(int64_t i, int64_t n, int reflect) {
  if (i >= 0 && i < n) return i;
  return reflect ? (i < 0 ? -i : 2 * n - 2 - i) : -1;
}

static void test_conv3d(sana_pad_mode pad) {
  int64_t T = 3, Ci = 3, Co = 5, H = 5, W = 4;
  sana_tensor x = MAKE(1, T + 2, Ci, H, W), w = MAKE(2, Co, Ci, 3, 3, 3), b = MAKE(3, Co), y = MAKE(0, T, Co, H, W),
              r = MAKE(0, T, Co, H, W);
  const float *xd = x.data, *wd = w.data, *bd = b.data;
  float *rd = r.data;
  for (int64_t t = 0; t < T; t++)
    for (int64_t o = 0; o < Co; o++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t q = 0; q < W; q++) {
          double acc = bd[o];
          for (int64_t i = 0; i < Ci; i++)
            for (int kt = 0; kt < 3; kt++)
              for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++) {
                  int64_t ih = refl(h + kh - 1, H, pad == SANA_PAD_REFLECT), iw = refl(q + kw - 1, W, pad == SANA_PAD_REFLECT);
                  if (ih >= 0 && iw >= 0)
                    acc += (double)wd[(((o * Ci + i) * 3 + kt) * 3 + kh) * 3 + kw] * xd[(((t + kt) * Ci + i) * H + ih) * W + iw];
                }
          rd[((t * Co + o) * H + h) * W + q] = (float)acc;
        }
  ops->conv3d(be, &y, &x, &w, &b, pad);
  sana_error err = {0};
  CHECK_OK(be->sync(be, &err), &err);
  sana_check_close(pad == SANA_PAD_REFLECT ? "conv3d reflect vs direct loop" : "conv3d zeros vs direct loop", &y, &r,
                   1e-12);
  /* hand check: a lone top-left tap reads x[t, -1, -1]: x[t, 1, 1] reflected, 0 with zeros */
  memset(w.data, 0, sana_nbytes(&w));
  memset(b.data, 0, sana_nbytes(&b));
  ((float *)w.data)[0] = 1.0f; /* w[0, 0, 0, 0, 0] */
  ops->conv3d(be, &y, &x, &w, &b, pad);
  float want = pad == SANA_PAD_REFLECT ? xd[1 * W + 1] : 0.0f;
  CHECK(((float *)y.data)[0] == want, "conv3d corner tap: %g, want %g", ((float *)y.data)[0], want);
  be->free(be, x.data), be->free(be, w.data), be->free(be, b.data), be->free(be, y.data), be->free(be, r.data);
}

static void test_rms_norm_act(void) {
  int64_t T = 2, C = 6, R = 7;
  sana_tensor x = MAKE(5, T, C, 1, R), y = MAKE(0, T, C, 1, R), r = MAKE(0, T, C, 1, R);
  const float *xd = x.data;
  for (int64_t t = 0; t < T; t++)
    for (int64_t q = 0; q < R; q++) {
      double ss = 0;
      for (int64_t c = 0; c < C; c++) ss += (double)xd[(t * C + c) * R + q] * xd[(t * C + c) * R + q];
      for (int64_t c = 0; c < C; c++) {
        double v = xd[(t * C + c) * R + q] / sqrt(ss / C + 1e-8);
        ((float *)r.data)[(t * C + c) * R + q] = (float)(v / (1 + exp(-v)));
      }
    }
  ops->rms_norm_act(be, &y, &x, 1e-8f, SANA_ACT_SILU);
  sana_check_close("rms_norm_act (SiLU) vs direct", &y, &r, 1e-12);
  be->free(be, x.data), be->free(be, y.data), be->free(be, r.data);
}

static void test_shuffles(void) {
  /* x[t, 0, h, w] = 4t + 2h + w; unshuffle (2,2,2): channel ((0·2 + it)·2 + ih)·2 + iw */
  sana_tensor x = MAKE(0, 2, 1, 2, 2), y = MAKE(0, 1, 8, 1, 1), g = MAKE(0, 1, 4, 1, 1);
  ops->space_to_depth(be, &y, &x, 2, 2, 2, 1, 0);
  for (int c = 0; c < 8; c++) CHECK(((float *)y.data)[c] == (float)c, "space_to_depth channel %d", c);
  ops->space_to_depth(be, &g, &x, 2, 2, 2, 2, 0); /* means of channel pairs */
  for (int c = 0; c < 4; c++) CHECK(((float *)g.data)[c] == 2.0f * c + 0.5f, "space_to_depth group mean %d", c);
  ops->space_to_depth(be, &g, &x, 2, 2, 2, 2, 1); /* accumulate doubles it */
  CHECK(((float *)g.data)[3] == 13.0f, "space_to_depth accumulate");

  /* the inverse, with the first frame trimmed and the channels tiled twice */
  sana_tensor back = MAKE(0, 2, 1, 2, 2), tiled = MAKE(0, 1, 2, 2, 2);
  ops->depth_to_space(be, &back, &y, 2, 2, 2, 1, 0, 0);
  CHECK(!memcmp(back.data, x.data, sana_nbytes(&x)), "depth_to_space inverts space_to_depth");
  ops->depth_to_space(be, &tiled, &y, 2, 2, 2, 2, 1, 0);
  for (int r = 0; r < 2; r++)
    for (int i = 0; i < 4; i++)
      CHECK(((float *)tiled.data)[r * 4 + i] == 4.0f + i, "depth_to_space trim/tile [%d][%d]", r, i);

  /* patchify: pixel (Y, X) of a 4x4 plane lands in channel X·4 + Y (w offset first) */
  sana_tensor px = MAKE(0, 1, 1, 4, 4), pt = MAKE(0, 1, 16, 1, 1), un = MAKE(0, 1, 1, 4, 4);
  ops->patchify(be, &pt, &px, 4, 0);
  for (int Y = 0; Y < 4; Y++)
    for (int X = 0; X < 4; X++)
      CHECK(((float *)pt.data)[X * 4 + Y] == (float)(Y * 4 + X), "patchify pixel (%d,%d)", Y, X);
  ops->patchify(be, &un, &pt, 4, 1);
  CHECK(!memcmp(un.data, px.data, sana_nbytes(&px)), "unpatchify inverts patchify");

  /* transpose01 [2, 3, 2] -> [3, 2, 2]; channel_affine; axpby */
  sana_tensor a = MAKE(0, 2, 3, 2), at = MAKE(0, 3, 2, 2);
  ops->transpose01(be, &at, &a);
  CHECK(((float *)at.data)[1 * 4 + 1 * 2 + 1] == (float)(1 * 6 + 1 * 2 + 1), "transpose01");
  ops->channel_affine(be, &a, &a, (float[]){1, 2, 3}, (float[]){0, 10, 20});
  CHECK(((float *)a.data)[6 + 2 * 2 + 1] == 11.0f * 3 + 20, "channel_affine");
  ops->axpby(be, &at, &at, 0.5f, 0.25f);
  CHECK(((float *)at.data)[11] == 0.75f * 11, "axpby");
  sana_error err = {0};
  CHECK_OK(be->sync(be, &err), &err);
  sana_tensor *all[] = {&x, &y, &g, &back, &tiled, &px, &pt, &un, &a, &at};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) be->free(be, all[i]->data);
}

int main(void) {
  sana_error err = {0};
  be = sana_backend_create("cpu", &err);
  CHECK(be && be->vae, "cpu backend with vae ops: %s", err.msg);
  if (!be || !be->vae) return sana_test_done("test_vae_ops");
  ops = be->vae;
  test_conv3d(SANA_PAD_ZEROS);
  test_conv3d(SANA_PAD_REFLECT);
  test_rms_norm_act();
  test_shuffles();
  /* a shape the op cannot take is reported by sync, naming the op */
  sana_tensor x = MAKE(0, 3, 2, 2, 2), y = MAKE(0, 1, 5, 1, 1);
  ops->space_to_depth(be, &y, &x, 2, 2, 2, 1, 0);
  CHECK(be->sync(be, &err) != SANA_OK && strstr(err.msg, "space_to_depth"), "bad shape refused: %s", err.msg);
  be->free(be, x.data), be->free(be, y.data);
  sana_backend_destroy(be);
  return sana_test_done("test_vae_ops");
}
