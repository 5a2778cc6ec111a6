/* The Gemma-2 decoder stack without its LM head (transformers' Gemma2Model), as SANA uses it for
 * text conditioning: the last hidden state after the final RMSNorm (model-spec §8,
 * docs/text-encoder.md). Loaded from a Hugging Face directory: config.json plus
 * model.safetensors.index.json and its shards, or a single model.safetensors; keys with or
 * without the "model." prefix of Gemma2ForCausalLM. Runs on any backend through the op table. */
#ifndef SANA_MODEL_GEMMA_H
#define SANA_MODEL_GEMMA_H

#include <stdint.h>

#include "backend/backend.h"

#define SANA_GEMMA_MAX_LAYERS 256

typedef struct sana_gemma_config {
  int vocab_size;
  int hidden_size;
  int intermediate_size;
  int num_hidden_layers;
  int num_attention_heads;
  int num_key_value_heads;
  int head_dim;
  float query_pre_attn_scalar; /* attention scale = query_pre_attn_scalar^-1/2 */
  float rms_norm_eps;
  float rope_theta;
  int sliding_window;          /* 0: no window */
  float attn_logit_softcapping; /* 0: none in the config */
  unsigned char sliding[SANA_GEMMA_MAX_LAYERS]; /* layer i uses the sliding window */
} sana_gemma_config;

/* Reads and validates a Gemma-2 config.json. Errors name the file and the field. */
sana_status sana_gemma_config_load(sana_gemma_config *cfg, const char *path, sana_error *err);
/* The same from JSON text already in memory (`label` names it in errors). */
sana_status sana_gemma_config_parse(sana_gemma_config *cfg, const char *json, size_t len,
                                    const char *label, sana_error *err);

typedef struct sana_gemma sana_gemma;

/* Loads config.json and the weights from `dir` and uploads them to `be`. The token embedding
 * table stays in the (mapped) checkpoint on the host: only the rows of a prompt are gathered
 * and uploaded, so the 256000-row table never occupies backend memory. */
sana_status sana_gemma_load(sana_gemma **out, sana_backend *be, const char *dir, sana_error *err);
void sana_gemma_free(sana_gemma *g);

const sana_gemma_config *sana_gemma_config_of(const sana_gemma *g);

/* Attention logit softcap: 1 applies config.attn_logit_softcapping (transformers' eager
 * attention), 0 does not (its sdpa attention). The default is 0, what SANA's pinned
 * transformers 4.57 picks for Gemma2 when no attn_implementation is given (the evidence is in
 * docs/text-encoder.md). */
void sana_gemma_set_softcap(sana_gemma *g, int on);
int sana_gemma_softcap(const sana_gemma *g);

/* Runs one sequence of n tokens. mask[i] = 0 marks token i as padding (no query attends to it;
 * its own row is still computed, as transformers does); mask may be NULL (all ones). Positions
 * are 0..n-1 whatever the mask (right padding). y: a backend tensor of n × hidden_size elements
 * in be->act_dtype, allocated by the caller. The result is complete when the call returns. */
sana_status sana_gemma_forward(sana_gemma *g, const int32_t *ids, const int32_t *mask, int n,
                               sana_tensor *y, sana_error *err);

#endif
