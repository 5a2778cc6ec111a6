#include "tests/test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"

int sana_test_failures, sana_test_checks;

int sana_test_done(const char *name) {
  int passed = sana_test_checks - sana_test_failures;
  printf("%s: %d passed, %d failed\n", name, passed, sana_test_failures);
  return sana_test_failures ? 1 : 0;
}

const char *sana_fixture_path(const char *rel) {
  static char buf[4096];
  const char *root = getenv("SANA_FIXTURES");
  if (!root) {
    fprintf(stderr, "SANA_FIXTURES is not set (run through ctest)\n");
    exit(2);
  }
  snprintf(buf, sizeof buf, "%s/%s", root, rel);
  return buf;
}

sana_ckpt *sana_fixture_open(const char *rel) {
  sana_ckpt *c;
  sana_error err = {0};
  if (sana_ckpt_open(&c, sana_fixture_path(rel), &err)) {
    fprintf(stderr, "cannot open fixture %s: %s\n", rel, err.msg);
    exit(2);
  }
  return c;
}

char *sana_test_read(const char *path, size_t *n) {
  char *text;
  sana_error err = {0};
  if (sana_read_text(path, (size_t)1 << 30, &text, n, &err)) {
    fprintf(stderr, "cannot read %s: %s\n", path, err.msg);
    exit(2);
  }
  return text;
}

static double get(const sana_tensor *t, int64_t i) {
  switch (t->dtype) {
  case SANA_F32: return ((const float *)t->data)[i];
  case SANA_F64: return ((const double *)t->data)[i];
  case SANA_BF16: return sana_bf16_to_f32(((const uint16_t *)t->data)[i]);
  case SANA_F16: return sana_f16_to_f32(((const uint16_t *)t->data)[i]);
  case SANA_I64: return (double)((const int64_t *)t->data)[i];
  case SANA_I32: return ((const int32_t *)t->data)[i];
  default: return NAN;
  }
}

double sana_nmse(const sana_tensor *got, const sana_tensor *ref) {
  int64_t n = sana_numel(ref);
  if (sana_numel(got) != n) return INFINITY;
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    double a = get(got, i), b = get(ref, i);
    if (!isfinite(a) || !isfinite(b)) return INFINITY;
    num += (a - b) * (a - b);
    den += b * b;
  }
  return den > 0 ? num / den : (num > 0 ? INFINITY : 0.0);
}

void sana_check_close(const char *what, const sana_tensor *got, const sana_tensor *ref, double tol) {
  double e = sana_nmse(got, ref);
  sana_test_checks++;
  if (e <= tol) {
    printf("  ok   %-40s nmse %.3e (tol %.0e)\n", what, e, tol);
    return;
  }
  sana_test_failures++;
  int64_t n = sana_numel(ref), worst = 0;
  double wd = -1;
  for (int64_t i = 0; i < n && i < sana_numel(got); i++) {
    double d = fabs(get(got, i) - get(ref, i));
    if (!(d <= wd)) { wd = d; worst = i; }
  }
  fprintf(stderr, "  FAIL %-40s nmse %.3e > tol %.0e (numel got %lld, ref %lld)\n", what, e, tol,
          (long long)sana_numel(got), (long long)n);
  for (int64_t i = 0; i < 4 && i < n && i < sana_numel(got); i++)
    fprintf(stderr, "       [%lld] got % .6e ref % .6e\n", (long long)i, get(got, i), get(ref, i));
  if (n && sana_numel(got) == n)
    fprintf(stderr, "       worst [%lld] got % .6e ref % .6e\n", (long long)worst, get(got, worst), get(ref, worst));
}

sana_tensor sana_test_download(sana_backend *be, const sana_tensor *t) {
  sana_tensor h = sana_tensor_make(SANA_F32, NULL, t->nd, t->ne);
  h.data = malloc(sana_nbytes(&h) ? sana_nbytes(&h) : 1);
  be->download(be, &h, t);
  return h;
}
