/* Where the components of a model live inside a weights directory (docs/weights.md):
 *   DIR/dit/sana_streaming_ar.pth                      Efficient-Large-Model/SANA-Streaming
 *   DIR/vae/{config.json, diffusion_pytorch_model.safetensors}          Lightricks/LTX-2 vae/
 *   DIR/text_encoder/{config.json, model*.safetensors, tokenizer.json}
 *                                                       Efficient-Large-Model/gemma-2-2b-it
 * The default DIR follows the XDG cache convention: $SANA_WEIGHTS, else
 * $XDG_CACHE_HOME/sana, else ~/.cache/sana. */
#ifndef SANA_MODEL_WEIGHTS_H
#define SANA_MODEL_WEIGHTS_H

#include <stddef.h>

#include "core/error.h"

#define SANA_PATH_MAX 4096

typedef struct sana_weight_paths {
  char dir[SANA_PATH_MAX];
  char dit[SANA_PATH_MAX];       /* the DiT checkpoint file */
  char vae_dir[SANA_PATH_MAX];   /* holds config.json + diffusion_pytorch_model.safetensors */
  char text_dir[SANA_PATH_MAX];  /* holds config.json + the Gemma safetensors */
  char tokenizer[SANA_PATH_MAX]; /* tokenizer.json */
  int have_dit, have_vae, have_text, have_tokenizer;
} sana_weight_paths;

/* Fills the paths of the components found under dir. Returns SANA_ERR_MISSING naming every
 * missing component (the paths of those found are still filled). */
sana_status sana_weights_locate(const char *dir, sana_weight_paths *p, sana_error *err);

/* The default weights directory into buf; returns buf. */
const char *sana_weights_default_dir(char *buf, size_t n);

#endif
