/* CPU implementation of the dit family's ops (backend/ops_dit.h), fp32 storage; the GDN core
 * accumulates and scans in double so the reference stays well inside PyTorch's fp32 noise. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/ops_dit.h"
#include "core/threadpool.h"

static int64_t last_dim(const sana_tensor *t) { return t->nd ? t->ne[t->nd - 1] : 1; }

/* ---- concat_cols ---- */

typedef struct { float *y; const float *a, *b; int64_t A, B; } cat_ctx;

static void cat_rows(void *vc, int64_t r0, int64_t r1) {
  cat_ctx *c = vc;
  for (int64_t r = r0; r < r1; r++) {
    memcpy(c->y + r * (c->A + c->B), c->a + r * c->A, sizeof(float) * (size_t)c->A);
    memcpy(c->y + r * (c->A + c->B) + c->A, c->b + r * c->B, sizeof(float) * (size_t)c->B);
  }
}

static void cpu_concat_cols(sana_backend *be, sana_tensor *y, const sana_tensor *a, const sana_tensor *b) {
  if (!CPU_F32(be, "concat_cols", y, a, b)) return;
  int64_t A = last_dim(a), B = last_dim(b), M = sana_numel(a) / (A ? A : 1);
  if (sana_numel(b) != M * B || sana_numel(y) != M * (A + B)) {
    cpu_fail(be, "concat_cols", "shapes do not match (%lld rows)", (long long)M);
    return;
  }
  cat_ctx c = {y->data, a->data, b->data, A, B};
  sana_parallel_for(M, cat_rows, &c);
}

/* ---- frame_mean ---- */

typedef struct { float *y; const float *x; int64_t T, S, C; } mean_ctx;

static void mean_cols(void *vc, int64_t j0, int64_t j1) {
  mean_ctx *c = vc;
  for (int64_t t = 0; t < c->T; t++)
    for (int64_t j = j0; j < j1; j++) {
      double s = 0;
      for (int64_t i = 0; i < c->S; i++) s += c->x[(t * c->S + i) * c->C + j];
      c->y[t * c->C + j] = (float)(s / (double)c->S);
    }
}

static void cpu_frame_mean(sana_backend *be, sana_tensor *y, const sana_tensor *x, int64_t T) {
  if (!CPU_F32(be, "frame_mean", y, x)) return;
  int64_t C = last_dim(x), N = sana_numel(x) / C;
  if (T <= 0 || N % T || sana_numel(y) != T * C) {
    cpu_fail(be, "frame_mean", "x has %lld tokens, not a multiple of %lld frames", (long long)N, (long long)T);
    return;
  }
  mean_ctx c = {y->data, x->data, T, N / T, C};
  sana_parallel_for(C, mean_cols, &c);
}

/* ---- dwconv3x3 ---- */

typedef struct { float *y; const float *x, *w, *b; int64_t Hl, Wl, Ch; } dw_ctx;

static void dw_tokens(void *vc, int64_t n0, int64_t n1) {
  dw_ctx *c = vc;
  int64_t S = c->Hl * c->Wl;
  for (int64_t n = n0; n < n1; n++) {
    int64_t t = n / S, h = n % S / c->Wl, w = n % c->Wl;
    float *y = c->y + n * c->Ch;
    for (int64_t j = 0; j < c->Ch; j++) y[j] = c->b ? c->b[j] : 0.0f;
    for (int dy = 0; dy < 3; dy++) {
      int64_t hh = h + dy - 1;
      if (hh < 0 || hh >= c->Hl) continue;
      for (int dx = 0; dx < 3; dx++) {
        int64_t ww = w + dx - 1;
        if (ww < 0 || ww >= c->Wl) continue;
        const float *x = c->x + (t * S + hh * c->Wl + ww) * c->Ch;
        const float *wk = c->w + dy * 3 + dx;
        for (int64_t j = 0; j < c->Ch; j++) y[j] += wk[j * 9] * x[j];
      }
    }
  }
}

static void cpu_dwconv3x3(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                          const sana_tensor *b, int64_t T, int64_t Hl, int64_t Wl) {
  if (!CPU_F32(be, "dwconv3x3", y, x, w, b)) return;
  int64_t Ch = last_dim(x), N = T * Hl * Wl;
  if (sana_numel(x) != N * Ch || sana_numel(y) != N * Ch || sana_numel(w) != Ch * 9 ||
      (b && sana_numel(b) != Ch)) {
    cpu_fail(be, "dwconv3x3", "shapes do not match (%lld tokens, %lld channels)", (long long)N, (long long)Ch);
    return;
  }
  dw_ctx c = {y->data, x->data, w->data, b ? b->data : NULL, Hl, Wl, Ch};
  sana_parallel_for(N, dw_tokens, &c);
}

/* ---- glu ---- */

typedef struct { float *y; const float *x; int64_t F; } glu_ctx;

static void glu_rows(void *vc, int64_t r0, int64_t r1) {
  glu_ctx *c = vc;
  for (int64_t r = r0; r < r1; r++) {
    const float *a = c->x + r * 2 * c->F, *g = a + c->F;
    float *y = c->y + r * c->F;
    for (int64_t j = 0; j < c->F; j++) y[j] = a[j] * cpu_act(g[j], SANA_ACT_SILU);
  }
}

static void cpu_glu(sana_backend *be, sana_tensor *y, const sana_tensor *x) {
  if (!CPU_F32(be, "glu", y, x)) return;
  int64_t F2 = last_dim(x), M = sana_numel(x) / F2;
  if (F2 % 2 || sana_numel(y) != M * F2 / 2) {
    cpu_fail(be, "glu", "x must be [M, 2F] and y [M, F]");
    return;
  }
  glu_ctx c = {y->data, x->data, F2 / 2};
  sana_parallel_for(M, glu_rows, &c);
}

/* ---- dwconv_glu: unary SiLU, dwconv3x3 and glu in a row, on fp32 temporaries ---- */

static void cpu_dwconv_glu(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                           const sana_tensor *b, int64_t T, int64_t Hl, int64_t Wl) {
  if (!CPU_F32(be, "dwconv_glu", y, x, w, b)) return;
  int64_t C2 = last_dim(x), N = T * Hl * Wl;
  if (C2 % 2 || sana_numel(x) != N * C2 || sana_numel(y) != N * C2 / 2 || sana_numel(w) != C2 * 9 ||
      (b && sana_numel(b) != C2)) {
    cpu_fail(be, "dwconv_glu", "shapes do not match (%lld tokens, %lld channels)", (long long)N, (long long)C2);
    return;
  }
  float *tmp = malloc(sizeof(float) * (size_t)(2 * N * C2 + 1));
  if (!tmp) { cpu_fail(be, "dwconv_glu", "out of memory"); return; }
  sana_tensor act = SANA_T(SANA_F32, tmp, N, C2), conv = SANA_T(SANA_F32, tmp + N * C2, N, C2);
  be->unary(be, &act, x, SANA_ACT_SILU);
  cpu_dwconv3x3(be, &conv, &act, w, b, T, Hl, Wl);
  cpu_glu(be, y, &conv);
  free(tmp);
}

/* ---- temporal_conv ---- */

static void cpu_temporal_conv(sana_backend *be, sana_tensor *y, const sana_tensor *s, const sana_tensor *w,
                              const sana_tensor *prev, int64_t T) {
  if (!CPU_F32(be, "temporal_conv", y, s, w, prev)) return;
  int64_t C = last_dim(s), N = sana_numel(s) / C, S = T > 0 ? N / T : 0;
  if (T <= 0 || N % T || sana_numel(y) != N * C || sana_numel(w) != C * C * 3 ||
      (prev && sana_numel(prev) != S * C) || y->data == s->data) {
    cpu_fail(be, "temporal_conv", "shapes do not match (%lld tokens, %lld frames, %lld channels)",
             (long long)N, (long long)T, (long long)C);
    return;
  }
  /* The checkpoint's [Cout, Cin, 3, 1] strides the taps by 3; BLAS wants each tap contiguous. */
  float *wk = malloc(sizeof(float) * (size_t)(3 * C * C));
  if (!wk) { cpu_fail(be, "temporal_conv", "out of memory"); return; }
  const float *W = w->data;
  for (int64_t k = 0; k < 3; k++)
    for (int64_t i = 0; i < C * C; i++) wk[k * C * C + i] = W[i * 3 + k];
  const float *sd = s->data;
  float *yd = y->data;
  memcpy(yd, sd, sizeof(float) * (size_t)(N * C));
  int iC = (int)C;
  /* centre tap over every frame */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, iC, iC, 1.0f, sd, iC, wk + C * C, iC, 1.0f, yd, iC);
  if (T > 1) {
    /* tap 0 reads the previous frame, tap 2 the next one */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(N - S), iC, iC, 1.0f, sd, iC, wk, iC, 1.0f,
                yd + S * C, iC);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(N - S), iC, iC, 1.0f, sd + S * C, iC,
                wk + 2 * C * C, iC, 1.0f, yd, iC);
  }
  if (prev)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)S, iC, iC, 1.0f, prev->data, iC, wk, iC, 1.0f,
                yd, iC);
  free(wk);
}

/* ---- gdn_chunk ---- */

typedef struct {
  float *o;
  const float *qh, *qr, *kh, *kr, *v, *beta, *g, *gate;
  float *skv, *sz;
  int64_t T, S, H, D;
  int save;
  int fail;
} gdn_ctx;

/* X ← g·(X − X·P) + A for X [D, D]; tmp [D, D]. */
static void scan_mat(double *X, const double *P, const double *A, double g, double *tmp, int64_t D) {
  for (int64_t a = 0; a < D; a++)
    for (int64_t b = 0; b < D; b++) {
      double s = 0;
      for (int64_t k = 0; k < D; k++) s += X[a * D + k] * P[k * D + b];
      tmp[a * D + b] = s;
    }
  for (int64_t i = 0; i < D * D; i++) X[i] = g * (X[i] - tmp[i]) + A[i];
}

/* x ← g·(x − Pz·x) + b for x [D]. */
static void scan_vec(double *x, const double *Pz, const double *b, double g, double *tmp, int64_t D) {
  for (int64_t a = 0; a < D; a++) {
    double s = 0;
    for (int64_t k = 0; k < D; k++) s += Pz[a * D + k] * x[k];
    tmp[a] = s;
  }
  for (int64_t a = 0; a < D; a++) x[a] = g * (x[a] - tmp[a]) + b[a];
}

static void gdn_heads(void *vc, int64_t h0, int64_t h1) {
  gdn_ctx *c = vc;
  int64_t T = c->T, S = c->S, H = c->H, D = c->D, DD = D * D, HD = H * D;
  /* per frame: P, Â, Pz (D×D each), b (D); then the histories Ŝ_t + R̂_t and z_t + r_t */
  double *P = malloc(sizeof(double) * (size_t)(T * (3 * DD + D)));
  double *Mh = malloc(sizeof(double) * (size_t)(T * (DD + D)));
  double *X = malloc(sizeof(double) * (size_t)(2 * DD + 2 * D));
  if (!P || !Mh || !X) {
    free(P), free(Mh), free(X);
    c->fail = 1;
    return;
  }
  double *A = P + T * DD, *Pz = A + T * DD, *bv = Pz + T * DD, *zh = Mh + T * DD;
  double *x = X + DD, *tmp = x + D, *tmpv = tmp + DD;
  for (int64_t h = h0; h < h1; h++) {
    memset(P, 0, sizeof(double) * (size_t)(T * (3 * DD + D)));
    for (int64_t t = 0; t < T; t++)
      for (int64_t s = 0; s < S; s++) {
        int64_t n = t * S + s;
        double be = c->beta[n * H + h];
        const float *kr = c->kr + n * HD + h * D, *kh = c->kh + n * HD + h * D, *v = c->v + n * HD + h * D;
        double *Pt = P + t * DD, *At = A + t * DD, *Pzt = Pz + t * DD, *bt = bv + t * D;
        for (int64_t a = 0; a < D; a++) {
          double bkr = be * kr[a], bkh = be * kh[a], bvv = be * v[a];
          bt[a] += bkh;
          for (int64_t b = 0; b < D; b++) {
            Pt[a * D + b] += bkr * kr[b];
            Pzt[a * D + b] += bkh * kh[b];
            At[a * D + b] += bvv * kr[b]; /* value × key */
          }
        }
      }
    /* forward scan from the cached state */
    for (int64_t i = 0; i < DD; i++) X[i] = c->skv[h * DD + i];
    for (int64_t i = 0; i < D; i++) x[i] = c->sz[h * D + i];
    for (int64_t t = 0; t < T; t++) {
      double g = c->g[t * H + h];
      scan_mat(X, P + t * DD, A + t * DD, g, tmp, D);
      scan_vec(x, Pz + t * DD, bv + t * D, g, tmpv, D);
      memcpy(Mh + t * DD, X, sizeof(double) * (size_t)DD);
      memcpy(zh + t * D, x, sizeof(double) * (size_t)D);
    }
    if (c->save) {
      for (int64_t i = 0; i < DD; i++) c->skv[h * DD + i] = (float)X[i];
      for (int64_t i = 0; i < D; i++) c->sz[h * D + i] = (float)x[i];
    }
    /* reverse scan inside the chunk, from zero: frame t sees frames > t */
    memset(X, 0, sizeof(double) * (size_t)(DD + D));
    for (int64_t t = T - 1; t >= 0; t--) {
      for (int64_t i = 0; i < DD; i++) Mh[t * DD + i] += X[i];
      for (int64_t i = 0; i < D; i++) zh[t * D + i] += x[i];
      double g = c->g[t * H + h];
      scan_mat(X, P + t * DD, A + t * DD, g, tmp, D);
      scan_vec(x, Pz + t * DD, bv + t * D, g, tmpv, D);
    }
    /* readout: rotated features against Ŝ, un-rotated against z */
    for (int64_t t = 0; t < T; t++)
      for (int64_t s = 0; s < S; s++) {
        int64_t n = t * S + s;
        const float *qr = c->qr + n * HD + h * D, *qh = c->qh + n * HD + h * D, *gt = c->gate + n * HD + h * D;
        float *o = c->o + n * HD + h * D;
        double den = 0;
        for (int64_t k = 0; k < D; k++) den += qh[k] * zh[t * D + k];
        for (int64_t a = 0; a < D; a++) {
          const double *row = Mh + t * DD + a * D;
          double num = 0;
          for (int64_t k = 0; k < D; k++) num += row[k] * qr[k];
          o[a] = (float)(num / (den + 1e-8)) * cpu_act(gt[a], SANA_ACT_SILU);
        }
      }
  }
  free(P), free(Mh), free(X);
}

static void cpu_gdn_chunk(sana_backend *be, sana_tensor *o, const sana_tensor *q_hat, const sana_tensor *q_rot,
                          const sana_tensor *k_hat, const sana_tensor *k_rot, const sana_tensor *v,
                          const sana_tensor *beta, const sana_tensor *g, const sana_tensor *gate,
                          sana_tensor *state_kv, sana_tensor *state_z, int64_t T, int save) {
  if (!CPU_F32(be, "gdn_chunk", o, q_hat, q_rot, k_hat, k_rot, v, beta, g, gate, state_kv, state_z)) return;
  if (q_hat->nd != 3 || T <= 0 || q_hat->ne[0] % T) {
    cpu_fail(be, "gdn_chunk", "q_hat must be [N, H, D] with N a multiple of T = %lld", (long long)T);
    return;
  }
  int64_t N = q_hat->ne[0], H = q_hat->ne[1], D = q_hat->ne[2];
  const sana_tensor *same[] = {o, q_rot, k_hat, k_rot, v, gate};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++)
    if (sana_numel(same[i]) != N * H * D) {
      cpu_fail(be, "gdn_chunk", "operand %zu does not have %lld×%lld×%lld elements", i, (long long)N,
               (long long)H, (long long)D);
      return;
    }
  if (sana_numel(beta) != N * H || sana_numel(g) != T * H || sana_numel(state_kv) != H * D * D ||
      sana_numel(state_z) != H * D) {
    cpu_fail(be, "gdn_chunk", "beta, g or the state have the wrong size");
    return;
  }
  gdn_ctx c = {o->data, q_hat->data, q_rot->data, k_hat->data, k_rot->data, v->data, beta->data, g->data,
               gate->data, state_kv->data, state_z->data, T, N / T, H, D, save, 0};
  sana_parallel_for(H, gdn_heads, &c);
  if (c.fail) cpu_fail(be, "gdn_chunk", "out of memory");
}

static const struct sana_dit_ops cpu_dit_ops = {
    .concat_cols = cpu_concat_cols,
    .frame_mean = cpu_frame_mean,
    .dwconv3x3 = cpu_dwconv3x3,
    .glu = cpu_glu,
    .temporal_conv = cpu_temporal_conv,
    .gdn_chunk = cpu_gdn_chunk,
    .dwconv_glu = cpu_dwconv_glu,
};

void cpu_install_dit_ops(sana_backend *be) { be->dit = &cpu_dit_ops; }
