/* The CPU backend's core ops against PyTorch's own fp32 functions
 * (tools/reference/core_ops_fixture.py). Tolerance: NMSE 1e-11, i.e. fp32 rounding only. */
#include <stdlib.h>
#include <string.h>

#include "tests/test_util.h"

#define TOL 1e-11

static sana_ckpt *fx;
static sana_backend *be;

static const sana_tensor *ref(const char *name) {
  const sana_tensor *t = sana_ckpt_find(fx, name);
  if (!t) { fprintf(stderr, "fixture lacks %s\n", name); exit(2); }
  return t;
}

/* A backend copy of a fixture tensor (the CPU backend's memory is host memory). */
static sana_tensor dev(const char *name) {
  sana_tensor t;
  sana_backend_tensor(be, &t, SANA_F32, ref(name)->nd, ref(name)->ne, NULL);
  be->upload(be, &t, ref(name));
  return t;
}

static sana_tensor like(const char *name) {
  sana_tensor t;
  sana_backend_tensor(be, &t, SANA_F32, ref(name)->nd, ref(name)->ne, NULL);
  be->fill(be, &t, -777.0f); /* poison: every element must be written */
  return t;
}

static void expect(const char *what, sana_tensor *got, const char *refname) {
  sana_error err = {0};
  CHECK_OK(be->sync(be, &err), &err);
  sana_check_close(what, got, ref(refname), TOL);
  be->free(be, got->data);
}

int main(void) {
  sana_error err = {0};
  fx = sana_fixture_open("core/ops.safetensors");
  be = sana_backend_create("cpu", &err);
  CHECK(be != NULL, "%s", err.msg);

  sana_tensor x = dev("linear.x"), w = dev("linear.w"), b = dev("linear.b"), y;
  static const struct { sana_act act; const char *name; int bias; } lin[] = {
      {SANA_ACT_NONE, "linear.none", 1}, {SANA_ACT_SILU, "linear.silu", 1},
      {SANA_ACT_GELU_TANH, "linear.gelu_tanh", 1}, {SANA_ACT_RELU, "linear.nobias_relu", 0}};
  for (int i = 0; i < 4; i++) {
    y = like(lin[i].name);
    be->linear(be, &y, &x, &w, lin[i].bias ? &b : NULL, lin[i].act);
    expect(lin[i].name, &y, lin[i].name);
  }

  sana_tensor u = dev("unary.x"), sp = dev("unary.softplus_in");
  static const struct { sana_act act; const char *name; } un[] = {
      {SANA_ACT_SILU, "unary.silu"}, {SANA_ACT_GELU_TANH, "unary.gelu_tanh"}, {SANA_ACT_SIGMOID, "unary.sigmoid"}};
  for (int i = 0; i < 3; i++) {
    y = like(un[i].name);
    be->unary(be, &y, &u, un[i].act);
    expect(un[i].name, &y, un[i].name);
  }
  y = like("unary.softplus");
  be->unary(be, &y, &sp, SANA_ACT_SOFTPLUS);
  expect("unary.softplus", &y, "unary.softplus");

  sana_tensor a = dev("binary.a"), bb = dev("binary.b");
  static const struct { sana_binop op; const char *name; } bi[] = {
      {SANA_ADD, "binary.add"}, {SANA_MUL, "binary.mul"}, {SANA_SUB, "binary.sub"}};
  for (int i = 0; i < 3; i++) {
    y = like(bi[i].name);
    be->binary(be, &y, &a, &bb, bi[i].op);
    expect(bi[i].name, &y, bi[i].name);
  }

  sana_tensor lx = dev("ln.x"), sh = dev("ln.shift"), sc = dev("ln.scale");
  y = like("ln.y");
  be->layernorm_mod(be, &y, &lx, &sh, &sc, 1e-6f);
  expect("layernorm_mod", &y, "ln.y");
  y = dev("ln.x"); /* in place, no modulation */
  be->layernorm_mod(be, &y, &y, NULL, NULL, 1e-6f);
  expect("layernorm (in place)", &y, "ln.plain");

  sana_tensor rx = dev("rms.x"), rw = dev("rms.w");
  y = like("rms.y");
  be->rmsnorm(be, &y, &rx, &rw, 1e-5f, 0.0f);
  expect("rmsnorm", &y, "rms.y");
  y = like("rms.gemma");
  be->rmsnorm(be, &y, &rx, &rw, 1e-6f, 1.0f);
  expect("rmsnorm (1 + w)", &y, "rms.gemma");

  sana_tensor gx = dev("gadd.x"), gg = dev("gadd.g"), gy = dev("gadd.y");
  be->gated_add(be, &gx, &gg, &gy);
  expect("gated_add", &gx, "gadd.out");

  sana_tensor q = dev("att.q"), k = dev("att.k"), v = dev("att.v"), bias = dev("att.bias");
  y = like("att.out");
  be->attention(be, &y, &q, &k, &v, &(sana_attn_params){.scale = 0.25f, .bias = &bias});
  expect("attention + key bias", &y, "att.out");
  sana_tensor q2 = dev("att2.q"), k2 = dev("att2.k"), v2 = dev("att2.v");
  y = like("att2.out");
  be->attention(be, &y, &q2, &k2, &v2, &(sana_attn_params){.scale = 0.3f});
  expect("attention 300 x 700", &y, "att2.out");
  sana_tensor q3 = dev("att3.q"), k3 = dev("att3.k"), v3 = dev("att3.v");
  y = like("att3.out");
  be->attention(be, &y, &q3, &k3, &v3,
                &(sana_attn_params){.scale = 0.35355339059327373f, .softcap = 5.0f, .causal = 1, .window = 4});
  expect("attention gqa softcap window", &y, "att3.out");

  sana_tensor cs = dev("rope.cos"), sn = dev("rope.sin");
  y = dev("rope.x");
  be->rope(be, &y, &cs, &sn, 1);
  expect("rope interleaved", &y, "rope.inter");
  y = dev("rope.x");
  be->rope(be, &y, &cs, &sn, 0);
  expect("rope rotate_half", &y, "rope.half");

  /* a shape error is reported by sync, naming the op */
  sana_tensor bad = like("linear.none");
  be->linear(be, &bad, &x, &w, &rw, SANA_ACT_NONE);
  sana_status s = be->sync(be, &err);
  CHECK(s == SANA_ERR_BACKEND && strstr(err.msg, "linear"), "shape error reported: %s", err.msg);
  be->free(be, bad.data);

  sana_tensor *all[] = {&x, &w, &b, &u, &sp, &a, &bb, &lx, &sh, &sc, &rx, &rw, &gg, &gy, &q, &k, &v, &bias, &q2, &k2, &v2, &q3, &k3, &v3, &cs, &sn};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) be->free(be, all[i]->data);
  sana_backend_destroy(be);
  sana_ckpt_close(fx);
  return sana_test_done("test_cpu_ops");
}
