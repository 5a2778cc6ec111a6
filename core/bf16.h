/* bf16 <-> f32 with round-to-nearest-even, as PyTorch's .to(torch.bfloat16) does
 * (NaN stays a quiet NaN instead of rounding into Inf). */
#ifndef SANA_CORE_BF16_H
#define SANA_CORE_BF16_H

#include <stdint.h>
#include <string.h>

static inline float sana_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static inline uint16_t sana_f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

/* Rounds an f32 through bf16 and back: the value a bf16 tensor would hold. */
static inline float sana_round_bf16(float f) { return sana_bf16_to_f32(sana_f32_to_bf16(f)); }

/* IEEE half <-> f32 (round-to-nearest-even), for checkpoints that carry f16. */
float sana_f16_to_f32(uint16_t h);
uint16_t sana_f32_to_f16(float f);

#endif
