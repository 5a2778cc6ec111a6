/* Core ops of the CPU backend, fp32. Reductions accumulate in double so the reference is at
 * least as accurate as PyTorch's fp32 kernels it is compared with. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "core/threadpool.h"

float cpu_act(float x, sana_act act) {
  switch (act) {
  case SANA_ACT_NONE: return x;
  case SANA_ACT_SILU: return x / (1.0f + expf(-x));
  case SANA_ACT_GELU_TANH: {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
  }
  case SANA_ACT_RELU: return x > 0 ? x : 0;
  case SANA_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
  case SANA_ACT_SOFTPLUS: return x > 20.0f ? x : log1pf(expf(x)); /* PyTorch's threshold 20 */
  case SANA_ACT_EXP: return expf(x);
  }
  return x;
}

/* ---- linear ---- */

typedef struct { float *y; const float *b; int64_t n; sana_act act; } bias_act_ctx;

static void bias_act_rows(void *vc, int64_t r0, int64_t r1) {
  bias_act_ctx *c = vc;
  for (int64_t r = r0; r < r1; r++) {
    float *y = c->y + r * c->n;
    for (int64_t j = 0; j < c->n; j++) y[j] = cpu_act(y[j] + (c->b ? c->b[j] : 0.0f), c->act);
  }
}

static void cpu_linear(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                       const sana_tensor *b, sana_act act) {
  if (!CPU_F32(be, "linear", y, x, w, b)) return;
  if (w->nd < 2) { cpu_fail(be, "linear", "weight must be at least 2-D"); return; }
  int64_t N = w->ne[0], K = sana_numel(w) / N, M = sana_numel(x) / K;
  if (M * K != sana_numel(x) || sana_numel(y) != M * N || (b && sana_numel(b) != N)) {
    cpu_fail(be, "linear", "shapes do not match: x %lld elements, w [%lld, %lld], y %lld elements",
             (long long)sana_numel(x), (long long)N, (long long)K, (long long)sana_numel(y));
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x->data, (int)K,
              w->data, (int)K, 0.0f, y->data, (int)N);
  if (b || act != SANA_ACT_NONE) {
    bias_act_ctx c = {y->data, b ? b->data : NULL, N, act};
    sana_parallel_for(M, bias_act_rows, &c);
  }
}

/* ---- elementwise ---- */

typedef struct { float *y; const float *a, *b; int64_t nb; int op; sana_act act; } ew_ctx;

static void unary_range(void *vc, int64_t i0, int64_t i1) {
  ew_ctx *c = vc;
  for (int64_t i = i0; i < i1; i++) c->y[i] = cpu_act(c->a[i], c->act);
}

static void cpu_unary(sana_backend *be, sana_tensor *y, const sana_tensor *x, sana_act act) {
  if (!CPU_F32(be, "unary", y, x)) return;
  if (sana_numel(y) != sana_numel(x)) { cpu_fail(be, "unary", "element counts differ"); return; }
  ew_ctx c = {.y = y->data, .a = x->data, .act = act};
  sana_parallel_for(sana_numel(x), unary_range, &c);
}

static void binary_range(void *vc, int64_t i0, int64_t i1) {
  ew_ctx *c = vc;
  for (int64_t i = i0; i < i1; i++) {
    float a = c->a[i], b = c->b[i % c->nb];
    switch (c->op) {
    case SANA_ADD: c->y[i] = a + b; break;
    case SANA_SUB: c->y[i] = a - b; break;
    case SANA_MUL: c->y[i] = a * b; break;
    case SANA_DIV: c->y[i] = a / b; break;
    }
  }
}

static void cpu_binary(sana_backend *be, sana_tensor *y, const sana_tensor *a, const sana_tensor *b,
                       sana_binop op) {
  if (!CPU_F32(be, "binary", y, a, b)) return;
  int64_t na = sana_numel(a), nb = sana_numel(b);
  if (sana_numel(y) != na || nb == 0 || na % nb) {
    cpu_fail(be, "binary", "cannot repeat %lld elements over %lld", (long long)nb, (long long)na);
    return;
  }
  ew_ctx c = {.y = y->data, .a = a->data, .b = b->data, .nb = nb, .op = op};
  sana_parallel_for(na, binary_range, &c);
}

/* ---- norms ---- */

typedef struct {
  float *y; const float *x, *p, *q; int64_t C; float eps, off;
} norm_ctx;

static void layernorm_rows(void *vc, int64_t r0, int64_t r1) {
  norm_ctx *c = vc;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = c->x + r * c->C;
    float *y = c->y + r * c->C;
    double s = 0, s2 = 0;
    for (int64_t j = 0; j < c->C; j++) s += x[j];
    double mean = s / (double)c->C;
    for (int64_t j = 0; j < c->C; j++) { double d = x[j] - mean; s2 += d * d; }
    float inv = (float)(1.0 / sqrt(s2 / (double)c->C + c->eps));
    for (int64_t j = 0; j < c->C; j++) {
      float v = (float)(x[j] - mean) * inv;
      if (c->q) v *= 1.0f + c->q[j]; /* scale */
      if (c->p) v += c->p[j];        /* shift */
      y[j] = v;
    }
  }
}

static void cpu_layernorm_mod(sana_backend *be, sana_tensor *y, const sana_tensor *x,
                              const sana_tensor *shift, const sana_tensor *scale, float eps) {
  if (!CPU_F32(be, "layernorm_mod", y, x, shift, scale)) return;
  int64_t C = x->ne[x->nd - 1];
  if (sana_numel(y) != sana_numel(x) || (shift && sana_numel(shift) != C) || (scale && sana_numel(scale) != C)) {
    cpu_fail(be, "layernorm_mod", "shapes do not match (C = %lld)", (long long)C);
    return;
  }
  norm_ctx c = {y->data, x->data, shift ? shift->data : NULL, scale ? scale->data : NULL, C, eps, 0};
  sana_parallel_for(sana_numel(x) / C, layernorm_rows, &c);
}

static void rmsnorm_rows(void *vc, int64_t r0, int64_t r1) {
  norm_ctx *c = vc;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = c->x + r * c->C;
    float *y = c->y + r * c->C;
    double s2 = 0;
    for (int64_t j = 0; j < c->C; j++) s2 += (double)x[j] * x[j];
    float inv = (float)(1.0 / sqrt(s2 / (double)c->C + c->eps));
    for (int64_t j = 0; j < c->C; j++) y[j] = x[j] * inv * (c->p ? c->off + c->p[j] : 1.0f);
  }
}

static void cpu_rmsnorm(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                        float eps, float w_offset) {
  if (!CPU_F32(be, "rmsnorm", y, x, w)) return;
  int64_t C = x->ne[x->nd - 1];
  if (sana_numel(y) != sana_numel(x) || (w && sana_numel(w) != C)) {
    cpu_fail(be, "rmsnorm", "shapes do not match (C = %lld)", (long long)C);
    return;
  }
  norm_ctx c = {y->data, x->data, w ? w->data : NULL, NULL, C, eps, w_offset};
  sana_parallel_for(sana_numel(x) / C, rmsnorm_rows, &c);
}

static void gated_add_rows(void *vc, int64_t r0, int64_t r1) {
  norm_ctx *c = vc;
  for (int64_t r = r0; r < r1; r++) {
    float *x = c->y + r * c->C;
    const float *y = c->x + r * c->C;
    for (int64_t j = 0; j < c->C; j++) x[j] += (c->p ? c->p[j] : 1.0f) * y[j];
  }
}

static void cpu_gated_add(sana_backend *be, sana_tensor *x, const sana_tensor *g, const sana_tensor *y) {
  if (!CPU_F32(be, "gated_add", x, g, y)) return;
  int64_t C = x->ne[x->nd - 1];
  if (sana_numel(y) != sana_numel(x) || (g && sana_numel(g) != C)) {
    cpu_fail(be, "gated_add", "shapes do not match (C = %lld)", (long long)C);
    return;
  }
  norm_ctx c = {x->data, y->data, g ? g->data : NULL, NULL, C, 0, 0};
  sana_parallel_for(sana_numel(x) / C, gated_add_rows, &c);
}

/* ---- attention ---- */

#define ATT_BLOCK 128 /* query rows per block: bounds the score buffer to 128 × m floats */

typedef struct {
  const sana_attn_params *p;
  const float *q, *k, *v, *bias;
  float *o;
  int64_t n, m, H, Hk, D, Dv;
} att_ctx;

/* Softmax over one block of score rows, with scale, softcap, bias and mask applied. */
static void att_softmax_rows(void *vc, int64_t r0, int64_t r1, float *S, int64_t i0) {
  att_ctx *c = vc;
  const sana_attn_params *p = c->p;
  for (int64_t r = r0; r < r1; r++) {
    float *s = S + r * c->m;
    int64_t i = i0 + r, lim = i + (c->m - c->n);
    float mx = -INFINITY;
    for (int64_t j = 0; j < c->m; j++) {
      float x = s[j] * p->scale;
      if (p->softcap > 0) x = p->softcap * tanhf(x / p->softcap);
      if (c->bias) x += c->bias[j];
      if (p->causal && (j > lim || (p->window > 0 && j <= lim - p->window))) x = -INFINITY;
      s[j] = x;
      if (x > mx) mx = x;
    }
    double sum = 0;
    for (int64_t j = 0; j < c->m; j++) {
      float e = mx == -INFINITY ? 0.0f : expf(s[j] - mx);
      s[j] = e;
      sum += e;
    }
    float inv = sum > 0 ? (float)(1.0 / sum) : 0.0f;
    for (int64_t j = 0; j < c->m; j++) s[j] *= inv;
  }
}

static void cpu_attention(sana_backend *be, sana_tensor *o, const sana_tensor *q, const sana_tensor *k,
                          const sana_tensor *v, const sana_attn_params *p) {
  if (!CPU_F32(be, "attention", o, q, k, v, p->bias)) return;
  if (q->nd != 3 || k->nd != 3 || v->nd != 3 || o->nd != 3) {
    cpu_fail(be, "attention", "q, k, v and o must be [tokens, heads, dim]");
    return;
  }
  att_ctx c = {p, q->data, k->data, v->data, p->bias ? p->bias->data : NULL, o->data,
               q->ne[0], k->ne[0], q->ne[1], k->ne[1], q->ne[2], v->ne[2]};
  if (k->ne[2] != c.D || v->ne[0] != c.m || v->ne[1] != c.Hk || c.Hk == 0 || c.H % c.Hk ||
      o->ne[0] != c.n || o->ne[1] != c.H || o->ne[2] != c.Dv || (c.bias && sana_numel(p->bias) != c.m)) {
    cpu_fail(be, "attention", "inconsistent shapes");
    return;
  }
  float *S = malloc(sizeof(float) * ATT_BLOCK * (size_t)(c.m ? c.m : 1));
  if (!S) { cpu_fail(be, "attention", "out of memory for %lld keys", (long long)c.m); return; }
  for (int64_t h = 0; h < c.H; h++) {
    int64_t hk = h / (c.H / c.Hk);
    for (int64_t i0 = 0; i0 < c.n; i0 += ATT_BLOCK) {
      int64_t bn = c.n - i0 < ATT_BLOCK ? c.n - i0 : ATT_BLOCK;
      /* S[bn, m] = Q_h[i0:i0+bn] · K_hkᵀ */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bn, (int)c.m, (int)c.D, 1.0f,
                  c.q + (i0 * c.H + h) * c.D, (int)(c.H * c.D), c.k + hk * c.D, (int)(c.Hk * c.D),
                  0.0f, S, (int)c.m);
      att_softmax_rows(&c, 0, bn, S, i0);
      /* O_h[i0:i0+bn] = S · V_hk */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)bn, (int)c.Dv, (int)c.m, 1.0f, S,
                  (int)c.m, c.v + hk * c.Dv, (int)(c.Hk * c.Dv), 0.0f, c.o + (i0 * c.H + h) * c.Dv,
                  (int)(c.H * c.Dv));
    }
  }
  free(S);
}

/* ---- rope ---- */

typedef struct { float *x; const float *cs, *sn; int64_t H, D; int inter; } rope_ctx;

static void rope_rows(void *vc, int64_t t0, int64_t t1) {
  rope_ctx *c = vc;
  int64_t half = c->D / 2;
  for (int64_t t = t0; t < t1; t++) {
    const float *cs = c->cs + t * half, *sn = c->sn + t * half;
    for (int64_t h = 0; h < c->H; h++) {
      float *x = c->x + (t * c->H + h) * c->D;
      for (int64_t i = 0; i < half; i++) {
        int64_t a = c->inter ? 2 * i : i, b = c->inter ? 2 * i + 1 : i + half;
        float x0 = x[a], x1 = x[b];
        x[a] = x0 * cs[i] - x1 * sn[i];
        x[b] = x0 * sn[i] + x1 * cs[i];
      }
    }
  }
}

static void cpu_rope(sana_backend *be, sana_tensor *x, const sana_tensor *cs, const sana_tensor *sn,
                     int interleaved) {
  if (!CPU_F32(be, "rope", x, cs, sn)) return;
  if (x->nd != 3 || x->ne[2] % 2 || sana_numel(cs) != x->ne[0] * x->ne[2] / 2 ||
      sana_numel(sn) != sana_numel(cs)) {
    cpu_fail(be, "rope", "x must be [n, H, D] with tables [n, D/2]");
    return;
  }
  rope_ctx c = {x->data, cs->data, sn->data, x->ne[1], x->ne[2], interleaved};
  sana_parallel_for(x->ne[0], rope_rows, &c);
}

void cpu_install_core_ops(sana_backend *be) {
  be->linear = cpu_linear;
  be->unary = cpu_unary;
  be->binary = cpu_binary;
  be->layernorm_mod = cpu_layernorm_mod;
  be->rmsnorm = cpu_rmsnorm;
  be->gated_add = cpu_gated_add;
  be->attention = cpu_attention;
  be->rope = cpu_rope;
}
