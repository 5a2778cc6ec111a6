/* DiT config detection and weight loading by exact key and shape (model-spec §6.4). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "model/dit.h"

static const sana_tensor *find(const sana_ckpt *ck, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const sana_tensor *find(const sana_ckpt *ck, const char *fmt, ...) {
  char name[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  return sana_ckpt_find(ck, name);
}

sana_status sana_dit_detect_config(const sana_ckpt *ck, sana_dit_config *cfg, sana_error *err) {
  const char *file = sana_ckpt_label(ck);
  memset(cfg, 0, sizeof *cfg);
  const sana_tensor *xe = sana_ckpt_find(ck, "x_embedder.proj.weight");
  const sana_tensor *fl = sana_ckpt_find(ck, "final_layer.linear.weight");
  const sana_tensor *fc1 = sana_ckpt_find(ck, "y_embedder.y_proj.fc1.weight");
  const sana_tensor *tm = sana_ckpt_find(ck, "t_embedder.mlp.0.weight");
  const sana_tensor *pc = sana_ckpt_find(ck, "blocks.0.mlp.point_conv.conv.weight");
  if (!xe || !fl || !fc1 || !tm || !pc)
    return sana_err(err, SANA_ERR_MISSING, "%s: not a SANA DiT state_dict (missing '%s')", file,
                    !xe ? "x_embedder.proj.weight" : !fl ? "final_layer.linear.weight" : !fc1 ? "y_embedder.y_proj.fc1.weight"
                    : !tm ? "t_embedder.mlp.0.weight" : "blocks.0.mlp.point_conv.conv.weight");
  if (xe->nd != 5 || xe->ne[1] % 2 || fl->nd != 2 || fc1->nd != 2 || tm->nd != 2 || pc->nd != 4)
    return sana_err(err, SANA_ERR_SHAPE, "%s: unexpected rank of the embedder / final-layer weights", file);
  cfg->hidden = (int)xe->ne[0];
  cfg->in_ch = (int)(xe->ne[1] / 2);
  cfg->out_ch = (int)fl->ne[0];
  cfg->cap_ch = (int)fc1->ne[1];
  cfg->freq_dim = (int)tm->ne[1];
  cfg->ffn = (int)pc->ne[1];
  while (find(ck, "blocks.%d.scale_shift_table", cfg->depth)) {
    if (cfg->depth == SANA_DIT_MAX_DEPTH)
      return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: more than %d blocks", file, SANA_DIT_MAX_DEPTH);
    cfg->depth++;
  }
  if (!cfg->depth) return sana_err(err, SANA_ERR_MISSING, "%s: missing 'blocks.0.scale_shift_table'", file);
  const int64_t C = cfg->hidden;
  for (int i = 0; i < cfg->depth; i++) {
    const sana_tensor *q = find(ck, "blocks.%d.attn.q.weight", i), *beta = find(ck, "blocks.%d.attn.beta_proj.weight", i);
    if (!q) return sana_err(err, SANA_ERR_MISSING, "%s: missing 'blocks.%d.attn.q.weight'", file, i);
    int taps = q->nd == 3 ? (int)q->ne[2] : q->nd == 2 ? 0 : -1;
    if (beta) { /* Gated DeltaNet: q is a kernel-1 Conv1d */
      if (taps != 1 || beta->nd != 2 || beta->ne[0] <= 0 || C % beta->ne[0])
        return sana_err(err, SANA_ERR_SHAPE, "%s: 'blocks.%d.attn.q.weight' / beta_proj do not fit a GDN block", file, i);
      if (!cfg->heads) cfg->heads = (int)beta->ne[0];
      if (cfg->heads != beta->ne[0])
        return sana_err(err, SANA_ERR_SHAPE, "%s: 'blocks.%d.attn.beta_proj.weight' has %lld heads, block 0..%d had %d",
                        file, i, (long long)beta->ne[0], i - 1, cfg->heads);
    } else {
      if (taps != 3 && taps != 0)
        return sana_err(err, SANA_ERR_SHAPE, "%s: 'blocks.%d.attn.q.weight' is neither a kernel-3 Conv1d nor a Linear",
                        file, i);
      if (cfg->softmax_qk_taps && cfg->softmax_qk_taps != (taps ? 3 : 1))
        return sana_err(err, SANA_ERR_SHAPE, "%s: softmax blocks mix streaming and bidirectional q/k ('blocks.%d')", file, i);
      cfg->softmax_qk_taps = taps ? 3 : 1;
      cfg->is_softmax[i] = 1;
    }
  }
  if (!cfg->heads) cfg->heads = (int)(C / 112);
  if (cfg->heads <= 0 || C % cfg->heads || (C / cfg->heads) % 2 || C / cfg->heads < 6)
    return sana_err(err, SANA_ERR_SHAPE, "%s: hidden size %lld does not split into heads of an even dim >= 6", file,
                    (long long)C);
  cfg->head_dim = (int)(C / cfg->heads);
  if (cfg->out_ch != cfg->in_ch)
    return sana_err(err, SANA_ERR_SHAPE, "%s: final_layer has %d channels, the latents %d", file, cfg->out_ch, cfg->in_ch);
  return SANA_OK;
}

/* ---- loading ---- */

typedef struct {
  sana_dit *d;
  sana_ckpt *ck;
  sana_error *err;
} loader;

static sana_status track(sana_dit *d, void *p, sana_error *err) {
  if (d->n_allocs == d->cap_allocs) {
    int cap = d->cap_allocs ? 2 * d->cap_allocs : 256;
    void **a = realloc(d->allocs, sizeof(void *) * (size_t)cap);
    if (!a) {
      d->be->free(d->be, p);
      return sana_err(err, SANA_ERR_NOMEM, "dit: out of memory");
    }
    d->allocs = a;
    d->cap_allocs = cap;
  }
  d->allocs[d->n_allocs++] = p;
  return SANA_OK;
}

/* Uploads a host tensor as a weight, keeping track of the allocation. */
static sana_status upload(loader *L, sana_tensor *dst, const sana_tensor *src, const char *name) {
  sana_status s = sana_backend_weight(L->d->be, dst, src, name, L->err);
  return s ? s : track(L->d, dst->data, L->err);
}

/* Fetches `name` with exactly shape ne and uploads it. */
static sana_status get(loader *L, sana_tensor *dst, const char *name, int nd, const int64_t *ne) {
  const sana_tensor *t;
  sana_status s = sana_ckpt_get(L->ck, name, nd, ne, &t, L->err);
  return s ? s : upload(L, dst, t, name);
}
#define GET(L, dst, name, ...) get((L), (dst), (name), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
                                   (int64_t[]){__VA_ARGS__})

/* Weight + bias of a Linear (or 1×1 conv: extra trailing 1s given in ne). */
static sana_status get_wb(loader *L, sana_tensor *w, sana_tensor *b, const char *prefix, int nd, const int64_t *ne) {
  char name[256];
  snprintf(name, sizeof name, "%s.weight", prefix);
  sana_status s = get(L, w, name, nd, ne);
  if (s || !b) return s;
  snprintf(name, sizeof name, "%s.bias", prefix);
  return get(L, b, name, 1, ne);
}
#define GET_WB(L, w, b, prefix, ...) get_wb((L), (w), (b), (prefix), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
                                            (int64_t[]){__VA_ARGS__})

/* A host tensor's elements as float (F32 / BF16 / F16 checkpoints). */
static float host_f(const sana_tensor *t, int64_t i) {
  switch (t->dtype) {
  case SANA_F32: return ((const float *)t->data)[i];
  case SANA_BF16: return sana_bf16_to_f32(((const uint16_t *)t->data)[i]);
  case SANA_F16: return sana_f16_to_f32(((const uint16_t *)t->data)[i]);
  default: return 0.0f;
  }
}

/* The centre tap [:, :, 1] of a kernel-3 Conv1d weight [C, C, 3] (upstream uses only it). */
static sana_status get_centre_tap(loader *L, sana_tensor *dst, const char *name, int64_t C) {
  const sana_tensor *t;
  sana_status s = SANA_CKPT_GET(L->ck, name, &t, L->err, C, C, 3);
  if (s) return s;
  size_t es = sana_dtype_size(t->dtype);
  char *buf = malloc(es * (size_t)(C * C));
  if (!buf) return sana_err(L->err, SANA_ERR_NOMEM, "dit: out of memory for '%s'", name);
  for (int64_t i = 0; i < C * C; i++) memcpy(buf + es * (size_t)i, (const char *)t->data + es * (size_t)(3 * i + 1), es);
  sana_tensor host = SANA_T(t->dtype, buf, C, C);
  s = upload(L, dst, &host, name);
  free(buf);
  return s;
}

/* −exp(A_log[h]), the decay rate the gate multiplies (computed once in fp32). */
static sana_status get_neg_exp(loader *L, sana_tensor *dst, const char *name, int64_t H) {
  const sana_tensor *t;
  sana_status s = SANA_CKPT_GET(L->ck, name, &t, L->err, H);
  if (s) return s;
  if (t->dtype != SANA_F32 && t->dtype != SANA_BF16 && t->dtype != SANA_F16)
    return sana_err(L->err, SANA_ERR_DTYPE, "%s: '%s' has dtype %s", sana_ckpt_label(L->ck), name, sana_dtype_name(t->dtype));
  float buf[4096];
  if (H > 4096) return sana_err(L->err, SANA_ERR_UNSUPPORTED, "'%s': too many heads", name);
  for (int64_t h = 0; h < H; h++) buf[h] = -expf(host_f(t, h));
  sana_tensor host = SANA_T(SANA_F32, buf, H);
  return upload(L, dst, &host, name);
}

static sana_status load_block(loader *L, int i) {
  const sana_dit_config *cfg = &L->d->cfg;
  sana_dit_block *b = &L->d->blocks[i];
  const int64_t C = cfg->hidden, H = cfg->heads, F = cfg->ffn;
  char p[64], n[128];
  sana_status s;
  b->softmax = cfg->is_softmax[i];
#define NAME(suffix) (snprintf(n, sizeof n, "%s%s", p, suffix), n)
  snprintf(p, sizeof p, "blocks.%d.", i);
  if ((s = GET(L, &b->scale_shift_table, NAME("scale_shift_table"), 6, C))) return s;
  snprintf(p, sizeof p, "blocks.%d.attn.", i);
  if (b->softmax && cfg->softmax_qk_taps == 3) {
    if ((s = get_centre_tap(L, &b->attn.q, NAME("q.weight"), C))) return s;
    if ((s = get_centre_tap(L, &b->attn.k, NAME("k.weight"), C))) return s;
  } else if (b->softmax) {
    if ((s = GET(L, &b->attn.q, NAME("q.weight"), C, C))) return s;
    if ((s = GET(L, &b->attn.k, NAME("k.weight"), C, C))) return s;
  } else {
    if ((s = GET(L, &b->attn.q, NAME("q.weight"), C, C, 1))) return s;
    if ((s = GET(L, &b->attn.k, NAME("k.weight"), C, C, 1))) return s;
  }
  if ((s = GET(L, &b->attn.v, NAME("v.weight"), C, C))) return s;
  if ((s = GET_WB(L, &b->attn.proj_w, &b->attn.proj_b, NAME("proj"), C, C))) return s;
  if ((s = GET_WB(L, &b->attn.output_gate_w, &b->attn.output_gate_b, NAME("output_gate"), C, C))) return s;
  if ((s = GET(L, &b->attn.q_norm, NAME("q_norm.weight"), C))) return s;
  if ((s = GET(L, &b->attn.k_norm, NAME("k_norm.weight"), C))) return s;
  if (!b->softmax) {
    if ((s = GET_WB(L, &b->attn.beta_w, &b->attn.beta_b, NAME("beta_proj"), H, C))) return s;
    if ((s = GET_WB(L, &b->attn.gate_w, &b->attn.gate_b, NAME("gate_proj"), H, C))) return s;
    if ((s = get_neg_exp(L, &b->attn.neg_exp_a_log, NAME("A_log"), H))) return s;
    if ((s = GET(L, &b->attn.dt_bias, NAME("dt_bias"), H))) return s;
  }
  snprintf(p, sizeof p, "blocks.%d.cross_attn.", i);
  if ((s = GET_WB(L, &b->cross_attn.q_w, &b->cross_attn.q_b, NAME("q_linear"), C, C))) return s;
  sana_tensor kv_w, kv_b; /* rows 0..C−1 are K, C..2C−1 are V */
  if ((s = GET_WB(L, &kv_w, &kv_b, NAME("kv_linear"), 2 * C, C))) return s;
  b->cross_attn.k_w = sana_tensor_rows(&kv_w, 0, C);
  b->cross_attn.v_w = sana_tensor_rows(&kv_w, C, C);
  b->cross_attn.k_b = sana_tensor_rows(&kv_b, 0, C);
  b->cross_attn.v_b = sana_tensor_rows(&kv_b, C, C);
  if ((s = GET_WB(L, &b->cross_attn.proj_w, &b->cross_attn.proj_b, NAME("proj"), C, C))) return s;
  if ((s = GET(L, &b->cross_attn.q_norm, NAME("q_norm.weight"), C))) return s;
  if ((s = GET(L, &b->cross_attn.k_norm, NAME("k_norm.weight"), C))) return s;
  snprintf(p, sizeof p, "blocks.%d.mlp.", i);
  if ((s = GET_WB(L, &b->mlp.inverted_w, &b->mlp.inverted_b, NAME("inverted_conv.conv"), 2 * F, C, 1, 1))) return s;
  if ((s = GET_WB(L, &b->mlp.depth_w, &b->mlp.depth_b, NAME("depth_conv.conv"), 2 * F, 1, 3, 3))) return s;
  if ((s = GET(L, &b->mlp.point_w, NAME("point_conv.conv.weight"), C, F, 1, 1))) return s;
  if ((s = GET(L, &b->mlp.t_conv_w, NAME("t_conv.weight"), C, C, 3, 1))) return s;
#undef NAME
  return SANA_OK;
}

sana_status sana_dit_load(sana_dit **out, sana_backend *be, sana_ckpt *ck, sana_error *err) {
  *out = NULL;
  sana_dit *d = calloc(1, sizeof *d);
  if (!d) return sana_err(err, SANA_ERR_NOMEM, "dit: out of memory");
  d->be = be;
  sana_status s = sana_dit_detect_config(ck, &d->cfg, err);
  if (s) { free(d); return s; }
  const sana_dit_config *cfg = &d->cfg;
  const int64_t C = cfg->hidden;
  d->blocks = calloc((size_t)cfg->depth, sizeof *d->blocks);
  if (!d->blocks) { free(d); return sana_err(err, SANA_ERR_NOMEM, "dit: out of memory"); }
  loader L = {d, ck, err};
  if ((s = GET_WB(&L, &d->x_embedder_w, &d->x_embedder_b, "x_embedder.proj", C, 2 * cfg->in_ch, 1, 1, 1)) ||
      (s = GET_WB(&L, &d->t_mlp0_w, &d->t_mlp0_b, "t_embedder.mlp.0", C, cfg->freq_dim)) ||
      (s = GET_WB(&L, &d->t_mlp2_w, &d->t_mlp2_b, "t_embedder.mlp.2", C, C)) ||
      (s = GET_WB(&L, &d->t_block_w, &d->t_block_b, "t_block.1", 6 * C, C)) ||
      (s = GET_WB(&L, &d->y_fc1_w, &d->y_fc1_b, "y_embedder.y_proj.fc1", C, cfg->cap_ch)) ||
      (s = GET_WB(&L, &d->y_fc2_w, &d->y_fc2_b, "y_embedder.y_proj.fc2", C, C)) ||
      (s = GET(&L, &d->y_norm, "attention_y_norm.weight", C)) ||
      (s = GET_WB(&L, &d->final_w, &d->final_b, "final_layer.linear", cfg->out_ch, C)) ||
      (s = GET(&L, &d->final_table, "final_layer.scale_shift_table", 2, C)))
    goto fail;
  for (int i = 0; i < cfg->depth; i++)
    if ((s = load_block(&L, i))) goto fail;
  /* a zero buffer and the CFG null caption: present in the file, unused at inference */
  sana_ckpt_mark_used(ck, "pos_embed");
  sana_ckpt_mark_used(ck, "y_embedder.y_embedding");
  int unused = sana_ckpt_unused(ck, err);
  if (unused) {
    s = sana_err_prefix(err, "dit: %d tensor(s) the model does not use; first: ", unused);
    goto fail;
  }
  *out = d;
  return SANA_OK;
fail:
  sana_dit_free(d);
  return s;
}

void sana_dit_free(sana_dit *d) {
  if (!d) return;
  for (int i = 0; i < d->n_allocs; i++) d->be->free(d->be, d->allocs[i]);
  free(d->allocs);
  free(d->blocks);
  free(d);
}
