/* The CPU backend's dit ops (backend/ops_dit.h) and the DiT's host helpers against PyTorch
 * (tests/fixtures/dit/ops.safetensors, written by tools/reference/sana_dit.py from F.conv2d,
 * F.silu and the reference GDN core) and a few hand-derived values.
 *
 * Tolerance: NMSE 1e-10. These are fp32 ops on fp32 inputs compared with PyTorch's fp32 results
 * (the GDN core accumulates in double here), so only summation order differs (~1e-14); an
 * indexing or formula mistake gives O(1e-2) or worse. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ops_dit.h"
#include "model/dit.h"
#include "tests/test_util.h"

#define TOL 1e-10

static sana_ckpt *fx;
static sana_backend *be;

static const sana_tensor *get(const char *name) {
  const sana_tensor *t = sana_ckpt_find(fx, name);
  if (!t) {
    fprintf(stderr, "fixture tensor '%s' missing\n", name);
    exit(2);
  }
  return t;
}

/* A writable F32 copy (the CPU backend's memory is host memory). */
static sana_tensor dup(const char *name) {
  const sana_tensor *t = get(name);
  sana_tensor d = *t;
  d.data = malloc(sana_nbytes(t));
  memcpy(d.data, t->data, sana_nbytes(t));
  return d;
}

static sana_tensor out_like(const char *name) {
  const sana_tensor *t = get(name);
  sana_tensor d = *t;
  d.data = malloc(sana_nbytes(t));
  for (int64_t i = 0; i < sana_numel(t); i++) ((float *)d.data)[i] = NAN; /* unwritten fails */
  return d;
}

static void sync_ok(const char *what) {
  sana_error err = {0};
  CHECK(be->sync(be, &err) == SANA_OK, "%s: %s", what, err.msg);
}

static void test_temporal_conv(void) {
  sana_tensor s = dup("tconv.s"), w = dup("tconv.w"), prev = dup("tconv.prev");
  for (int with_prev = 0; with_prev < 2; with_prev++) {
    const char *ref = with_prev ? "tconv.y_prev" : "tconv.y";
    sana_tensor y = out_like(ref);
    be->dit->temporal_conv(be, &y, &s, &w, with_prev ? &prev : NULL, s.ne[0]);
    sync_ok(ref);
    sana_check_close(ref, &y, get(ref), TOL);
    free(y.data);
  }
  sana_tensor y1 = out_like("tconv.y");
  be->dit->temporal_conv(be, &y1, &s, &w, NULL, 4); /* 18 tokens are not 4 frames */
  sana_error err = {0};
  CHECK(be->sync(be, &err) != SANA_OK && strstr(err.msg, "temporal_conv"), "bad frame count accepted");
  free(y1.data), free(s.data), free(w.data), free(prev.data);
}

static void test_small_ops(void) {
  sana_tensor x = dup("dwconv.x"), w = dup("dwconv.w"), b = dup("dwconv.b"), y = out_like("dwconv.y");
  be->dit->dwconv3x3(be, &y, &x, &w, &b, 2, 3, 4);
  sync_ok("dwconv3x3");
  sana_check_close("dwconv3x3", &y, get("dwconv.y"), TOL);
  free(x.data), free(w.data), free(b.data), free(y.data);

  x = dup("glu.x"), y = out_like("glu.y");
  be->dit->glu(be, &y, &x);
  sync_ok("glu");
  sana_check_close("glu", &y, get("glu.y"), TOL);
  free(x.data), free(y.data);

  x = dup("frame_mean.x"), y = out_like("frame_mean.y");
  be->dit->frame_mean(be, &y, &x, 3);
  sync_ok("frame_mean");
  sana_check_close("frame_mean", &y, get("frame_mean.y"), TOL);
  free(x.data), free(y.data);

  /* concat_cols, hand-derived */
  float a[4] = {1, 2, 3, 4}, bb[2] = {5, 6}, c[6], want[6] = {1, 2, 5, 3, 4, 6};
  sana_tensor ta = SANA_T(SANA_F32, a, 2, 2), tb = SANA_T(SANA_F32, bb, 2, 1), tc = SANA_T(SANA_F32, c, 2, 3);
  be->dit->concat_cols(be, &tc, &ta, &tb);
  sync_ok("concat_cols");
  CHECK(!memcmp(c, want, sizeof c), "concat_cols gave %g %g %g %g %g %g", c[0], c[1], c[2], c[3], c[4], c[5]);
}

static void test_gdn(void) {
  const char *in[] = {"gdn.qh", "gdn.qr", "gdn.kh", "gdn.kr", "gdn.v", "gdn.beta", "gdn.g", "gdn.gate"};
  sana_tensor t[8];
  for (int i = 0; i < 8; i++) t[i] = dup(in[i]);
  const int64_t T = t[0].ne[0], S = t[0].ne[1], H = t[0].ne[2], D = t[0].ne[3];
  for (int i = 0; i < 5; i++) t[i] = sana_tensor_reshape(&t[i], 3, (int64_t[]){T * S, H, D});
  t[7] = sana_tensor_reshape(&t[7], 3, (int64_t[]){T * S, H, D});
  for (int save = 0; save < 2; save++) {
    sana_tensor kv = dup("gdn.state_kv"), z = dup("gdn.state_z"), o = out_like("gdn.o");
    o = sana_tensor_reshape(&o, 3, (int64_t[]){T * S, H, D});
    be->dit->gdn_chunk(be, &o, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7], &kv, &z, T, save);
    sync_ok("gdn_chunk");
    sana_check_close(save ? "gdn_chunk o (save)" : "gdn_chunk o", &o, get("gdn.o"), TOL);
    if (save) {
      sana_check_close("gdn_chunk state_kv written", &kv, get("gdn.state_kv_out"), TOL);
      sana_check_close("gdn_chunk state_z written", &z, get("gdn.state_z_out"), TOL);
    } else {
      CHECK(!memcmp(kv.data, get("gdn.state_kv")->data, sana_nbytes(&kv)), "gdn_chunk wrote the state without save");
    }
    free(kv.data), free(z.data), free(o.data);
  }
  for (int i = 0; i < 8; i++) free(t[i].data);
}

static void test_host_helpers(void) {
  float tf[256];
  sana_dit_timestep_freq(tf, 256, 961);
  sana_tensor t = SANA_T(SANA_F32, tf, 256);
  /* PyTorch's vectorised fp32 exp is 1 ulp off the correctly rounded f_i for 15 of the 128
   * frequencies here; at τ = 961 that moves an angle by up to ~3e-5, hence 1e-9, not 1e-12 */
  sana_check_close("timestep_freq(961)", &t, get("timestep.961"), 1e-9);
  CHECK(tf[0] == cosf(961.0f) && tf[128] == sinf(961.0f), "f_0 = 1: cos/sin(961) expected");
  sana_dit_timestep_freq(tf, 256, 0);
  int ok = 1;
  for (int i = 0; i < 128; i++) ok &= tf[i] == 1.0f && tf[128 + i] == 0.0f;
  CHECK(ok, "timestep_freq(0) must be [1]*128 + [0]*128");

  /* head dim 32: 6 t pairs, 5 h pairs, 5 w pairs; frames 5..6 of a 2×3 grid */
  float cs[2 * 6 * 16], sn[2 * 6 * 16];
  sana_dit_rope_tables(cs, sn, 32, 5, 2, 2, 3);
  sana_tensor tc = SANA_T(SANA_F32, cs, 12, 16), ts = SANA_T(SANA_F32, sn, 12, 16);
  sana_check_close("rope cos", &tc, get("rope.cos"), 1e-12);
  sana_check_close("rope sin", &ts, get("rope.sin"), 1e-12);
  /* token (f=5, h=1, w=2) = row 5: pair 0 turns by f, pair 6 by h, pair 11 by w, all at ω = 1 */
  CHECK(cs[5 * 16 + 0] == (float)cos(5.0) && sn[5 * 16 + 6] == (float)sin(1.0) && sn[5 * 16 + 11] == (float)sin(2.0),
        "rope angles at ω = 1 must be f, h, w");
}

int main(void) {
  sana_error err = {0};
  be = sana_backend_cpu_create(&err);
  fx = sana_fixture_open("dit/ops.safetensors");
  test_temporal_conv();
  test_small_ops();
  test_gdn();
  test_host_helpers();
  sana_ckpt_close(fx);
  sana_backend_destroy(be);
  return sana_test_done("test_dit_ops");
}
