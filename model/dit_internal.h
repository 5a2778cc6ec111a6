/* Private to model/dit*.c: the per-stream state behind sana_dit_state. */
#ifndef SANA_MODEL_DIT_INTERNAL_H
#define SANA_MODEL_DIT_INTERNAL_H

#include "backend/arena.h"
#include "backend/ops_dit.h"
#include "model/dit.h"

typedef struct dit_block_cache {
  sana_tensor state_kv, state_z; /* GDN: [H, D, D] value × key, [H, D]; F32 */
  sana_tensor k, v;              /* softmax: post-RoPE window rows [cap, C]: sink, previous, current */
  int64_t n_sink, n_prev;        /* tokens of the sink chunk and of the previous chunk */
  sana_tensor tconv;             /* [S, C]: the FFN's spatial output of the last cached frame */
  int has_tconv;
  sana_tensor cross_k, cross_v;  /* [L, C]: cross-attention keys (normalised) and values */
} dit_block_cache;

struct sana_dit_state {
  sana_dit *d;
  sana_backend *be;
  sana_dit_geometry geo;
  int64_t S, max_T, cap_tokens;
  int64_t f0, T;                /* the current chunk */
  dit_block_cache *bc;
  sana_tensor mask_bias;        /* [L]: (1 − mask)·(−10000) */
  int has_prompt;
  sana_tensor rope_cos, rope_sin; /* [max_T·S, D/2] F32 */
  sana_tensor kappa;            /* [1]: the GDN key scale 1/√(D·S) */
  sana_tensor dt[4];            /* [1] each: the bf16-rounded Euler step sizes */
  sana_tensor vel, tmp;         /* [max_T·S, Cin] */
  sana_arena arena;
  void **allocs;
  int n_allocs;
};

#endif
