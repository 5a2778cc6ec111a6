/* test_backend_ops: every op of the backend table on random inputs, on the backend under test
 * (default cuda) against the CPU reference, by NMSE with a stated tolerance per case, in the
 * manner of llama.cpp's test-backend-ops. Prints one table row per case.
 *
 *   test_backend_ops [-b cuda] [-o filter] [--small] [--perf] [--seed N] [--list]
 *
 * -o keeps the cases whose "op label" contains the filter; --perf also times each case on
 * the backend under test (median of 5 batches; TFLOP/s for cases that count FLOPs, GB/s over
 * the tensors' bytes otherwise) and runs the perf-only cases. --small skips cases with a
 * tensor over 2^20 elements (CI runs `-b cpu --small` to check the harness itself). Exits 77 (CTest's skip code)
 * when the backend cannot be created, e.g. on a machine without a GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bf16.h"
#include "tests/backend/backend_ops.h"
#include "tests/test_util.h"

#define SKIP_CODE 77

static const bo_family *const families[] = {&bo_core_family, &bo_dit_family, &bo_vae_family,
                                            &bo_text_family, &bo_video_family};

/* ---- inputs ---- */

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static float rng_unit(uint64_t *s) { return (float)(rng_next(s) >> 40) * (1.0f / 16777216.0f); }

static int64_t spec_numel(const bo_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->nd; i++) n *= t->ne[i];
  return n;
}

/* Host values of tensor i of a case: act/weight values are rounded to bf16 so that every
 * backend starts from the same numbers whatever its storage dtype. */
static float *make_host(const bo_tensor *t, uint64_t seed, int inplace) {
  int64_t n = spec_numel(t);
  float *h = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!h) return NULL;
  uint64_t s = seed;
  for (int64_t i = 0; i < n; i++) {
    float v;
    switch (t->init) {
    case BO_POS: v = t->amp * (0.5f + rng_unit(&s)); break;
    case BO_MASK: v = i < (n * 3 + 3) / 4 ? 0.0f : -t->amp; break;
    case BO_OUT: v = inplace ? t->amp * (2.0f * rng_unit(&s) - 1.0f) : NAN; break;
    default: v = t->amp * (2.0f * rng_unit(&s) - 1.0f); break;
    }
    if (t->kind == BO_U8) h[i] = t->init == BO_OUT && !inplace ? NAN : floorf(256.0f * rng_unit(&s));
    else h[i] = t->kind == BO_F32 ? v : sana_round_bf16(v);
  }
  return h;
}

static sana_dtype dtype_on(sana_backend *be, bo_kind k) {
  return k == BO_ACT ? be->act_dtype : k == BO_WEIGHT ? be->weight_dtype : k == BO_U8 ? SANA_U8 : SANA_F32;
}

/* U8 tensors cross as bytes (no backend converts them): NaN (an output) becomes `poison`. */
static void upload_u8(sana_backend *be, sana_tensor *dst, const float *h, uint8_t poison) {
  int64_t n = sana_numel(dst);
  uint8_t *b = malloc((size_t)(n ? n : 1));
  if (!b) return;
  for (int64_t i = 0; i < n; i++) b[i] = isnan(h[i]) ? poison : (uint8_t)h[i];
  sana_tensor t = sana_tensor_make(SANA_U8, b, dst->nd, dst->ne);
  be->upload(be, dst, &t);
  free(b);
}

static void download_u8(sana_backend *be, float *h, const sana_tensor *src) {
  int64_t n = sana_numel(src);
  uint8_t *b = malloc((size_t)(n ? n : 1));
  if (!b) {
    for (int64_t i = 0; i < n; i++) h[i] = NAN;
    return;
  }
  sana_tensor t = sana_tensor_make(SANA_U8, b, src->nd, src->ne);
  be->download(be, &t, src);
  for (int64_t i = 0; i < n; i++) h[i] = b[i];
  free(b);
}

/* ---- one case on one backend ---- */

typedef struct run {
  sana_tensor t[BO_MAX_TENSORS];
  float *out[BO_MAX_TENSORS]; /* downloaded outputs (F32) */
} run;

static void run_free(sana_backend *be, run *r, int nt) {
  for (int i = 0; i < nt; i++) {
    if (r->t[i].data) be->free(be, r->t[i].data);
    free(r->out[i]);
  }
}

/* Uploads the inputs, runs the op, downloads the outputs. Returns 0, 1 when the backend lacks
 * the op, -1 on an error (message in *err). */
static int run_case(sana_backend *be, const bo_case *c, float *const *host, int is_ref, run *r, sana_error *err) {
  memset(r, 0, sizeof *r);
  for (int i = 0; i < c->nt; i++) {
    const bo_tensor *s = &c->t[i];
    if (sana_backend_tensor(be, &r->t[i], dtype_on(be, s->kind), s->nd, s->ne, err)) return -1;
    sana_tensor h = sana_tensor_make(SANA_F32, host[i], s->nd, s->ne);
    if (s->kind == BO_U8) upload_u8(be, &r->t[i], host[i], is_ref ? 255 : 0);
    else be->upload(be, &r->t[i], &h);
  }
  if (be->sync(be, err)) return -1;
  if (c->apply(be, c, r->t)) return 1;
  if (be->sync(be, err)) return -1;
  for (int i = 0; i < c->nt; i++) {
    if (!(c->outs >> i & 1)) continue;
    int64_t n = spec_numel(&c->t[i]);
    r->out[i] = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!r->out[i]) return sana_err(err, SANA_ERR_NOMEM, "host memory for outputs"), -1;
    sana_tensor h = sana_tensor_make(SANA_F32, r->out[i], c->t[i].nd, c->t[i].ne);
    if (c->t[i].kind == BO_U8) download_u8(be, r->out[i], &r->t[i]);
    else be->download(be, &h, &r->t[i]);
  }
  return be->sync(be, err) ? -1 : 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median seconds per call over 5 batches (the batch size targets ~20 ms of work). */
static double time_case(sana_backend *be, const bo_case *c, run *r, sana_error *err) {
  c->apply(be, c, r->t); /* warm-up: plans, module load */
  if (be->sync(be, err)) return -1;
  double t0 = now_s();
  c->apply(be, c, r->t);
  if (be->sync(be, err)) return -1;
  double one = now_s() - t0;
  int reps = one > 0 ? (int)(0.02 / one) : 100;
  if (reps < 3) reps = 3;
  if (reps > 200) reps = 200;
  double batch[5];
  for (int b = 0; b < 5; b++) {
    t0 = now_s();
    for (int i = 0; i < reps; i++) c->apply(be, c, r->t);
    if (be->sync(be, err)) return -1;
    batch[b] = (now_s() - t0) / reps;
  }
  qsort(batch, 5, sizeof batch[0], cmp_double);
  return batch[2];
}

static double case_bytes(sana_backend *be, const bo_case *c) {
  double b = 0;
  for (int i = 0; i < c->nt; i++)
    b += (double)spec_numel(&c->t[i]) * (double)sana_dtype_size(dtype_on(be, c->t[i].kind));
  return b;
}

/* ---- main ---- */

int main(int argc, char **argv) {
  const char *bname = "cuda", *filter = NULL;
  int perf = 0, list = 0, small = 0;
  uint64_t seed = 1234;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-b") && i + 1 < argc) bname = argv[++i];
    else if (!strcmp(argv[i], "-o") && i + 1 < argc) filter = argv[++i];
    else if (!strcmp(argv[i], "--perf")) perf = 1;
    else if (!strcmp(argv[i], "--list")) list = 1;
    else if (!strcmp(argv[i], "--small")) small = 1;
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "usage: %s [-b backend] [-o filter] [--small] [--perf] [--seed N] [--list]\n", argv[0]);
      return 2;
    }
  }
  if (list) {
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
      for (int i = 0; i < families[f]->n; i++)
        printf("%-14s %s\n", families[f]->cases[i].op, families[f]->cases[i].label);
    return 0;
  }

  sana_error err = {0};
  sana_backend *be = sana_backend_create(bname, &err);
  if (!be) {
    printf("test_backend_ops: SKIP: backend '%s' unavailable: %s\n", bname, err.msg);
    return SKIP_CODE;
  }
  sana_backend *ref = sana_backend_cpu_create(&err);
  if (!ref) {
    fprintf(stderr, "cpu backend: %s\n", err.msg);
    return 1;
  }

  printf("%-14s %-58s %10s %8s  %-6s%s\n", "op", "case", "nmse", "tol", "result",
         perf ? "      time      rate" : "");
  int n_ok = 0, n_fail = 0, n_na = 0;
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
    for (int ci = 0; ci < families[f]->n; ci++) {
      const bo_case *c = &families[f]->cases[ci];
      char full[256];
      snprintf(full, sizeof full, "%s %s", c->op, c->label);
      if (filter && !strstr(full, filter)) continue;
      if ((c->flags & BO_PERF_ONLY) && !perf) continue;
      if (!c->apply) continue;
      if (small) {
        int big = 0;
        for (int i = 0; i < c->nt; i++) big |= spec_numel(&c->t[i]) > (1 << 20);
        if (big) continue;
      }

      float *host[BO_MAX_TENSORS] = {0};
      int ok = 1;
      for (int i = 0; i < c->nt && ok; i++) {
        host[i] = make_host(&c->t[i], seed * 1000003u + (uint64_t)ci * 101u + (uint64_t)i,
                            (int)(c->inplace >> i & 1));
        ok = host[i] != NULL;
      }
      run rt, rr;
      memset(&rr, 0, sizeof rr);
      char result[16] = "ok";
      double worst = 0;
      int st = ok ? run_case(be, c, host, 0, &rt, &err) : -1;
      if (st < 0) {
        snprintf(result, sizeof result, "ERROR");
      } else if (st == 1) {
        snprintf(result, sizeof result, "n/a");
      } else if (!(c->flags & BO_PERF_ONLY)) {
        int sr = run_case(ref, c, host, 1, &rr, &err);
        if (sr) {
          snprintf(result, sizeof result, sr > 0 ? "n/a" : "ERROR");
          if (sr > 0) snprintf(err.msg, sizeof err.msg, "the CPU reference lacks this op");
        } else {
          for (int i = 0; i < c->nt; i++) {
            if (!(c->outs >> i & 1)) continue;
            sana_tensor g = sana_tensor_make(SANA_F32, rt.out[i], c->t[i].nd, c->t[i].ne);
            sana_tensor r = sana_tensor_make(SANA_F32, rr.out[i], c->t[i].nd, c->t[i].ne);
            double e = sana_nmse(&g, &r);
            if (!(e <= worst)) worst = e;
          }
          if (!(worst <= c->tol)) snprintf(result, sizeof result, "FAIL");
        }
      } else {
        snprintf(result, sizeof result, "perf");
      }
      char rate[48] = "";
      if (perf && st == 0) {
        double t = time_case(be, c, &rt, &err);
        if (t < 0) snprintf(result, sizeof result, "ERROR");
        else if (c->flops > 0) snprintf(rate, sizeof rate, "%9.3f ms %6.1f TF/s", t * 1e3, c->flops / t * 1e-12);
        else snprintf(rate, sizeof rate, "%9.3f ms %6.0f GB/s", t * 1e3, case_bytes(be, c) / t * 1e-9);
      }
      if (!strcmp(result, "perf") || !strcmp(result, "n/a"))
        printf("%-14s %-58s %10s %8.0e  %-6s%s\n", c->op, c->label, "-", c->tol, result, rate);
      else
        printf("%-14s %-58s %10.3e %8.0e  %-6s%s\n", c->op, c->label, worst, c->tol, result, rate);
      if (!strcmp(result, "ERROR")) printf("    %s\n", err.msg);
      fflush(stdout);
      if (!strcmp(result, "ok") || !strcmp(result, "perf")) n_ok++;
      else if (!strcmp(result, "n/a")) n_na++;
      else n_fail++;
      if (st >= 0) run_free(be, &rt, c->nt);
      run_free(ref, &rr, c->nt);
      for (int i = 0; i < c->nt; i++) free(host[i]);
      if (!strcmp(result, "ERROR")) { /* a CUDA fault poisons the context: later cases can't run */
        sana_backend_destroy(be);
        sana_backend_destroy(ref);
        printf("test_backend_ops: stopped after an error\n");
        return 1;
      }
    }
  }
  printf("test_backend_ops (%s vs cpu): %d ok, %d failed, %d n/a\n", be->name, n_ok, n_fail, n_na);
  sana_backend_destroy(be);
  sana_backend_destroy(ref);
  return n_fail ? 1 : 0;
}
