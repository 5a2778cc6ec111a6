/* The noise generator: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", SC'11), counter-based, so any element of any chunk's noise can be drawn
 * independently, in any order, on any backend, with the same result.
 *
 * Normal number i of stream (seed, chunk) is defined as: block = i / 2,
 * (u0, u1, u2, u3) = philox4x32_10(counter = (block lo32, block hi32, chunk, 0x5A4E4F49 "SANA"),
 *                                  key = (seed lo32, seed hi32));
 * pair (a, b) = (u0, u1) for even i, (u2, u3) for odd i;
 * x = (a + 1) · 2^−32 ∈ (0, 1], y = b · 2^−32 ∈ [0, 1);
 * normal = sqrt(−2 ln x) · cos(2π y), computed in double, rounded to f32.
 * This does not reproduce torch's CUDA Philox stream (nothing outside torch can); for exact
 * parity with upstream, load its noise with `--noise FILE`. */
#ifndef SANA_CORE_RNG_H
#define SANA_CORE_RNG_H

#include <stdint.h>

void sana_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Fills out[0..n) with normal numbers first..first+n of stream (seed, chunk). */
void sana_randn(uint64_t seed, uint32_t chunk, uint64_t first, float *out, int64_t n);

#endif
