/* bf16/f16 conversions against hand-derived bit patterns. */
#include <math.h>
#include <string.h>

#include "core/bf16.h"
#include "tests/test_util.h"

static float bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

int main(void) {
  /* 1.0 + 2^-8 is exactly half-way between bf16 1.0 and 1.0078125: ties to even -> 1.0 */
  CHECK(sana_f32_to_bf16(bits(0x3F808000u)) == 0x3F80, "tie to even (down)");
  /* 1.0078125 + 2^-8 is half-way between 0x3F81 and 0x3F82: ties to even -> 0x3F82 */
  CHECK(sana_f32_to_bf16(bits(0x3F818000u)) == 0x3F82, "tie to even (up)");
  CHECK(sana_f32_to_bf16(bits(0x3F808001u)) == 0x3F81, "above half rounds up");
  CHECK(sana_f32_to_bf16(-0.0f) == 0x8000, "negative zero");
  CHECK(sana_f32_to_bf16(INFINITY) == 0x7F80, "inf");
  uint16_t n = sana_f32_to_bf16(NAN);
  CHECK((n & 0x7F80) == 0x7F80 && (n & 0x7F), "NaN stays NaN (0x%04x)", n);
  /* the largest finite f32 rounds to bf16 inf, as in PyTorch */
  CHECK(sana_f32_to_bf16(bits(0x7F7FFFFFu)) == 0x7F80, "overflow to inf");
  CHECK(sana_bf16_to_f32(0x4049) == 3.140625f, "bf16 -> f32");
  /* the Euler step sizes the spec quotes (model-spec §3.5) */
  CHECK(sana_round_bf16(0.961f - 1.0f) == -0.0390625f, "dt0 = %.9g", sana_round_bf16(0.961f - 1.0f));
  CHECK(sana_round_bf16(0.893f - 0.961f) == -0.06787109375f, "dt1");
  CHECK(sana_round_bf16(0.743f - 0.893f) == -0.150390625f, "dt2");
  CHECK(sana_round_bf16(0.0f - 0.743f) == -0.7421875f, "dt3");
  /* -10000 in bf16 is -9984 (model-spec §4.2) */
  CHECK(sana_round_bf16(-10000.0f) == -9984.0f, "mask bias");

  CHECK(sana_f32_to_f16(1.0f) == 0x3C00, "f16 one");
  CHECK(sana_f32_to_f16(65504.0f) == 0x7BFF, "f16 max");
  CHECK(sana_f32_to_f16(65520.0f) == 0x7C00, "f16 overflow");
  CHECK(sana_f16_to_f32(0x0001) == bits(0x33800000u), "f16 smallest subnormal");
  CHECK(sana_f32_to_f16(bits(0x33800000u)) == 0x0001, "to f16 subnormal");
  for (uint32_t h = 0; h < 0x7C00; h++)
    if (sana_f32_to_f16(sana_f16_to_f32((uint16_t)h)) != h) { CHECK(0, "f16 round trip of 0x%04x", h); break; }
  return sana_test_done("test_core_bf16");
}
