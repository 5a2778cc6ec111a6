/* Gemma-2 weights: found in a Hugging Face directory (sharded or single-file safetensors),
 * checked against the config, uploaded to a backend. Internal to model/gemma.c and its tests. */
#ifndef SANA_MODEL_GEMMA_WEIGHTS_H
#define SANA_MODEL_GEMMA_WEIGHTS_H

#include "io/checkpoint.h"
#include "model/gemma.h"

typedef struct sana_gemma_layer { /* layers.{i}. */
  sana_tensor input_layernorm;           /* [H] */
  sana_tensor q_proj, k_proj, v_proj;    /* self_attn.*: [heads*D, H], [kv*D, H], [kv*D, H] */
  sana_tensor o_proj;                    /* self_attn.o_proj: [H, heads*D] */
  sana_tensor post_attention_layernorm;  /* [H] */
  sana_tensor pre_feedforward_layernorm; /* [H] */
  sana_tensor gate_proj, up_proj;        /* mlp.*: [I, H] */
  sana_tensor down_proj;                 /* mlp.down_proj: [H, I] */
  sana_tensor post_feedforward_layernorm;/* [H] */
} sana_gemma_layer;

typedef struct sana_gemma_weights {
  sana_ckpt *ckpt;            /* kept open: embed points into it */
  const sana_tensor *embed;   /* embed_tokens.weight [vocab, H], host, checkpoint dtype */
  sana_gemma_layer *layers;
  int n_layers;
  sana_tensor norm;           /* norm.weight [H] */
} sana_gemma_weights;

/* Opens dir/model.safetensors.index.json with its shards, or dir/model.safetensors, dropping
 * the "model." prefix. Errors name the index, the missing shard or the key. */
sana_status sana_gemma_ckpt_open(sana_ckpt **out, const char *dir, sana_error *err);

sana_status sana_gemma_weights_load(sana_gemma_weights *w, sana_backend *be,
                                    const sana_gemma_config *cfg, const char *dir, sana_error *err);
void sana_gemma_weights_free(sana_gemma_weights *w, sana_backend *be);

#endif
