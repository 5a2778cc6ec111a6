#include "core/rng.h"

#include <math.h>

#include "core/threadpool.h"

void sana_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

typedef struct { uint64_t seed, first; uint32_t chunk; float *out; } randn_ctx;

static void randn_range(void *vc, int64_t i0, int64_t i1) {
  randn_ctx *c = vc;
  const uint32_t key[2] = {(uint32_t)c->seed, (uint32_t)(c->seed >> 32)};
  for (int64_t k = i0; k < i1; k++) {
    uint64_t i = c->first + (uint64_t)k, block = i / 2;
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), c->chunk, 0x5A4E4F49u}, u[4];
    sana_philox4x32_10(ctr, key, u);
    uint32_t a = (i & 1) ? u[2] : u[0], b = (i & 1) ? u[3] : u[1];
    double x = ((double)a + 1.0) * 0x1p-32, y = (double)b * 0x1p-32;
    c->out[k] = (float)(sqrt(-2.0 * log(x)) * cos(2.0 * M_PI * y));
  }
}

void sana_randn(uint64_t seed, uint32_t chunk, uint64_t first, float *out, int64_t n) {
  randn_ctx c = {seed, first, chunk, out};
  sana_parallel_for(n, randn_range, &c);
}
