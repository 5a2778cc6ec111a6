/* Gemma-2 config.json: the fields that shape the encoder, as transformers 4.x (the real
 * gemma-2-2b-it: top-level rope_theta, no layer_types) and 5.x (rope_parameters, layer_types)
 * write them. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "io/checkpoint.h"
#include "model/gemma.h"

static sana_status get_int(const cJSON *root, const char *key, int required, int dflt, int *out,
                           const char *label, sana_error *err) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!j || cJSON_IsNull(j)) {
    if (required) return sana_err(err, SANA_ERR_MISSING, "%s: missing field '%s'", label, key);
    *out = dflt;
    return SANA_OK;
  }
  double v = cJSON_IsNumber(j) ? j->valuedouble : -1;
  if (v < 1 || v > 1e7 || v != floor(v))
    return sana_err(err, SANA_ERR_FORMAT, "%s: field '%s' must be a positive integer", label, key);
  *out = (int)v;
  return SANA_OK;
}

static sana_status get_float(const cJSON *root, const char *key, float dflt, float *out,
                             const char *label, sana_error *err) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!j || cJSON_IsNull(j)) {
    *out = dflt;
    return SANA_OK;
  }
  if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble) || j->valuedouble < 0)
    return sana_err(err, SANA_ERR_FORMAT, "%s: field '%s' must be a non-negative number", label, key);
  *out = (float)j->valuedouble;
  return SANA_OK;
}

/* Layer i slides when layer_types[i] says so; without layer_types transformers' rule applies:
 * the even layers (0, 2, ...) slide, the odd ones attend globally. */
static sana_status get_layer_types(const cJSON *root, sana_gemma_config *c, const char *label,
                                   sana_error *err) {
  const cJSON *lt = cJSON_GetObjectItemCaseSensitive(root, "layer_types");
  if (!lt || cJSON_IsNull(lt)) {
    for (int i = 0; i < c->num_hidden_layers; i++) c->sliding[i] = (i + 1) % 2 == 1;
    return SANA_OK;
  }
  if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != c->num_hidden_layers)
    return sana_err(err, SANA_ERR_FORMAT, "%s: 'layer_types' must list %d layers", label,
                    c->num_hidden_layers);
  for (int i = 0; i < c->num_hidden_layers; i++) {
    const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(lt, i));
    if (s && !strcmp(s, "sliding_attention")) c->sliding[i] = 1;
    else if (s && !strcmp(s, "full_attention")) c->sliding[i] = 0;
    else
      return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: layer_types[%d] is %s (expected "
                      "\"sliding_attention\" or \"full_attention\")", label, i, s ? s : "not a string");
  }
  return SANA_OK;
}

static sana_status check_supported(const cJSON *root, const char *label, sana_error *err) {
  const char *mt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "model_type"));
  if (mt && strcmp(mt, "gemma2"))
    return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: model_type is '%s' (expected gemma2)", label, mt);
  const char *act = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "hidden_activation"));
  if (!act) act = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "hidden_act"));
  if (act && strcmp(act, "gelu_pytorch_tanh") && strcmp(act, "gelu_tanh"))
    return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: hidden_activation '%s' is not supported "
                    "(expected gelu_pytorch_tanh)", label, act);
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "attention_bias")))
    return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: attention_bias = true is not supported", label);
  const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
  if (rs && !cJSON_IsNull(rs))
    return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: rope_scaling is not supported", label);
  const cJSON *rp = cJSON_GetObjectItemCaseSensitive(root, "rope_parameters");
  const char *rt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rp, "rope_type"));
  if (rt && strcmp(rt, "default"))
    return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: rope_parameters.rope_type '%s' is not supported", label, rt);
  return SANA_OK;
}

static sana_status parse_root(const cJSON *root, sana_gemma_config *c, const char *label,
                              sana_error *err) {
  sana_status s;
  memset(c, 0, sizeof *c);
  if ((s = check_supported(root, label, err)) ||
      (s = get_int(root, "vocab_size", 1, 0, &c->vocab_size, label, err)) ||
      (s = get_int(root, "hidden_size", 1, 0, &c->hidden_size, label, err)) ||
      (s = get_int(root, "intermediate_size", 1, 0, &c->intermediate_size, label, err)) ||
      (s = get_int(root, "num_hidden_layers", 1, 0, &c->num_hidden_layers, label, err)) ||
      (s = get_int(root, "num_attention_heads", 1, 0, &c->num_attention_heads, label, err)) ||
      (s = get_int(root, "num_key_value_heads", 0, c->num_attention_heads, &c->num_key_value_heads, label, err)) ||
      (s = get_int(root, "head_dim", 0, c->hidden_size / c->num_attention_heads, &c->head_dim, label, err)) ||
      (s = get_int(root, "sliding_window", 0, 0, &c->sliding_window, label, err)) ||
      (s = get_float(root, "query_pre_attn_scalar", (float)c->head_dim, &c->query_pre_attn_scalar, label, err)) ||
      (s = get_float(root, "rms_norm_eps", 1e-6f, &c->rms_norm_eps, label, err)) ||
      (s = get_float(root, "attn_logit_softcapping", 0.0f, &c->attn_logit_softcapping, label, err)))
    return s;
  const cJSON *rp = cJSON_GetObjectItemCaseSensitive(root, "rope_parameters");
  const cJSON *th = cJSON_GetObjectItemCaseSensitive(root, "rope_theta") ? root : rp;
  if ((s = get_float(th, "rope_theta", 10000.0f, &c->rope_theta, label, err))) return s;
  if (c->num_hidden_layers > SANA_GEMMA_MAX_LAYERS)
    return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: num_hidden_layers %d exceeds %d", label,
                    c->num_hidden_layers, SANA_GEMMA_MAX_LAYERS);
  if (c->num_attention_heads % c->num_key_value_heads)
    return sana_err(err, SANA_ERR_FORMAT, "%s: num_attention_heads (%d) is not a multiple of "
                    "num_key_value_heads (%d)", label, c->num_attention_heads, c->num_key_value_heads);
  if (c->head_dim % 2)
    return sana_err(err, SANA_ERR_FORMAT, "%s: head_dim %d is odd (RoPE rotates pairs)", label, c->head_dim);
  if (c->query_pre_attn_scalar <= 0 || c->rope_theta <= 0)
    return sana_err(err, SANA_ERR_FORMAT, "%s: query_pre_attn_scalar and rope_theta must be positive", label);
  return get_layer_types(root, c, label, err);
}

sana_status sana_gemma_config_parse(sana_gemma_config *cfg, const char *json, size_t len,
                                    const char *label, sana_error *err) {
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return sana_err(err, SANA_ERR_FORMAT, "%s: not a JSON object", label);
  }
  sana_status s = parse_root(root, cfg, label, err);
  cJSON_Delete(root);
  return s;
}

sana_status sana_gemma_config_load(sana_gemma_config *cfg, const char *path, sana_error *err) {
  void *p;
  size_t len;
  sana_status s = sana_map_file(path, &p, &len, err);
  if (s) return s;
  s = sana_gemma_config_parse(cfg, p ? p : "", len, path, err);
  if (p) munmap(p, len);
  return s;
}
