/* Philox4x32-10 against the Random123 known-answer vectors (kat_vectors), and the normal
 * numbers' documented construction and statistics. */
#include <math.h>
#include <stdlib.h>

#include "core/rng.h"
#include "tests/test_util.h"

static void kat(const uint32_t c[4], const uint32_t k[2], const uint32_t want[4]) {
  uint32_t o[4];
  sana_philox4x32_10(c, k, o);
  CHECK(o[0] == want[0] && o[1] == want[1] && o[2] == want[2] && o[3] == want[3],
        "philox(%08x..) = %08x %08x %08x %08x", c[0], o[0], o[1], o[2], o[3]);
}

int main(void) {
  kat((uint32_t[]){0, 0, 0, 0}, (uint32_t[]){0, 0}, (uint32_t[]){0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  kat((uint32_t[]){~0u, ~0u, ~0u, ~0u}, (uint32_t[]){~0u, ~0u},
      (uint32_t[]){0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  kat((uint32_t[]){0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, (uint32_t[]){0xa4093822, 0x299f31d0},
      (uint32_t[]){0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});

  /* element 3 follows the documented construction */
  uint32_t u[4];
  sana_philox4x32_10((uint32_t[]){1, 0, 7, 0x5A4E4F49u}, (uint32_t[]){42, 0}, u);
  double want = sqrt(-2.0 * log(((double)u[2] + 1.0) * 0x1p-32)) * cos(2.0 * M_PI * (double)u[3] * 0x1p-32);
  float v[4];
  sana_randn(42, 7, 0, v, 4);
  CHECK(v[3] == (float)want, "element 3: %g vs %g", v[3], want);
  /* any window of the stream equals the same slice of a longer draw */
  float w;
  sana_randn(42, 7, 3, &w, 1);
  CHECK(w == v[3], "random access");

  enum { N = 1 << 20 };
  float *x = malloc(sizeof(float) * N);
  sana_randn(1, 0, 0, x, N);
  double s = 0, s2 = 0;
  for (int i = 0; i < N; i++) { s += x[i]; s2 += (double)x[i] * x[i]; }
  double mean = s / N, var = s2 / N - mean * mean;
  CHECK(fabs(mean) < 5.0 / sqrt(N), "mean %g", mean);
  CHECK(fabs(var - 1.0) < 0.01, "variance %g", var);
  sana_randn(1, 1, 0, x, 4);
  float y[4];
  sana_randn(2, 0, 0, y, 4);
  CHECK(x[0] != y[0] && x[1] != y[1], "chunks and seeds differ");
  free(x);
  return sana_test_done("test_rng");
}
