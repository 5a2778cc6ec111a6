/* libFuzzer target: arbitrary bytes as a VAE config.json (model/vae_config.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/vae.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  sana_vae_config cfg;
  sana_error err = {0};
  sana_vae_config_parse(&cfg, text, "fuzz", &err);
  free(text);
  return 0;
}
