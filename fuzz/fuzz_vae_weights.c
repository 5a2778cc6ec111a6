/* libFuzzer target: arbitrary bytes as the VAE's diffusion_pytorch_model.safetensors, through
 * the safetensors header parser the loader uses (io/safetensors.c). */
#include <stdint.h>

#include "io/safetensors.h"

static sana_status count(void *ctx, const char *name, sana_tensor t, sana_error *err) {
  (void)name, (void)err;
  *(size_t *)ctx += sana_nbytes(&t);
  return SANA_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t total = 0;
  sana_error err = {0};
  sana_safetensors_parse(data, size, "fuzz", count, &total, &err);
  return 0;
}
