/* Loading the LTX-2 VAE from the diffusers layout, per-stream state, and the causal encoder
 * (model-spec §3.2, §6.5, §7.1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "io/checkpoint.h"
#include "model/vae_internal.h"

static const char *const CONFIG_FILE = "config.json";
static const char *const WEIGHTS_FILE = "diffusion_pytorch_model.safetensors";
enum { VAE_CONFIG_MAX = 1 << 20 };

/* Fetches `<prefix><sub>.conv.weight` [cout, cin, 3, 3, 3] and `.conv.bias` [cout]. */
static sana_status load_conv(sana_vae *v, sana_ckpt *ck, vae_conv *c, const char *prefix, const char *sub, int cout,
                             int cin, sana_error *err) {
  char name[128];
  const sana_tensor *t;
  sana_status s;
  c->cin = cin, c->cout = cout, c->slot = v->n_conv_slots++;
  snprintf(name, sizeof name, "%s%s.conv.weight", prefix, sub);
  if ((s = SANA_CKPT_GET(ck, name, &t, err, cout, cin, 3, 3, 3)) || (s = sana_backend_weight(v->be, &c->w, t, name, err)))
    return s;
  snprintf(name, sizeof name, "%s%s.conv.bias", prefix, sub);
  if ((s = SANA_CKPT_GET(ck, name, &t, err, cout)) || (s = sana_backend_weight(v->be, &c->b, t, name, err))) return s;
  return SANA_OK;
}

static vae_layer *push(vae_layer *ls, int *n, vae_kind kind, int ch, int out, const char *fmt, int a, int b) {
  vae_layer *L = &ls[(*n)++];
  memset(L, 0, sizeof *L);
  L->kind = kind, L->ch = ch, L->out = out;
  snprintf(L->name, sizeof L->name, fmt, a, b);
  return L;
}

/* `count` resnets at width ch named `<block>.resnets.{r}` (block: a printf format of one int). */
static sana_status add_resnets(sana_vae *v, sana_ckpt *ck, vae_layer *ls, int *n, int count, int ch,
                               const char *block_fmt, int blk, sana_error *err) {
  char fmt[64];
  snprintf(fmt, sizeof fmt, "%s.resnets.%%d", block_fmt);
  sana_status s = SANA_OK;
  for (int r = 0; r < count && !s; r++) {
    vae_layer *L = push(ls, n, VAE_RESNET, ch, ch, fmt, blk, r);
    if (!(s = load_conv(v, ck, &L->c1, L->name, ".conv1", ch, ch, err)))
      s = load_conv(v, ck, &L->c2, L->name, ".conv2", ch, ch, err);
  }
  return s;
}

/* The encoder's layers in execution order (model-spec §7.1), weights fetched by key. */
static sana_status build_encoder(sana_vae *v, sana_ckpt *ck, sana_error *err) {
  const sana_vae_config *c = &v->cfg;
  int n = 2, lat = c->latent_channels, ch = lat;
  for (int i = 0; i <= c->n_down; i++) n += c->layers_per_block[i] + 1;
  if (!(v->enc = calloc((size_t)n, sizeof *v->enc))) return sana_err(err, SANA_ERR_NOMEM, "vae: out of memory");
  vae_layer *L = push(v->enc, &v->n_enc, VAE_CONV_IN, c->in_channels * c->patch_size * c->patch_size, lat,
                      "encoder.conv_in", 0, 0);
  sana_status s = load_conv(v, ck, &L->c1, L->name, "", lat, L->ch, err);
  for (int i = 0; i < c->n_down && !s; i++) {
    s = add_resnets(v, ck, v->enc, &v->n_enc, c->layers_per_block[i], ch, "encoder.down_blocks.%d", i, err);
    int out = c->block_out_channels[i];
    if (c->spatio_temporal_scaling[i] && !s) {
      L = push(v->enc, &v->n_enc, VAE_DOWN, ch, out, "encoder.down_blocks.%d.downsamplers.0", i, 0);
      memcpy(L->st, c->downsample_stride[i], sizeof L->st);
      int prod = L->st[0] * L->st[1] * L->st[2];
      L->group = ch * prod / out, L->slot = v->n_state_slots++;
      s = load_conv(v, ck, &L->c1, L->name, ".conv", out / prod, ch, err);
    }
    ch = out;
  }
  if (!s) s = add_resnets(v, ck, v->enc, &v->n_enc, c->layers_per_block[c->n_down], ch, "encoder.mid_block%.0d", 0, err);
  if (!s) {
    L = push(v->enc, &v->n_enc, VAE_CONV_OUT, ch, lat + 1, "encoder.conv_out", 0, 0);
    s = load_conv(v, ck, &L->c1, L->name, "", lat + 1, ch, err);
  }
  return s;
}

/* The decoder's layers (model-spec §7.2): config lists are stored bottom-up, run reversed. */
static sana_status build_decoder(sana_vae *v, sana_ckpt *ck, sana_error *err) {
  const sana_vae_config *c = &v->cfg;
  int n = 2, nu = c->n_up, ch = c->decoder_block_out_channels[nu - 1];
  for (int i = 0; i <= nu; i++) n += c->decoder_layers_per_block[i] + 1;
  if (!(v->dec = calloc((size_t)n, sizeof *v->dec))) return sana_err(err, SANA_ERR_NOMEM, "vae: out of memory");
  vae_layer *L = push(v->dec, &v->n_dec, VAE_CONV_IN, c->latent_channels, ch, "decoder.conv_in", 0, 0);
  sana_status s = load_conv(v, ck, &L->c1, L->name, "", ch, c->latent_channels, err);
  if (!s) s = add_resnets(v, ck, v->dec, &v->n_dec, c->decoder_layers_per_block[nu], ch, "decoder.mid_block%.0d", 0, err);
  for (int i = 0; i < nu && !s; i++) {
    int uf = c->upsample_factor[nu - 1 - i], out = ch / uf;
    L = push(v->dec, &v->n_dec, VAE_UP, ch, out, "decoder.up_blocks.%d.upsamplers.0", i, 0);
    L->st[0] = L->st[1] = L->st[2] = 2;
    L->uf = uf, L->residual = c->upsample_residual[nu - 1 - i], L->slot = v->n_state_slots++;
    s = load_conv(v, ck, &L->c1, L->name, ".conv", ch * 8 / uf, ch, err);
    ch = out;
    if (!s) s = add_resnets(v, ck, v->dec, &v->n_dec, c->decoder_layers_per_block[nu - 1 - i], ch, "decoder.up_blocks.%d", i, err);
  }
  if (!s) {
    int po = c->out_channels * c->patch_size * c->patch_size;
    L = push(v->dec, &v->n_dec, VAE_CONV_OUT, ch, po, "decoder.conv_out", 0, 0);
    s = load_conv(v, ck, &L->c1, L->name, "", po, ch, err);
  }
  return s;
}

static sana_status load_stats(sana_vae *v, sana_ckpt *ck, const char *name, float **out, sana_error *err) {
  const sana_tensor *t;
  int64_t L = v->cfg.latent_channels;
  sana_status s = SANA_CKPT_GET(ck, name, &t, err, L);
  if (s) return s;
  if (t->dtype != SANA_F32 && t->dtype != SANA_BF16)
    return sana_err(err, SANA_ERR_DTYPE, "%s: tensor '%s' has dtype %s (expected F32 or BF16)", sana_ckpt_label(ck),
                    name, sana_dtype_name(t->dtype));
  if (!(*out = malloc((size_t)L * sizeof(float)))) return sana_err(err, SANA_ERR_NOMEM, "vae: out of memory");
  for (int64_t i = 0; i < L; i++)
    (*out)[i] = t->dtype == SANA_F32 ? ((const float *)t->data)[i] : sana_bf16_to_f32(((const uint16_t *)t->data)[i]);
  return SANA_OK;
}

sana_status sana_vae_load(sana_vae **out, sana_backend *be, const char *dir, sana_error *err) {
  *out = NULL;
  if (!be->vae) return sana_err(err, SANA_ERR_UNSUPPORTED, "backend %s has no vae ops", be->name);
  char path[4096];
  char *json = NULL;
  snprintf(path, sizeof path, "%s/%s", dir, CONFIG_FILE);
  sana_vae *v = calloc(1, sizeof *v);
  if (!v) return sana_err(err, SANA_ERR_NOMEM, "vae: out of memory");
  v->be = be, v->ops = be->vae;
  sana_status s = sana_read_text(path, VAE_CONFIG_MAX, &json, NULL, err);
  if (!s) s = sana_vae_config_parse(&v->cfg, json, path, err);
  free(json);
  sana_ckpt *ck = NULL;
  snprintf(path, sizeof path, "%s/%s", dir, WEIGHTS_FILE);
  if (!s) s = sana_ckpt_open(&ck, path, err);
  if (!s) s = build_encoder(v, ck, err);
  if (!s) s = build_decoder(v, ck, err);
  if (!s) s = load_stats(v, ck, "latents_mean", &v->latents_mean, err);
  if (!s) s = load_stats(v, ck, "latents_std", &v->latents_std, err);
  if (!s) s = be->sync(be, err);
  int unused = s ? 0 : sana_ckpt_unused(ck, err);
  if (unused) s = sana_err_prefix(err, "(%d unexpected tensor%s) ", unused, unused > 1 ? "s" : "");
  if (ck) sana_ckpt_close(ck);
  if (s) {
    sana_vae_free(v);
    return s;
  }
  *out = v;
  return SANA_OK;
}

static void free_layers(sana_vae *v, vae_layer *ls, int n) {
  for (int i = 0; ls && i < n; i++) {
    vae_drop(v, &ls[i].c1.w), vae_drop(v, &ls[i].c1.b);
    vae_drop(v, &ls[i].c2.w), vae_drop(v, &ls[i].c2.b);
  }
  free(ls);
}

void sana_vae_free(sana_vae *v) {
  if (!v) return;
  free_layers(v, v->enc, v->n_enc);
  free_layers(v, v->dec, v->n_dec);
  free(v->latents_mean);
  free(v->latents_std);
  free(v);
}

const sana_vae_config *sana_vae_get_config(const sana_vae *v) { return &v->cfg; }

sana_status sana_vae_stream_new(sana_vae_stream **out, sana_vae *v, sana_error *err) {
  sana_vae_stream *s = calloc(1, sizeof *s);
  *out = NULL;
  if (s) {
    s->v = v;
    s->cache = calloc((size_t)v->n_conv_slots, sizeof *s->cache);
    s->cached = calloc((size_t)v->n_conv_slots, sizeof *s->cached);
    s->pending = calloc((size_t)v->n_state_slots + 1, sizeof *s->pending);
    s->n_pending = calloc((size_t)v->n_state_slots + 1, sizeof *s->n_pending);
    s->flag = calloc((size_t)v->n_state_slots + 1, sizeof *s->flag);
  }
  if (!s || !s->cache || !s->cached || !s->pending || !s->n_pending || !s->flag) {
    sana_vae_stream_free(s);
    return sana_err(err, SANA_ERR_NOMEM, "vae stream: out of memory");
  }
  *out = s;
  return SANA_OK;
}

void sana_vae_stream_free(sana_vae_stream *s) {
  if (!s) return;
  for (int i = 0; s->cache && i < s->v->n_conv_slots; i++) vae_drop(s->v, &s->cache[i]);
  for (int i = 0; s->pending && i < s->v->n_state_slots; i++) vae_drop(s->v, &s->pending[i]);
  vae_drop(s->v, &s->tail);
  free(s->cache), free(s->cached), free(s->pending), free(s->n_pending), free(s->flag);
  free(s);
}

size_t sana_vae_stream_bytes(const sana_vae_stream *s) {
  size_t n = s->tail.data ? sana_nbytes(&s->tail) : 0;
  for (int i = 0; i < s->v->n_conv_slots; i++) n += s->cache[i].data ? sana_nbytes(&s->cache[i]) : 0;
  for (int i = 0; i < s->v->n_state_slots; i++) n += s->pending[i].data ? sana_nbytes(&s->pending[i]) : 0;
  return n;
}

sana_status sana_vae_encode(sana_vae *v, sana_vae_stream *s, const sana_tensor *video, sana_tensor *latents,
                            sana_error *err) {
  const sana_vae_config *c = &v->cfg;
  int64_t sc = c->spatial_compression_ratio, L = c->latent_channels, p = c->patch_size;
  latents->data = NULL;
  if (video->nd != 4 || video->ne[0] != c->in_channels || video->ne[1] < 1 || video->ne[2] % sc || video->ne[3] % sc)
    return sana_err(err, SANA_ERR_SHAPE, "vae encode: video must be [%d, T, H, W] with H, W multiples of %lld",
                    c->in_channels, (long long)sc);
  if (!c->encoder_causal && s) return sana_err(err, SANA_ERR_UNSUPPORTED, "vae encode: streaming needs encoder_causal");
  int64_t T = video->ne[1], H = video->ne[2], W = video->ne[3];
  sana_tensor px, x, z;
  sana_status st = vae_act(v, &px, T, c->in_channels, H, W, err);
  if (st) return st;
  v->ops->transpose01(v->be, &px, video); /* px [T, 3, H, W] */
  if ((st = vae_act(v, &x, T, c->in_channels * p * p, H / p, W / p, err))) {
    vae_drop(v, &px);
    return st;
  }
  v->ops->patchify(v->be, &x, &px, (int)p, 0); /* x [T, 48, H/4, W/4] */
  vae_drop(v, &px);
  st = vae_run_layers(v, s, v->enc, v->n_enc, c->encoder_causal, c->encoder_pad, &x, err); /* x [T', L+1, h, w] */
  int64_t Tl = st ? 0 : x.ne[0], h = H / sc, w = W / sc;
  if (!st && (st = vae_act(v, &z, Tl, L, h, w, err))) goto done;
  if (!st) {
    /* the posterior mode: channels [0, L) of every frame */
    sana_tensor xf = sana_tensor_reshape(&x, 2, (int64_t[]){Tl * (L + 1), h * w});
    sana_tensor zf = sana_tensor_reshape(&z, 2, (int64_t[]){Tl * L, h * w});
    for (int64_t t = 0; t < Tl; t++) {
      sana_tensor a = sana_tensor_rows(&zf, t * L, L), b = sana_tensor_rows(&xf, t * (L + 1), L);
      v->be->copy(v->be, &a, &b);
    }
    float *scale = malloc((size_t)L * 2 * sizeof(float));
    if (!scale) {
      vae_drop(v, &z);
      st = sana_err(err, SANA_ERR_NOMEM, "vae encode: out of memory");
      goto done;
    }
    for (int64_t i = 0; i < L; i++) { /* z_n = (z − mean)·sf / std */
      scale[i] = c->scaling_factor / v->latents_std[i];
      scale[L + i] = -v->latents_mean[i] * scale[i];
    }
    v->ops->channel_affine(v->be, &z, &z, scale, scale + L);
    free(scale);
    if (!(st = sana_backend_tensor(v->be, latents, v->be->act_dtype, 4, (int64_t[]){L, Tl, h, w}, err)))
      v->ops->transpose01(v->be, latents, &z); /* latents [L, T', h, w] */
    vae_drop(v, &z);
    if (!st) st = v->be->sync(v->be, err);
    if (st) vae_drop(v, latents);
  }
done:
  vae_drop(v, &x);
  return st;
}

/* Encodes frame ranges [f0, f0 + sizes[i]) through one stream and concatenates the latents. */
sana_status sana_vae_encode_chunked(sana_vae *v, const sana_tensor *video, const int *sizes, int n, sana_tensor *out,
                                    size_t *cache_bytes, sana_error *err) {
  sana_backend *be = v->be;
  out->data = NULL;
  int64_t T = video->ne[1], H = video->ne[2], W = video->ne[3], total = 0;
  for (int i = 0; i < n; i++) total += sizes[i];
  if (video->nd != 4) return sana_err(err, SANA_ERR_SHAPE, "vae encode: video must be [3, T, H, W]");
  if (total != T)
    return sana_err(err, SANA_ERR_ARG, "vae encode: chunks add up to %lld frames, the video has %lld", (long long)total,
                    (long long)T);
  const sana_vae_config *c = &v->cfg;
  int64_t L = c->latent_channels, sc = c->spatial_compression_ratio, hw = (H / sc) * (W / sc), f0 = 0, l0 = 0;
  int64_t Tl = (T - 1) / c->temporal_compression_ratio + 1;
  sana_vae_stream *s = NULL;
  sana_status st = sana_vae_stream_new(&s, v, err);
  if (!st) st = sana_backend_tensor(be, out, be->act_dtype, 4, (int64_t[]){L, Tl, H / sc, W / sc}, err);
  for (int i = 0; i < n && !st; i++) {
    sana_tensor part, lat;
    if ((st = sana_backend_tensor(be, &part, be->act_dtype, 4, (int64_t[]){video->ne[0], sizes[i], H, W}, err))) break;
    /* video[:, f0:f0+n] and out[:, l0:l0+m] are strided in channel-major order: copy per channel */
    for (int64_t ch = 0; ch < video->ne[0]; ch++) {
      sana_tensor d = sana_tensor_rows(&part, ch, 1), v4 = sana_tensor_reshape(video, 2, (int64_t[]){video->ne[0] * T, H * W});
      sana_tensor sv = sana_tensor_rows(&v4, ch * T + f0, sizes[i]);
      be->copy(be, &d, &sv);
    }
    st = sana_vae_encode(v, s, &part, &lat, err);
    be->free(be, part.data);
    if (st) break;
    if (l0 + lat.ne[1] > Tl) st = sana_err(err, SANA_ERR_STATE, "chunked encode produced too many latents");
    for (int64_t ch = 0; ch < L && !st; ch++) {
      sana_tensor o2 = sana_tensor_reshape(out, 2, (int64_t[]){L * Tl, hw}), l2 = sana_tensor_reshape(&lat, 2, (int64_t[]){L * lat.ne[1], hw});
      sana_tensor d = sana_tensor_rows(&o2, ch * Tl + l0, lat.ne[1]), sv = sana_tensor_rows(&l2, ch * lat.ne[1], lat.ne[1]);
      if (lat.ne[1]) be->copy(be, &d, &sv);
    }
    l0 += lat.ne[1];
    f0 += sizes[i];
    be->free(be, lat.data);
  }
  if (!st && l0 != Tl) st = sana_err(err, SANA_ERR_STATE, "chunked encode gave %lld latents, expected %lld", (long long)l0, (long long)Tl);
  if (st && out->data) be->free(be, out->data), out->data = NULL;
  if (cache_bytes && s) *cache_bytes = sana_vae_stream_bytes(s);
  sana_vae_stream_free(s);
  return st;
}
