/* Gemma-2 weights from a Hugging Face directory. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model/gemma_weights.h"

/* A shard name from the index must be a plain file name inside the directory. */
static int plain_name(const char *s) {
  return s && *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static sana_status add_shards(sana_ckpt *c, const char *dir, const char *index, const cJSON *wm,
                              sana_error *err) {
  int n = cJSON_GetArraySize(wm);
  const char **seen = calloc((size_t)(n ? n : 1), sizeof *seen);
  if (!seen) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", index);
  int ns = 0;
  sana_status s = SANA_OK;
  for (const cJSON *e = wm->child; e && !s; e = e->next) {
    const char *f = cJSON_GetStringValue(e);
    if (!plain_name(f)) {
      s = sana_err(err, SANA_ERR_FORMAT, "%s: weight_map['%s'] is not a shard file name", index, e->string);
      break;
    }
    int dup = 0;
    for (int i = 0; i < ns && !dup; i++) dup = !strcmp(seen[i], f);
    if (dup) continue;
    seen[ns++] = f;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, f);
    if (access(path, R_OK))
      s = sana_err(err, SANA_ERR_MISSING, "%s names shard '%s', which is missing from %s", index, f, dir);
    else
      s = sana_ckpt_add_safetensors(c, path, err);
  }
  free(seen);
  if (!s && ns == 0) s = sana_err(err, SANA_ERR_FORMAT, "%s: weight_map is empty", index);
  return s;
}

/* Every key the index promises must be in the shard it names. */
static sana_status check_index_keys(const sana_ckpt *c, const char *index, const cJSON *wm,
                                    sana_error *err) {
  for (const cJSON *e = wm->child; e; e = e->next) {
    const char *k = e->string;
    if (!strncmp(k, "model.", 6)) k += 6;
    if (!sana_ckpt_find(c, k))
      return sana_err(err, SANA_ERR_MISSING, "%s lists '%s' in shard '%s', which does not hold it",
                      index, e->string, cJSON_GetStringValue(e));
  }
  return SANA_OK;
}

static sana_status open_sharded(sana_ckpt *c, const char *dir, const char *index, sana_error *err) {
  void *p;
  size_t len;
  sana_status s = sana_map_file(index, &p, &len, err);
  if (s) return s;
  cJSON *root = cJSON_ParseWithLength(p ? p : "", len);
  if (p) munmap(p, len);
  const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
  if (!cJSON_IsObject(wm)) {
    cJSON_Delete(root);
    return sana_err(err, SANA_ERR_FORMAT, "%s: no \"weight_map\" object", index);
  }
  s = add_shards(c, dir, index, wm, err);
  if (!s) {
    sana_ckpt_strip_prefix(c, "model.");
    s = sana_ckpt_finish(c, err);
  }
  if (!s) s = check_index_keys(c, index, wm, err);
  cJSON_Delete(root);
  return s;
}

sana_status sana_gemma_ckpt_open(sana_ckpt **out, const char *dir, sana_error *err) {
  *out = NULL;
  char index[4096], single[4096];
  snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
  snprintf(single, sizeof single, "%s/model.safetensors", dir);
  sana_ckpt *c = sana_ckpt_new(dir);
  if (!c) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", dir);
  sana_status s;
  if (!access(index, F_OK)) {
    s = open_sharded(c, dir, index, err);
  } else if (!access(single, F_OK)) {
    s = sana_ckpt_add_safetensors(c, single, err);
    if (!s) {
      sana_ckpt_strip_prefix(c, "model.");
      s = sana_ckpt_finish(c, err);
    }
  } else {
    s = sana_err(err, SANA_ERR_MISSING, "%s: neither model.safetensors.index.json nor "
                 "model.safetensors is there", dir);
  }
  if (s) {
    sana_ckpt_close(c);
    return s;
  }
  *out = c;
  return SANA_OK;
}

/* Fetches `name` with the shape the config implies and uploads it. */
static sana_status weight(sana_backend *be, sana_ckpt *c, const char *name, int nd, const int64_t *ne,
                          sana_tensor *dst, sana_error *err) {
  const sana_tensor *t;
  sana_status s = sana_ckpt_get(c, name, nd, ne, &t, err);
  if (s == SANA_ERR_SHAPE) return sana_err_prefix(err, "config.json disagrees with the checkpoint: ");
  if (s) return s;
  return sana_backend_weight(be, dst, t, name, err);
}
#define WEIGHT(name, dst, ...)                                                                  \
  weight(be, c, (name), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),            \
         (int64_t[]){__VA_ARGS__}, (dst), err)

static sana_status load_layer(sana_backend *be, sana_ckpt *c, const sana_gemma_config *cfg, int i,
                              sana_gemma_layer *L, sana_error *err) {
  int64_t H = cfg->hidden_size, I = cfg->intermediate_size, D = cfg->head_dim;
  int64_t QD = cfg->num_attention_heads * D, KD = cfg->num_key_value_heads * D;
  char n[11][96];
  const char *suffix[11] = {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj",
                            "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm",
                            "pre_feedforward_layernorm", "mlp.gate_proj", "mlp.up_proj",
                            "mlp.down_proj", "post_feedforward_layernorm"};
  for (int k = 0; k < 11; k++) snprintf(n[k], sizeof n[k], "layers.%d.%s.weight", i, suffix[k]);
  sana_status s;
  if ((s = WEIGHT(n[0], &L->input_layernorm, H)) || (s = WEIGHT(n[1], &L->q_proj, QD, H)) ||
      (s = WEIGHT(n[2], &L->k_proj, KD, H)) || (s = WEIGHT(n[3], &L->v_proj, KD, H)) ||
      (s = WEIGHT(n[4], &L->o_proj, H, QD)) || (s = WEIGHT(n[5], &L->post_attention_layernorm, H)) ||
      (s = WEIGHT(n[6], &L->pre_feedforward_layernorm, H)) || (s = WEIGHT(n[7], &L->gate_proj, I, H)) ||
      (s = WEIGHT(n[8], &L->up_proj, I, H)) || (s = WEIGHT(n[9], &L->down_proj, H, I)) ||
      (s = WEIGHT(n[10], &L->post_feedforward_layernorm, H)))
    return s;
  return SANA_OK;
}

sana_status sana_gemma_weights_load(sana_gemma_weights *w, sana_backend *be,
                                    const sana_gemma_config *cfg, const char *dir, sana_error *err) {
  memset(w, 0, sizeof *w);
  sana_ckpt *c;
  sana_status s = sana_gemma_ckpt_open(&c, dir, err);
  if (s) return s;
  w->ckpt = c;
  w->layers = calloc((size_t)cfg->num_hidden_layers, sizeof *w->layers);
  if (!w->layers) s = sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", dir);
  else w->n_layers = cfg->num_hidden_layers;
  int64_t H = cfg->hidden_size;
  if (!s) s = SANA_CKPT_GET(c, "embed_tokens.weight", &w->embed, err, cfg->vocab_size, H);
  if (s == SANA_ERR_SHAPE) sana_err_prefix(err, "config.json disagrees with the checkpoint: ");
  if (!s && w->embed->dtype != SANA_F32 && w->embed->dtype != SANA_BF16 && w->embed->dtype != SANA_F16)
    s = sana_err(err, SANA_ERR_DTYPE, "%s: embed_tokens.weight has dtype %s", dir,
                 sana_dtype_name(w->embed->dtype));
  for (int i = 0; !s && i < cfg->num_hidden_layers; i++) s = load_layer(be, c, cfg, i, &w->layers[i], err);
  if (!s) s = WEIGHT("norm.weight", &w->norm, H);
  sana_ckpt_mark_used(c, "lm_head.weight"); /* tied to the embedding; unused by the encoder */
  if (!s && sana_ckpt_unused(c, err))
    s = sana_err_prefix(err, "config.json (num_hidden_layers %d) does not account for every "
                        "tensor: ", cfg->num_hidden_layers);
  if (s) sana_gemma_weights_free(w, be);
  return s;
}

static void free_t(sana_backend *be, sana_tensor *t) {
  if (t->data) be->free(be, t->data);
  t->data = NULL;
}

void sana_gemma_weights_free(sana_gemma_weights *w, sana_backend *be) {
  for (int i = 0; w->layers && i < w->n_layers; i++) {
    sana_gemma_layer *L = &w->layers[i];
    sana_tensor *ts[] = {&L->input_layernorm, &L->q_proj, &L->k_proj, &L->v_proj, &L->o_proj,
                         &L->post_attention_layernorm, &L->pre_feedforward_layernorm, &L->gate_proj,
                         &L->up_proj, &L->down_proj, &L->post_feedforward_layernorm};
    for (size_t k = 0; k < sizeof ts / sizeof *ts; k++) free_t(be, ts[k]);
  }
  free_t(be, &w->norm);
  free(w->layers);
  sana_ckpt_close(w->ckpt);
  memset(w, 0, sizeof *w);
}
