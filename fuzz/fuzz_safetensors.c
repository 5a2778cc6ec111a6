/* libFuzzer target: a whole safetensors image through sana_safetensors_parse (io/safetensors.c).
 * Seeds: every fixture .safetensors. */
#include <stdint.h>

#include "fuzz/fuzz_util.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_sink s = {0};
  sana_error err;
  sana_safetensors_parse(data, size, "fuzz.safetensors", fuzz_push, &s, &err);
  return 0;
}
