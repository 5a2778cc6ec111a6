/* The decoder and its three schedules (model-spec §3.6, §7.2, §7.5):
 *  - tile: upstream decode_chunk_tile, each 4-latent window decoded alone and non-causally,
 *    blended in place over 16 frames with the previous window (the blend cascades);
 *  - causal: one latent per call through the decoder's per-conv caches;
 *  - prepend: the non-causal decoder with the previous latent prepended as left context
 *    (decode_with_cache), the upsamplers trimming only on the first call. */
#include <stdlib.h>
#include <string.h>

#include "model/vae_internal.h"

/* decode_chunk_tile's settings from get_vae: tile_sample_min_num_frames 24, stride 8 (pixel
 * frames); in latents a window of 24/ratio + 1 and a stride of 1. */
#define TILE_SAMPLE_FRAMES 24
#define TILE_STRIDE_FRAMES 8

int sana_vae_decode_mode_parse(const char *s) {
  if (!strcmp(s, "tile")) return SANA_VAE_DECODE_TILE;
  if (!strcmp(s, "causal")) return SANA_VAE_DECODE_CAUSAL;
  if (!strcmp(s, "prepend")) return SANA_VAE_DECODE_PREPEND;
  return -1;
}

sana_status vae_decoder_run(sana_vae *v, sana_vae_stream *s, int causal, const sana_tensor *z, sana_tensor *out,
                            sana_error *err) {
  const sana_vae_config *c = &v->cfg;
  int p = c->patch_size;
  sana_tensor x;
  sana_status st = vae_act(v, &x, z->ne[0], z->ne[1], z->ne[2], z->ne[3], err);
  if (st) return st;
  v->be->copy(v->be, &x, z);
  st = vae_run_layers(v, s, v->dec, v->n_dec, causal, c->decoder_pad, &x, err); /* x [T', 48, H/4, W/4] */
  if (!st && !(st = vae_act(v, out, x.ne[0], c->out_channels, x.ne[2] * p, x.ne[3] * p, err)))
    v->ops->patchify(v->be, out, &x, p, 1); /* out [T', 3, H, W] */
  vae_drop(v, &x);
  return st;
}

static void frames_copy(sana_vae *v, sana_tensor *dst, int64_t d0, const sana_tensor *src, int64_t s0, int64_t n) {
  if (n <= 0) return;
  sana_tensor d = sana_tensor_rows(dst, d0, n), s = sana_tensor_rows(src, s0, n);
  v->be->copy(v->be, &d, &s);
}

/* z [T, L, h, w] un-normalised -> out [(T−1)·ratio + 1, 3, H, W]. Only the previous window is
 * kept: the blend of window i reads window i−1 as already blended. */
static sana_status decode_tile(sana_vae *v, const sana_tensor *z, sana_tensor *out, sana_error *err) {
  int64_t T = z->ne[0], ratio = v->cfg.temporal_compression_ratio, window = TILE_SAMPLE_FRAMES / ratio + 1;
  int64_t blend = TILE_SAMPLE_FRAMES - TILE_STRIDE_FRAMES, n_out = (T - 1) * ratio + 1, pos = 0;
  sana_tensor prev = {0}, prev_d = {0};
  sana_status st = SANA_OK;
  out->data = NULL;
  for (int64_t i = 0; i < T && !st; i++) {
    sana_tensor d, tile = sana_tensor_rows(z, i, T - i < window ? T - i : window);
    if ((st = vae_decoder_run(v, NULL, 0, &tile, &d, err))) break; /* d [8n−7, 3, H, W] */
    if (!out->data &&
        (st = vae_act(v, out, n_out, d.ne[1], d.ne[2], d.ne[3], err))) {
      vae_drop(v, &d);
      break;
    }
    sana_tensor cur = i > 0 ? sana_tensor_rows(&d, 1, d.ne[0] - 1) : d;
    if (i > 0) {
      int64_t e = prev.ne[0] < cur.ne[0] ? prev.ne[0] : cur.ne[0];
      if (e > blend) e = blend;
      for (int64_t k = 0; k < e; k++) { /* cur[k] = prev[−e+k]·(1 − k/e) + cur[k]·(k/e) */
        sana_tensor a = sana_tensor_rows(&cur, k, 1), b = sana_tensor_rows(&prev, prev.ne[0] - e + k, 1);
        v->ops->axpby(v->be, &a, &b, (float)(1.0 - (double)k / (double)e), (float)((double)k / (double)e));
      }
    }
    int64_t keep = i > 0 ? TILE_STRIDE_FRAMES : TILE_STRIDE_FRAMES + 1;
    if (keep > cur.ne[0]) keep = cur.ne[0];
    if (keep > n_out - pos) keep = n_out - pos;
    frames_copy(v, out, pos, &cur, 0, keep);
    pos += keep;
    vae_drop(v, &prev_d);
    prev_d = d, prev = cur;
    st = v->be->sync(v->be, err);
  }
  vae_drop(v, &prev_d);
  if (!st && pos != n_out) st = sana_err(err, SANA_ERR_STATE, "vae tile decode: assembled %lld of %lld frames",
                                         (long long)pos, (long long)n_out);
  if (st) vae_drop(v, out);
  return st;
}

/* One chunk of a causal or prepend stream: z [n, L, h, w] un-normalised -> out frames. */
static sana_status decode_stream_chunk(sana_vae *v, sana_vae_stream *s, sana_vae_decode_mode mode,
                                       const sana_tensor *z, sana_tensor *out, sana_error *err) {
  int64_t n = z->ne[0], ratio = v->cfg.temporal_compression_ratio;
  sana_status st;
  if (mode == SANA_VAE_DECODE_CAUSAL) {
    st = vae_decoder_run(v, s, 1, z, out, err); /* out [first ? 8n−7 : 8n, 3, H, W] */
    s->chunks++;
    return st;
  }
  sana_tensor zc, d;
  if ((st = vae_act(v, &zc, n + 1, z->ne[1], z->ne[2], z->ne[3], err))) return st;
  frames_copy(v, &zc, 0, s->tail.data ? &s->tail : z, 0, 1); /* the first chunk repeats its own first latent */
  frames_copy(v, &zc, 1, z, 0, n);
  if (!s->tail.data && (st = vae_act(v, &s->tail, 1, z->ne[1], z->ne[2], z->ne[3], err))) {
    vae_drop(v, &zc);
    return st;
  }
  frames_copy(v, &s->tail, 0, z, n - 1, 1);
  st = vae_decoder_run(v, s, 0, &zc, &d, err); /* d [first ? 8n+1 : 8(n+1), 3, H, W] */
  vae_drop(v, &zc);
  if (st) return st;
  int64_t keep = s->chunks ? n * ratio : (n - 1) * ratio + 1;
  s->chunks++;
  if (d.ne[0] < ratio + keep) {
    vae_drop(v, &d);
    return sana_err(err, SANA_ERR_STATE, "vae prepend decode: decoder gave too few frames");
  }
  if (!(st = vae_act(v, out, keep, d.ne[1], d.ne[2], d.ne[3], err))) frames_copy(v, out, 0, &d, ratio, keep);
  vae_drop(v, &d);
  return st;
}

/* latents [L, T, h, w] normalised -> z [T, L, h, w] un-normalised: z = z_n·std/sf + mean. */
static sana_status latents_in(sana_vae *v, const sana_tensor *latents, sana_tensor *z, sana_error *err) {
  const sana_vae_config *c = &v->cfg;
  int64_t L = c->latent_channels;
  if (latents->nd != 4 || latents->ne[0] != L || latents->ne[1] < 1 || latents->ne[2] < 2 || latents->ne[3] < 2)
    return sana_err(err, SANA_ERR_SHAPE, "vae decode: latents must be [%lld, T, h, w] with h, w >= 2", (long long)L);
  sana_status st = vae_act(v, z, latents->ne[1], L, latents->ne[2], latents->ne[3], err);
  if (st) return st;
  float *ab = malloc((size_t)L * 2 * sizeof(float));
  if (!ab) {
    vae_drop(v, z);
    return sana_err(err, SANA_ERR_NOMEM, "vae decode: out of memory");
  }
  for (int64_t i = 0; i < L; i++) ab[i] = v->latents_std[i] / c->scaling_factor, ab[L + i] = v->latents_mean[i];
  v->ops->transpose01(v->be, z, latents);
  v->ops->channel_affine(v->be, z, z, ab, ab + L);
  free(ab);
  return SANA_OK;
}

/* frames [T, 3, H, W] -> video [3, T, H, W] (frames consumed). */
static sana_status video_out(sana_vae *v, sana_tensor *frames, sana_tensor *video, sana_error *err) {
  sana_status st = sana_backend_tensor(v->be, video, v->be->act_dtype, 4,
                                       (int64_t[]){frames->ne[1], frames->ne[0], frames->ne[2], frames->ne[3]}, err);
  if (!st) v->ops->transpose01(v->be, video, frames);
  vae_drop(v, frames);
  if (!st) st = v->be->sync(v->be, err);
  if (st) vae_drop(v, video);
  return st;
}

sana_status sana_vae_decode_chunk(sana_vae *v, sana_vae_stream *s, sana_vae_decode_mode mode,
                                  const sana_tensor *latents, sana_tensor *video, sana_error *err) {
  video->data = NULL;
  if (mode != SANA_VAE_DECODE_CAUSAL && mode != SANA_VAE_DECODE_PREPEND)
    return sana_err(err, SANA_ERR_ARG, "vae decode: only the causal and prepend modes stream chunk by chunk");
  sana_tensor z, frames;
  sana_status st = latents_in(v, latents, &z, err);
  if (st) return st;
  st = decode_stream_chunk(v, s, mode, &z, &frames, err);
  vae_drop(v, &z);
  return st ? st : video_out(v, &frames, video, err);
}

sana_status sana_vae_decode(sana_vae *v, sana_vae_decode_mode mode, const sana_tensor *latents, sana_tensor *video,
                            sana_error *err) {
  video->data = NULL;
  sana_tensor z, frames = {0};
  sana_status st = latents_in(v, latents, &z, err);
  if (st) return st;
  if (mode == SANA_VAE_DECODE_TILE) {
    st = decode_tile(v, &z, &frames, err);
  } else {
    /* one latent at a time through a stream, as live streaming would */
    sana_vae_stream *s = NULL;
    int64_t T = z.ne[0], pos = 0;
    if (!(st = sana_vae_stream_new(&s, v, err))) {
      for (int64_t t = 0; t < T && !st; t++) {
        sana_tensor zt = sana_tensor_rows(&z, t, 1), d;
        if ((st = decode_stream_chunk(v, s, mode, &zt, &d, err))) break;
        if (!frames.data && (st = vae_act(v, &frames, (T - 1) * v->cfg.temporal_compression_ratio + 1, d.ne[1],
                                          d.ne[2], d.ne[3], err))) {
          vae_drop(v, &d);
          break;
        }
        if (pos + d.ne[0] > frames.ne[0]) st = sana_err(err, SANA_ERR_STATE, "vae decode: too many frames");
        else frames_copy(v, &frames, pos, &d, 0, d.ne[0]);
        pos += d.ne[0];
        vae_drop(v, &d);
      }
      sana_vae_stream_free(s);
    }
    if (st) vae_drop(v, &frames);
  }
  vae_drop(v, &z);
  return st ? st : video_out(v, &frames, video, err);
}
