/* Gemma-2 decoder stack (Gemma2Model), written against the backend op table. Per layer:
 *   h = x + post_attention_layernorm(self_attn(input_layernorm(x)))
 *   x = h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)))
 * then the final norm. Every RMSNorm scales by (1 + w). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/arena.h"
#include "core/bf16.h"
#include "model/gemma.h"
#include "model/gemma_weights.h"

struct sana_gemma {
  sana_backend *be;
  sana_gemma_config cfg;
  sana_gemma_weights w;
  float normalizer; /* sqrt(hidden_size), rounded to the embedding's dtype */
  int softcap;
};

sana_status sana_gemma_load(sana_gemma **out, sana_backend *be, const char *dir, sana_error *err) {
  *out = NULL;
  sana_gemma *g = calloc(1, sizeof *g);
  if (!g) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", dir);
  g->be = be;
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", dir);
  sana_status s = sana_gemma_config_load(&g->cfg, path, err);
  if (!s) s = sana_gemma_weights_load(&g->w, be, &g->cfg, dir, err);
  if (s) {
    free(g);
    return s;
  }
  /* transformers multiplies by torch.tensor(hidden_size ** 0.5, dtype=hidden dtype): the
   * factor is rounded to the dtype the model runs in, which upstream is the checkpoint's */
  float nf = sqrtf((float)g->cfg.hidden_size);
  if (g->w.embed->dtype == SANA_BF16) nf = sana_round_bf16(nf);
  if (g->w.embed->dtype == SANA_F16) nf = sana_f16_to_f32(sana_f32_to_f16(nf));
  g->normalizer = nf;
  *out = g;
  return SANA_OK;
}

void sana_gemma_free(sana_gemma *g) {
  if (!g) return;
  sana_gemma_weights_free(&g->w, g->be);
  free(g);
}

const sana_gemma_config *sana_gemma_config_of(const sana_gemma *g) { return &g->cfg; }
void sana_gemma_set_softcap(sana_gemma *g, int on) { g->softcap = on != 0; }
int sana_gemma_softcap(const sana_gemma *g) { return g->softcap; }

/* Host-side inputs of one forward: embedded tokens, RoPE tables, key bias. */
typedef struct {
  float *x;        /* [n, H]: embed_tokens[ids] * normalizer */
  float *cos, *sin; /* [n, D/2] */
  float *bias;     /* [n]: 0 for real tokens, -inf for padding */
} host_inputs;

static sana_status prepare_inputs(const sana_gemma *g, const int32_t *ids, const int32_t *mask, int n,
                                  host_inputs *hi, sana_error *err) {
  const sana_gemma_config *c = &g->cfg;
  int64_t H = c->hidden_size, half = c->head_dim / 2;
  hi->x = malloc(sizeof(float) * (size_t)(n * H));
  hi->cos = malloc(sizeof(float) * (size_t)(n * half));
  hi->sin = malloc(sizeof(float) * (size_t)(n * half));
  hi->bias = malloc(sizeof(float) * (size_t)n);
  if (!hi->x || !hi->cos || !hi->sin || !hi->bias)
    return sana_err(err, SANA_ERR_NOMEM, "gemma: out of memory for %d tokens", n);
  const sana_tensor *E = g->w.embed;
  for (int i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= c->vocab_size)
      return sana_err(err, SANA_ERR_ARG, "gemma: token id %d at position %d is outside the "
                      "vocabulary of %d", (int)ids[i], i, c->vocab_size);
    float *row = hi->x + (int64_t)i * H;
    const char *src = (const char *)E->data + (size_t)ids[i] * (size_t)H * sana_dtype_size(E->dtype);
    for (int64_t j = 0; j < H; j++) {
      float v = E->dtype == SANA_F32    ? ((const float *)src)[j]
                : E->dtype == SANA_BF16 ? sana_bf16_to_f32(((const uint16_t *)src)[j])
                                        : sana_f16_to_f32(((const uint16_t *)src)[j]);
      row[j] = v * g->normalizer;
    }
    hi->bias[i] = (!mask || mask[i]) ? 0.0f : -INFINITY;
  }
  /* RoPE angles in float32 as transformers computes them (inv_freq, then one product). */
  for (int64_t k = 0; k < half; k++) {
    float inv = 1.0f / powf(c->rope_theta, (float)(2 * k) / (float)c->head_dim);
    for (int i = 0; i < n; i++) {
      float a = inv * (float)i;
      hi->cos[i * half + k] = cosf(a);
      hi->sin[i * half + k] = sinf(a);
    }
  }
  return SANA_OK;
}

static void free_inputs(host_inputs *hi) {
  free(hi->x);
  free(hi->cos);
  free(hi->sin);
  free(hi->bias);
}

/* Activations of one forward, carved from one arena. */
typedef struct {
  sana_tensor x, h, t, q, k, v, o, gate, up, cos, sin, bias;
} acts;

static size_t arena_bytes(const sana_gemma_config *c, int n, sana_dtype dt) {
  size_t e = sana_dtype_size(dt), sz = 0;
  size_t counts[] = {
      (size_t)n * c->hidden_size * 3,                                  /* x, h, t */
      (size_t)n * c->num_attention_heads * c->head_dim * 2,            /* q, o */
      (size_t)n * c->num_key_value_heads * c->head_dim * 2,            /* k, v */
      (size_t)n * c->intermediate_size * 2,                            /* gate, up */
      (size_t)n,                                                       /* bias */
  };
  for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) sz += counts[i] * e + 3 * 256;
  return sz + (size_t)n * c->head_dim * sizeof(float) + 2 * 256; /* cos, sin (F32) */
}

static void carve(sana_arena *a, acts *t, const sana_gemma_config *c, int n, sana_dtype dt) {
  int64_t H = c->hidden_size, D = c->head_dim;
  t->x = SANA_ARENA_T(a, dt, n, H);
  t->h = SANA_ARENA_T(a, dt, n, H);
  t->t = SANA_ARENA_T(a, dt, n, H);
  t->q = SANA_ARENA_T(a, dt, n, c->num_attention_heads, D);
  t->o = SANA_ARENA_T(a, dt, n, c->num_attention_heads, D);
  t->k = SANA_ARENA_T(a, dt, n, c->num_key_value_heads, D);
  t->v = SANA_ARENA_T(a, dt, n, c->num_key_value_heads, D);
  t->gate = SANA_ARENA_T(a, dt, n, c->intermediate_size);
  t->up = SANA_ARENA_T(a, dt, n, c->intermediate_size);
  t->bias = SANA_ARENA_T(a, dt, n);
  t->cos = SANA_ARENA_T(a, SANA_F32, n, D / 2);
  t->sin = SANA_ARENA_T(a, SANA_F32, n, D / 2);
}

static void layer_forward(sana_gemma *g, int li, acts *t) {
  sana_backend *be = g->be;
  const sana_gemma_config *c = &g->cfg;
  const sana_gemma_layer *L = &g->w.layers[li];
  float eps = c->rms_norm_eps;
  /* self_attn: h [n, H] -> q [n, heads, D], k/v [n, kv_heads, D] */
  be->rmsnorm(be, &t->h, &t->x, &L->input_layernorm, eps, 1.0f);
  be->linear(be, &t->q, &t->h, &L->q_proj, NULL, SANA_ACT_NONE);
  be->linear(be, &t->k, &t->h, &L->k_proj, NULL, SANA_ACT_NONE);
  be->linear(be, &t->v, &t->h, &L->v_proj, NULL, SANA_ACT_NONE);
  be->rope(be, &t->q, &t->cos, &t->sin, 0);
  be->rope(be, &t->k, &t->cos, &t->sin, 0);
  sana_attn_params p = {
      .scale = 1.0f / sqrtf(c->query_pre_attn_scalar),
      .softcap = g->softcap ? c->attn_logit_softcapping : 0.0f,
      .bias = &t->bias,
      .causal = 1,
      .window = c->sliding[li] ? c->sliding_window : 0,
  };
  be->attention(be, &t->o, &t->q, &t->k, &t->v, &p); /* o [n, heads, D] */
  be->linear(be, &t->t, &t->o, &L->o_proj, NULL, SANA_ACT_NONE); /* [n, H] */
  be->rmsnorm(be, &t->t, &t->t, &L->post_attention_layernorm, eps, 1.0f);
  be->gated_add(be, &t->x, NULL, &t->t);
  /* mlp: down(gelu_tanh(gate(h)) * up(h)) */
  be->rmsnorm(be, &t->h, &t->x, &L->pre_feedforward_layernorm, eps, 1.0f);
  be->linear(be, &t->gate, &t->h, &L->gate_proj, NULL, SANA_ACT_GELU_TANH); /* [n, I] */
  be->linear(be, &t->up, &t->h, &L->up_proj, NULL, SANA_ACT_NONE);
  be->binary(be, &t->gate, &t->gate, &t->up, SANA_MUL);
  be->linear(be, &t->t, &t->gate, &L->down_proj, NULL, SANA_ACT_NONE); /* [n, H] */
  be->rmsnorm(be, &t->t, &t->t, &L->post_feedforward_layernorm, eps, 1.0f);
  be->gated_add(be, &t->x, NULL, &t->t);
}

sana_status sana_gemma_forward(sana_gemma *g, const int32_t *ids, const int32_t *mask, int n,
                               sana_tensor *y, sana_error *err) {
  sana_backend *be = g->be;
  const sana_gemma_config *c = &g->cfg;
  if (n <= 0) return sana_err(err, SANA_ERR_ARG, "gemma: empty token sequence");
  if (sana_numel(y) != (int64_t)n * c->hidden_size || y->dtype != be->act_dtype)
    return sana_err(err, SANA_ERR_ARG, "gemma: output must hold %d x %d %s elements", n,
                    c->hidden_size, sana_dtype_name(be->act_dtype));
  host_inputs hi = {0};
  sana_status s = prepare_inputs(g, ids, mask, n, &hi, err);
  sana_arena a = {0};
  if (!s) s = sana_arena_init(&a, be, arena_bytes(c, n, be->act_dtype), err);
  if (s) {
    free_inputs(&hi);
    return s;
  }
  acts t;
  carve(&a, &t, c, n, be->act_dtype);
  if (a.overflow) {
    sana_arena_release(&a);
    free_inputs(&hi);
    return sana_err(err, SANA_ERR_STATE, "gemma: activation arena too small (a bug)");
  }
  int64_t half = c->head_dim / 2;
  sana_tensor hx = SANA_T(SANA_F32, hi.x, n, c->hidden_size), hc = SANA_T(SANA_F32, hi.cos, n, half),
              hs = SANA_T(SANA_F32, hi.sin, n, half), hb = SANA_T(SANA_F32, hi.bias, n);
  be->upload(be, &t.x, &hx); /* x [n, H] = embed_tokens[ids] * sqrt(H) */
  be->upload(be, &t.cos, &hc);
  be->upload(be, &t.sin, &hs);
  be->upload(be, &t.bias, &hb);
  for (int li = 0; li < c->num_hidden_layers; li++) layer_forward(g, li, &t);
  be->rmsnorm(be, y, &t.x, &g->w.norm, c->rms_norm_eps, 1.0f); /* norm: y [n, H] */
  s = be->sync(be, err);
  if (s) sana_err_prefix(err, "gemma forward: ");
  sana_arena_release(&a);
  free_inputs(&hi);
  return s;
}
