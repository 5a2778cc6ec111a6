/* Frame preprocessing against tools/reference/video_preprocess.py (PyTorch 1.13's
 * F.interpolate and upstream's rounding): geometry exactly, values within fp32 rounding,
 * and the uint8 output conversion exactly. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/bf16.h"
#include "io/video_prep.h"
#include "tests/test_util.h"

static const sana_tensor *need(sana_ckpt *c, const char *name) {
  const sana_tensor *t = sana_ckpt_find(c, name);
  if (!t) {
    fprintf(stderr, "fixture lacks %s\n", name);
    exit(1);
  }
  return t;
}

static void check_case(sana_ckpt *c, int k) {
  char name[64];
  snprintf(name, sizeof name, "case%d.input", k);
  const sana_tensor *in = need(c, name); /* (1, h, w, 3) u8 */
  snprintf(name, sizeof name, "case%d.output", k);
  const sana_tensor *ref = need(c, name); /* (1, 3, H, W) f32 */
  snprintf(name, sizeof name, "case%d.geometry", k);
  const int64_t *geo = need(c, name)->data; /* sh, sw, i, j, H, W */
  int h = (int)in->ne[1], w = (int)in->ne[2], H = (int)geo[4], W = (int)geo[5];

  sana_cover_geom g;
  sana_error err = {0};
  CHECK_OK(sana_cover_geometry(h, w, H, W, &g, &err), &err);
  CHECK(g.resize_h == geo[0] && g.resize_w == geo[1] && g.off_y == geo[2] && g.off_x == geo[3],
        "case %d (%dx%d -> %dx%d): geometry %d %d %d %d, torch %lld %lld %lld %lld", k, w, h, W, H, g.resize_h,
        g.resize_w, g.off_y, g.off_x, (long long)geo[0], (long long)geo[1], (long long)geo[2], (long long)geo[3]);

  float *out = malloc(sizeof(float) * 3 * H * W);
  CHECK_OK(sana_video_prep_frame(in->data, h, w, (ptrdiff_t)w * 3, H, W, SANA_F32, out, (ptrdiff_t)H * W, &err),
           &err);
  const float *r = ref->data;
  double worst = 0;
  int exact = 0, n = 3 * H * W;
  for (int i = 0; i < n; i++) {
    double d = fabs((double)out[i] - r[i]);
    worst = d > worst ? d : worst;
    exact += out[i] == r[i];
  }
  /* The weights are torch's exactly; the blend may differ by one fp32 ulp of a value in [0, 1],
   * doubled by the normalisation: 2^-23 · 2 = 2.4e-7. */
  CHECK(worst <= 2.4e-7, "case %d (%dx%d -> %dx%d): max |diff| %.3g", k, w, h, W, H, worst);
  printf("case %d: %3dx%-3d -> %dx%d (resize %dx%d, crop at %d,%d): %d/%d exact, max |diff| %.3g\n", k, w, h, W,
         H, g.resize_w, g.resize_h, g.off_x, g.off_y, exact, n, worst);

  /* BF16 output is the fp32 result rounded to nearest even. */
  uint16_t *ob = malloc(sizeof(uint16_t) * n);
  CHECK_OK(sana_video_prep_frame(in->data, h, w, (ptrdiff_t)w * 3, H, W, SANA_BF16, ob, (ptrdiff_t)H * W, &err),
           &err);
  int bad = 0;
  for (int i = 0; i < n; i++) bad += ob[i] != sana_f32_to_bf16(out[i]);
  CHECK(bad == 0, "case %d: %d bf16 values differ from the rounded fp32 ones", k, bad);
  free(ob);
  free(out);
}

int main(void) {
  sana_ckpt *c = sana_fixture_open("video/preprocess.safetensors");
  int n = (int)((const int64_t *)need(c, "count")->data)[0];
  CHECK(n >= 6, "fixture has %d cases", n);
  for (int k = 0; k < n; k++) check_case(c, k);

  const sana_tensor *x = need(c, "to_u8.input"), *y = need(c, "to_u8.output");
  const float *xv = x->data;
  const uint8_t *yv = y->data;
  int bad = 0;
  for (int64_t i = 0; i < sana_numel(x); i++)
    if (sana_video_to_u8(xv[i]) != yv[i]) {
      if (bad++ < 5) fprintf(stderr, "to_u8(%.9g) = %d, torch %d\n", xv[i], sana_video_to_u8(xv[i]), yv[i]);
    }
  CHECK(bad == 0, "%d of %lld uint8 conversions differ from torch", bad, (long long)sana_numel(x));
  /* Hand-derived: 127.5·(−1) + 127.5 = 0; 127.5·1 + 127.5 = 255; 127.5·0 + 127.5 = 127.5 -> 127. */
  CHECK(sana_video_to_u8(-1.0f) == 0 && sana_video_to_u8(1.0f) == 255 && sana_video_to_u8(0.0f) == 127,
        "to_u8 endpoints");
  CHECK(sana_video_to_u8(NAN) == 0 && sana_video_to_u8(5.0f) == 255 && sana_video_to_u8(-5.0f) == 0, "to_u8 clamp");

  /* Round trip of the planar conversion, BF16 input path included. */
  float planes[3 * 2] = {-1, 0, 1, 0.5f, -0.5f, 0.25f};
  uint8_t rgb[6];
  sana_error err = {0};
  CHECK_OK(sana_video_unprep_frame(planes, SANA_F32, 2, 1, 2, rgb, &err), &err);
  CHECK(rgb[0] == 0 && rgb[1] == 255 && rgb[2] == 63 && rgb[3] == 127 && rgb[4] == 191 && rgb[5] == 159,
        "unprep layout: %d %d %d %d %d %d", rgb[0], rgb[1], rgb[2], rgb[3], rgb[4], rgb[5]);
  sana_cover_geom g;
  CHECK(sana_cover_geometry(0, 10, 32, 32, &g, &err) == SANA_ERR_ARG, "zero size refused");
  sana_ckpt_close(c);
  return sana_test_done("test_video_prep");
}
