/* config.json of the LTX-2 VAE (diffusers AutoencoderKLLTX2Video field names). Features the
 * LTX-2 release does not use (timestep conditioning, noise injection, temporal patches, other
 * up/down block types) are refused by name rather than silently ignored. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "model/vae.h"

typedef struct parser {
  const cJSON *root;
  const char *label;
  sana_error *err;
} parser;

static sana_status bad(parser *p, const char *field, const char *what) {
  return sana_err(p->err, SANA_ERR_FORMAT, "%s: field '%s' %s", p->label, field, what);
}

static sana_status get_int(parser *p, const char *field, int def, int required, int *out) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(p->root, field);
  if (!j || cJSON_IsNull(j)) {
    if (required) return sana_err(p->err, SANA_ERR_MISSING, "%s: missing field '%s'", p->label, field);
    *out = def;
    return SANA_OK;
  }
  if (!cJSON_IsNumber(j) || j->valuedouble != (double)(int)j->valuedouble || j->valuedouble < 0)
    return bad(p, field, "must be a non-negative integer");
  *out = (int)j->valuedouble;
  return SANA_OK;
}

static sana_status get_bool(parser *p, const char *field, int def, int *out) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(p->root, field);
  if (!j || cJSON_IsNull(j)) {
    *out = def;
    return SANA_OK;
  }
  if (!cJSON_IsBool(j)) return bad(p, field, "must be true or false");
  *out = cJSON_IsTrue(j);
  return SANA_OK;
}

/* An array of n ints (or bools with as_bool); a scalar stands for n copies (diffusers allows
 * it for several fields). n < 0: any length up to max, written to *n_out. Absent: def_all
 * fills (or an error when def_all < 0). */
static sana_status get_ints(parser *p, const char *field, int *out, int n, int max, int *n_out, int as_bool,
                            int def_all) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(p->root, field);
  if (!j || cJSON_IsNull(j)) {
    if (def_all < 0 || n < 0) return sana_err(p->err, SANA_ERR_MISSING, "%s: missing field '%s'", p->label, field);
    for (int i = 0; i < n; i++) out[i] = def_all;
    return SANA_OK;
  }
  if (!cJSON_IsArray(j)) {
    if (n < 0) return bad(p, field, "must be an array");
    int v = 0;
    if (as_bool ? !cJSON_IsBool(j) : !cJSON_IsNumber(j)) return bad(p, field, "has the wrong type");
    v = as_bool ? cJSON_IsTrue(j) : (int)j->valuedouble;
    for (int i = 0; i < n; i++) out[i] = v;
    return SANA_OK;
  }
  int len = cJSON_GetArraySize(j);
  if (n >= 0 && len != n) {
    char what[96];
    snprintf(what, sizeof what, "must have %d entries (has %d)", n, len);
    return bad(p, field, what);
  }
  if (len < 1 || len > max) return bad(p, field, "has an unsupported number of entries");
  int i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, j) {
    if (as_bool ? !cJSON_IsBool(e) : (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > 65536 ||
                                      e->valuedouble != (double)(int)e->valuedouble))
      return bad(p, field, as_bool ? "must hold booleans" : "must hold positive integers");
    out[i++] = as_bool ? cJSON_IsTrue(e) : (int)e->valuedouble;
  }
  if (n_out) *n_out = len;
  return SANA_OK;
}

/* Checks that every entry of an optional string array (or a single string) equals `want`. */
static sana_status only_strings(parser *p, const char *field, const char *want) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(p->root, field), *e;
  if (!j || cJSON_IsNull(j)) return SANA_OK;
  if (cJSON_IsString(j)) return strcmp(j->valuestring, want) ? bad(p, field, "names an unsupported type") : SANA_OK;
  if (!cJSON_IsArray(j)) return bad(p, field, "must be an array of strings");
  cJSON_ArrayForEach(e, j) {
    if (!cJSON_IsString(e) || strcmp(e->valuestring, want)) {
      char what[128];
      snprintf(what, sizeof what, "supports only \"%s\" entries", want);
      return bad(p, field, what);
    }
  }
  return SANA_OK;
}

static sana_status get_pad(parser *p, const char *field, sana_pad_mode def, sana_pad_mode *out) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(p->root, field);
  if (!j || cJSON_IsNull(j)) {
    *out = def;
    return SANA_OK;
  }
  if (cJSON_IsString(j) && !strcmp(j->valuestring, "zeros")) *out = SANA_PAD_ZEROS;
  else if (cJSON_IsString(j) && !strcmp(j->valuestring, "reflect")) *out = SANA_PAD_REFLECT;
  else return bad(p, field, "must be \"zeros\" or \"reflect\"");
  return SANA_OK;
}

static sana_status parse_fields(parser *p, sana_vae_config *c) {
  sana_status s;
#define TRY(x)        \
  if ((s = (x))) return s
  TRY(get_int(p, "in_channels", 3, 0, &c->in_channels));
  TRY(get_int(p, "out_channels", 3, 0, &c->out_channels));
  TRY(get_int(p, "latent_channels", 0, 1, &c->latent_channels));
  TRY(get_int(p, "patch_size", 4, 0, &c->patch_size));
  TRY(get_int(p, "patch_size_t", 1, 0, &c->patch_size_t));
  TRY(get_ints(p, "block_out_channels", c->block_out_channels, -1, SANA_VAE_MAX_BLOCKS, &c->n_down, 0, -1));
  TRY(get_ints(p, "layers_per_block", c->layers_per_block, c->n_down + 1, SANA_VAE_MAX_BLOCKS + 1, NULL, 0, -1));
  TRY(get_ints(p, "spatio_temporal_scaling", c->spatio_temporal_scaling, c->n_down, SANA_VAE_MAX_BLOCKS, NULL, 1, 1));
  TRY(get_ints(p, "decoder_block_out_channels", c->decoder_block_out_channels, -1, SANA_VAE_MAX_BLOCKS, &c->n_up, 0,
               -1));
  TRY(get_ints(p, "decoder_layers_per_block", c->decoder_layers_per_block, c->n_up + 1, SANA_VAE_MAX_BLOCKS + 1, NULL,
               0, -1));
  TRY(get_ints(p, "upsample_residual", c->upsample_residual, c->n_up, SANA_VAE_MAX_BLOCKS, NULL, 1, 0));
  TRY(get_ints(p, "upsample_factor", c->upsample_factor, c->n_up, SANA_VAE_MAX_BLOCKS, NULL, 0, 1));
  int scaling[SANA_VAE_MAX_BLOCKS], noise[SANA_VAE_MAX_BLOCKS + 1], tc;
  TRY(get_ints(p, "decoder_spatio_temporal_scaling", scaling, c->n_up, SANA_VAE_MAX_BLOCKS, NULL, 1, 1));
  for (int i = 0; i < c->n_up; i++)
    if (!scaling[i]) return bad(p, "decoder_spatio_temporal_scaling", "false is not supported");
  TRY(get_ints(p, "decoder_inject_noise", noise, c->n_up + 1, SANA_VAE_MAX_BLOCKS + 1, NULL, 1, 0));
  for (int i = 0; i <= c->n_up; i++)
    if (noise[i]) return bad(p, "decoder_inject_noise", "true is not supported (LTX-2 injects no noise)");
  TRY(get_bool(p, "timestep_conditioning", 0, &tc));
  if (tc) return bad(p, "timestep_conditioning", "true is not supported (LTX-2 has none)");
  TRY(get_bool(p, "encoder_causal", 1, &c->encoder_causal));
  TRY(get_bool(p, "decoder_causal", 1, &c->decoder_causal));
  TRY(get_pad(p, "encoder_spatial_padding_mode", SANA_PAD_ZEROS, &c->encoder_pad));
  TRY(get_pad(p, "decoder_spatial_padding_mode", SANA_PAD_REFLECT, &c->decoder_pad));
  TRY(only_strings(p, "down_block_types", "LTX2VideoDownBlock3D"));
  TRY(only_strings(p, "upsample_type", "spatiotemporal"));
  TRY(only_strings(p, "decoder_upsample_type", "spatiotemporal"));

  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(p->root, "downsample_type"), *e;
  if (!cJSON_IsArray(dt) || cJSON_GetArraySize(dt) != c->n_down)
    return bad(p, "downsample_type", "must be an array with one entry per block_out_channels");
  int i = 0;
  cJSON_ArrayForEach(e, dt) {
    int *st = c->downsample_stride[i++];
    const char *v = cJSON_IsString(e) ? e->valuestring : "";
    if (!strcmp(v, "spatial")) st[0] = 1, st[1] = 2, st[2] = 2;
    else if (!strcmp(v, "temporal")) st[0] = 2, st[1] = 1, st[2] = 1;
    else if (!strcmp(v, "spatiotemporal")) st[0] = 2, st[1] = 2, st[2] = 2;
    else return bad(p, "downsample_type", "entries must be spatial, temporal or spatiotemporal");
  }

  const cJSON *sf = cJSON_GetObjectItemCaseSensitive(p->root, "scaling_factor");
  c->scaling_factor = 1.0f;
  if (sf && !cJSON_IsNull(sf)) {
    if (!cJSON_IsNumber(sf) || sf->valuedouble == 0) return bad(p, "scaling_factor", "must be a non-zero number");
    c->scaling_factor = (float)sf->valuedouble;
  }
  /* Absent ratios fall back to diffusers' formula, as from_pretrained would. */
  int n_scaled = 0;
  for (i = 0; i < c->n_down; i++) n_scaled += c->spatio_temporal_scaling[i];
  TRY(get_int(p, "spatial_compression_ratio", c->patch_size << n_scaled, 0, &c->spatial_compression_ratio));
  TRY(get_int(p, "temporal_compression_ratio", c->patch_size_t << n_scaled, 0, &c->temporal_compression_ratio));
#undef TRY
  return SANA_OK;
}

/* The network's own constraints: channel counts that divide, ratios that match the blocks. */
static sana_status check_shapes(parser *p, const sana_vae_config *c) {
  if (c->patch_size_t != 1) return bad(p, "patch_size_t", "must be 1");
  if (c->patch_size < 1 || c->latent_channels < 1 || c->in_channels < 1 || c->out_channels < 1)
    return bad(p, "patch_size", "and the channel counts must be positive");
  int ch = c->latent_channels, sp = c->patch_size, tm = 1;
  for (int i = 0; i < c->n_down; i++) {
    int out = c->block_out_channels[i], *st = (int *)c->downsample_stride[i], prod = st[0] * st[1] * st[2];
    if (c->spatio_temporal_scaling[i]) {
      if (out % prod || (ch * prod) % out) return bad(p, "block_out_channels", "do not divide into downsampler groups");
      sp *= st[1], tm *= st[0];
    } else if (out != ch) {
      return bad(p, "block_out_channels", "change width in a block without a downsampler (unsupported)");
    }
    ch = out;
  }
  if (sp != c->spatial_compression_ratio || tm != c->temporal_compression_ratio)
    return bad(p, "spatial_compression_ratio", "or temporal_compression_ratio does not match the downsamplers");
  ch = c->decoder_block_out_channels[c->n_up - 1];
  for (int i = 0; i < c->n_up; i++) {
    int b = c->decoder_block_out_channels[c->n_up - 1 - i], uf = c->upsample_factor[c->n_up - 1 - i];
    if (uf < 1 || 8 % uf || b != ch || ch % 8)
      return bad(p, "decoder_block_out_channels", "do not chain through the upsamplers without conv_in resnets");
    ch = b / uf;
  }
  if ((1 << c->n_up) != c->temporal_compression_ratio ||
      (c->patch_size << c->n_up) != c->spatial_compression_ratio)
    return bad(p, "decoder_block_out_channels", "give a decoder whose upsampling differs from the encoder's");
  return SANA_OK;
}

sana_status sana_vae_config_parse(sana_vae_config *cfg, const char *json, const char *label, sana_error *err) {
  memset(cfg, 0, sizeof *cfg);
  cJSON *root = cJSON_Parse(json);
  if (!root) return sana_err(err, SANA_ERR_FORMAT, "%s: not valid JSON", label);
  parser p = {root, label, err};
  sana_status s = cJSON_IsObject(root) ? parse_fields(&p, cfg) : bad(&p, "(top level)", "must be an object");
  if (!s) s = check_shapes(&p, cfg);
  cJSON_Delete(root);
  return s;
}
