/* The streaming loop (model-spec §3, §5): frames in, chunks of 33 then 24 frames, causal VAE
 * encode with its cache, fresh noise, 4 Euler steps and the t = 0 cache pass of the DiT, a
 * streaming VAE decode, frames out. Nothing held grows with the video's length: the caches are
 * fixed-size and the RoPE angles are computed for any absolute frame index (docs/stream.md). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rng.h"
#include "io/video_prep.h"
#include "model/weights.h"
#include "stream/stream_internal.h"

/* ---- frames and queues ---- */

sana_frame *sana_frame_alloc(int width, int height) {
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) return NULL;
  sana_frame *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->width = width;
  f->height = height;
  f->stride = 3 * width;
  f->rgb = malloc((size_t)f->stride * (size_t)height);
  if (!f->rgb) { free(f); return NULL; }
  return f;
}

void sana_frame_free(sana_frame *f) {
  if (!f) return;
  free(f->rgb);
  free(f);
}

static sana_frame *frame_copy(const sana_frame *src) {
  sana_frame *f = sana_frame_alloc(src->width, src->height);
  if (!f) return NULL;
  for (int y = 0; y < src->height; y++)
    memcpy(f->rgb + (size_t)y * f->stride, src->rgb + (size_t)y * src->stride, (size_t)f->stride);
  f->pts_us = src->pts_us;
  return f;
}

static int queue_push(frame_queue *q, sana_frame *f) {
  if (q->n == q->cap) {
    int cap = q->cap ? 2 * q->cap : 64;
    sana_frame **nf = malloc(sizeof *nf * (size_t)cap);
    if (!nf) return 0;
    for (int i = 0; i < q->n; i++) nf[i] = q->f[(q->head + i) % q->cap];
    free(q->f);
    q->f = nf;
    q->cap = cap;
    q->head = 0;
  }
  q->f[(q->head + q->n++) % q->cap] = f;
  return 1;
}

static sana_frame *queue_at(const frame_queue *q, int i) { return q->f[(q->head + i) % q->cap]; }

static sana_frame *queue_pop(frame_queue *q) {
  if (!q->n) return NULL;
  sana_frame *f = q->f[q->head];
  q->head = (q->head + 1) % q->cap;
  q->n--;
  return f;
}

static void queue_clear(frame_queue *q) {
  sana_frame *f;
  while ((f = queue_pop(q))) sana_frame_free(f);
}

/* ---- model ---- */

void sana_model_free(sana_model *m) {
  if (!m) return;
  sana_text_encoder_close(m->text);
  sana_vae_free(m->vae);
  sana_dit_free(m->dit);
  sana_ckpt_close(m->dit_ckpt);
  sana_backend_destroy(m->be);
  free(m);
}

sana_model *sana_model_load(const char *weights_dir, const sana_model_options *opt, sana_error *err) {
  sana_weight_paths wp;
  if (sana_weights_locate(weights_dir, &wp, err)) return NULL;
  int W = opt && opt->width ? opt->width : 1280, H = opt && opt->height ? opt->height : 704;
  sana_model *m = calloc(1, sizeof *m);
  if (!m) { sana_err(err, SANA_ERR_NOMEM, "out of memory"); return NULL; }
  m->width = W;
  m->height = H;
  const char *bk = opt && opt->backend ? opt->backend : "cpu";
  if (!(m->be = sana_backend_create(bk, err))) goto fail;
  if (sana_ckpt_open(&m->dit_ckpt, wp.dit, err) || sana_dit_load(&m->dit, m->be, m->dit_ckpt, err)) goto fail;
  if (sana_vae_load(&m->vae, m->be, wp.vae_dir, err)) goto fail;
  if (sana_text_encoder_open(&m->text, m->be, wp.text_dir, wp.tokenizer, 16, err)) goto fail;

  const sana_vae_config *vc = sana_vae_get_config(m->vae);
  const sana_dit_config *dc = &m->dit->cfg;
  int s = vc->spatial_compression_ratio;
  m->t_stride = vc->temporal_compression_ratio;
  if (W <= 0 || H <= 0 || W % s || H % s) {
    sana_err(err, SANA_ERR_ARG, "model size %dx%d: both sides must be positive multiples of %d", W, H, s);
    goto fail;
  }
  m->cin = vc->latent_channels;
  m->hl = H / s;
  m->wl = W / s;
  if (dc->in_ch != m->cin || dc->out_ch != m->cin) {
    sana_err(err, SANA_ERR_SHAPE, "the DiT takes %d latent channels but the VAE makes %d", dc->in_ch, m->cin);
    goto fail;
  }
  int text_hidden = sana_gemma_config_of(sana_text_encoder_gemma(m->text))->hidden_size;
  if (dc->cap_ch != text_hidden) {
    sana_err(err, SANA_ERR_SHAPE, "the DiT takes %d caption channels but the text encoder makes %d", dc->cap_ch,
             text_hidden);
    goto fail;
  }
  m->decode = vc->decoder_causal ? SANA_VAE_DECODE_CAUSAL : SANA_VAE_DECODE_PREPEND;
  return m;
fail:
  sana_model_free(m);
  return NULL;
}

void sana_model_size(const sana_model *m, int *width, int *height) {
  *width = m->width;
  *height = m->height;
}

/* ---- stream ---- */

static int chunk_latents(int chunk) { return chunk == 0 ? SANA_FIRST_LATENTS : SANA_CHUNK_LATENTS; }
static int latents_to_frames(const sana_model *m, int chunk, int T) {
  return chunk == 0 ? (T - 1) * m->t_stride + 1 : T * m->t_stride;
}

void sana_stream_free(sana_stream *s) {
  if (!s) return;
  queue_clear(&s->in);
  queue_clear(&s->out);
  free(s->in.f);
  free(s->out.f);
  sana_vae_stream_free(s->enc);
  sana_vae_stream_free(s->dec);
  sana_dit_state_free(s->dit);
  free(s->prompt_pending);
  free(s->prompt_active);
  free(s->video);
  free(s->lat);
  free(s->tok);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

sana_stream *sana_stream_new(sana_model *m, const sana_stream_options *opt, sana_error *err) {
  sana_stream *s = calloc(1, sizeof *s);
  if (!s) { sana_err(err, SANA_ERR_NOMEM, "out of memory"); return NULL; }
  pthread_mutex_init(&s->mu, NULL);
  s->m = m;
  s->seed = opt ? opt->seed : 0;
  s->noise = opt ? opt->noise : NULL;
  s->prompt_pending = strdup(opt && opt->prompt ? opt->prompt : "");
  int64_t S = (int64_t)m->hl * m->wl, Tmax = SANA_FIRST_LATENTS, F = latents_to_frames(m, 0, SANA_FIRST_LATENTS);
  s->video = malloc(sizeof(float) * 3 * (size_t)F * (size_t)m->width * (size_t)m->height);
  s->lat = malloc(sizeof(float) * (size_t)(m->cin * Tmax * S));
  s->tok = malloc(sizeof(float) * (size_t)(m->cin * Tmax * S));
  sana_dit_geometry geo = {.hl = m->hl, .wl = m->wl, .text_len = 300, .first_frames = SANA_FIRST_LATENTS,
                           .max_frames = SANA_CHUNK_LATENTS};
  if (!s->prompt_pending || !s->video || !s->lat || !s->tok) {
    sana_err(err, SANA_ERR_NOMEM, "stream: out of memory");
    goto fail;
  }
  if (s->noise && (s->noise->dtype != SANA_F32 || s->noise->nd != 4 || s->noise->ne[0] != m->cin ||
                   s->noise->ne[2] != m->hl || s->noise->ne[3] != m->wl)) {
    sana_err(err, SANA_ERR_SHAPE, "noise must be F32 [%d, T, %d, %d]", m->cin, m->hl, m->wl);
    goto fail;
  }
  if (sana_vae_stream_new(&s->enc, m->vae, err) || sana_vae_stream_new(&s->dec, m->vae, err) ||
      sana_dit_state_new(&s->dit, m->dit, &geo, err))
    goto fail;
  return s;
fail:
  sana_stream_free(s);
  return NULL;
}

sana_status sana_stream_set_prompt(sana_stream *s, const char *text, sana_error *err) {
  if (!text) return sana_err(err, SANA_ERR_ARG, "set_prompt: no text");
  char *t = strdup(text);
  if (!t) return sana_err(err, SANA_ERR_NOMEM, "set_prompt: out of memory");
  pthread_mutex_lock(&s->mu);
  free(s->prompt_pending);
  s->prompt_pending = t;
  pthread_mutex_unlock(&s->mu);
  return SANA_OK;
}

sana_status sana_stream_push_frame(sana_stream *s, const sana_frame *f, sana_error *err) {
  if (!f || !f->rgb || f->width <= 0 || f->height <= 0 || f->stride < 3 * f->width)
    return sana_err(err, SANA_ERR_ARG, "push_frame: invalid frame");
  sana_frame *c = frame_copy(f);
  if (!c) return sana_err(err, SANA_ERR_NOMEM, "push_frame: out of memory");
  pthread_mutex_lock(&s->mu);
  int ok = queue_push(&s->in, c);
  pthread_mutex_unlock(&s->mu);
  if (!ok) { sana_frame_free(c); return sana_err(err, SANA_ERR_NOMEM, "push_frame: out of memory"); }
  return SANA_OK;
}

int sana_stream_frames_needed(const sana_stream *s) {
  sana_stream *ms = (sana_stream *)s;
  pthread_mutex_lock(&ms->mu);
  int need = latents_to_frames(s->m, s->chunk, chunk_latents(s->chunk)) - s->in.n;
  pthread_mutex_unlock(&ms->mu);
  return need > 0 ? need : 0;
}

int sana_stream_pop_frame(sana_stream *s, sana_frame **out) {
  pthread_mutex_lock(&s->mu);
  *out = queue_pop(&s->out);
  pthread_mutex_unlock(&s->mu);
  return *out != NULL;
}

void sana_stream_last_chunk(const sana_stream *s, sana_chunk_info *info) {
  info->chunk_index = s->chunk - 1;
  info->frames_emitted = s->frames_emitted;
  info->active_prompt = s->prompt_active ? s->prompt_active : "";
  info->seconds = s->last_seconds;
  info->t_prompt = s->t_stage[0];
  info->t_encode = s->t_stage[1];
  info->t_dit = s->t_stage[2];
  info->t_decode = s->t_stage[3];
}

void sana_stream_reset(sana_stream *s) {
  pthread_mutex_lock(&s->mu);
  queue_clear(&s->in);
  queue_clear(&s->out);
  if (s->prompt_active && !s->prompt_pending) { s->prompt_pending = s->prompt_active; s->prompt_active = NULL; }
  s->chunk = 0;
  s->f0 = 0;
  s->frames_emitted = 0;
  s->pad_frames = 0;
  pthread_mutex_unlock(&s->mu);
  /* the VAE streams keep their buffers but must forget the video; new ones are cheap to make */
  sana_vae_stream *e = NULL, *d = NULL;
  if (!sana_vae_stream_new(&e, s->m->vae, NULL) && !sana_vae_stream_new(&d, s->m->vae, NULL)) {
    sana_vae_stream_free(s->enc);
    sana_vae_stream_free(s->dec);
    s->enc = e;
    s->dec = d;
  } else {
    sana_vae_stream_free(e);
    sana_vae_stream_free(d);
  }
  sana_dit_state_reset(s->dit);
}

/* Takes the pending prompt at a chunk boundary and hands its embedding to the DiT. */
static sana_status apply_prompt(sana_stream *s, sana_error *err) {
  pthread_mutex_lock(&s->mu);
  char *p = s->prompt_pending;
  s->prompt_pending = NULL;
  pthread_mutex_unlock(&s->mu);
  if (!p) return SANA_OK;
  const sana_prompt_embedding *e;
  sana_status st = sana_text_encoder_encode(s->m->text, p, strlen(p), 1, &e, err);
  if (!st) {
    sana_tensor y = SANA_T(SANA_F32, e->y, e->tokens, e->hidden), mask = SANA_T(SANA_I32, e->mask, e->tokens);
    st = sana_dit_set_prompt(s->dit, &y, &mask, err);
  }
  if (st) {
    free(p);
    return sana_err_prefix(err, "prompt: ");
  }
  free(s->prompt_active);
  s->prompt_active = p;
  return SANA_OK;
}

/* Source frames of this chunk -> model planes [3, F, H, W] on the host. */
static sana_status prep_frames(sana_stream *s, int F, sana_error *err) {
  sana_model *m = s->m;
  ptrdiff_t plane = (ptrdiff_t)F * m->width * m->height;
  for (int i = 0; i < F; i++) {
    const sana_frame *f = queue_at(&s->in, i < s->in.n ? i : s->in.n - 1);
    sana_status st = sana_video_prep_frame(f->rgb, f->height, f->width, f->stride, m->height, m->width, SANA_F32,
                                           s->video + (size_t)i * m->width * m->height, plane, err);
    if (st) return st;
  }
  return SANA_OK;
}

static sana_status upload_new(sana_backend *be, sana_tensor *dev, const sana_tensor *host, sana_error *err) {
  sana_status st = sana_backend_tensor(be, dev, be->act_dtype, host->nd, host->ne, err);
  if (!st) be->upload(be, dev, host);
  return st;
}

/* Runs one chunk on the first F queued frames (repeating the last one when fewer are queued,
 * which only flush does). */
static sana_status run_chunk(sana_stream *s, sana_error *err) {
  sana_model *m = s->m;
  sana_backend *be = m->be;
  double t0 = sana_now();
  int T = chunk_latents(s->chunk), F = latents_to_frames(m, s->chunk, T);
  int64_t S = (int64_t)m->hl * m->wl, N = T * S;
  sana_tensor video = {0}, lat = {0}, x = {0}, src = {0}, out = {0};
  double tm[5] = {t0};
  sana_status st = apply_prompt(s, err);
  tm[1] = sana_now();
  if (!st) st = prep_frames(s, F, err);
  if (st) return st;

  /* encode: [3, F, H, W] -> normalised source latents [Cin, T, hl, wl] */
  sana_tensor hv = SANA_T(SANA_F32, s->video, 3, F, m->height, m->width);
  if ((st = upload_new(be, &video, &hv, err)) || (st = sana_vae_encode(m->vae, s->enc, &video, &lat, err))) goto done;
  if (lat.nd != 4 || lat.ne[1] != T) {
    st = sana_err(err, SANA_ERR_STATE, "encoder gave %lld latent frames for %d frames, expected %d",
                  (long long)(lat.nd == 4 ? lat.ne[1] : 0), F, T);
    goto done;
  }
  sana_tensor hl_ = SANA_T(SANA_F32, s->lat, m->cin, T, m->hl, m->wl), ht = SANA_T(SANA_F32, s->tok, N, m->cin);
  be->download(be, &hl_, &lat);
  if ((st = be->sync(be, err))) goto done;
  sana_dit_gather_chunk(s->tok, s->lat, m->cin, T, S, 0, T);
  tm[2] = sana_now();
  if ((st = upload_new(be, &src, &ht, err))) goto done;

  /* noise: ours (core/rng.h, stream (seed, chunk)) or the given tensor's frames f0..f0+T−1 */
  if (s->noise) {
    if (s->f0 + T > s->noise->ne[1]) {
      st = sana_err(err, SANA_ERR_ARG, "the noise file has %lld latent frames; chunk %d needs %lld",
                    (long long)s->noise->ne[1], s->chunk, (long long)(s->f0 + T));
      goto done;
    }
    sana_dit_gather_chunk(s->tok, s->noise->data, m->cin, s->noise->ne[1], S, s->f0, T);
  } else {
    sana_randn(s->seed, (uint32_t)s->chunk, 0, s->lat, m->cin * N);
    sana_dit_gather_chunk(s->tok, s->lat, m->cin, T, S, 0, T);
  }
  if ((st = upload_new(be, &x, &ht, err))) goto done;

  /* 4 Euler steps + the t = 0 cache pass (model-spec §3.5) */
  if ((st = sana_dit_sample_chunk(s->dit, &x, &src, s->f0, T, 4, 1, NULL, err))) goto done;

  /* decode the chunk's latents into frames */
  be->download(be, &ht, &x);
  if ((st = be->sync(be, err))) goto done;
  sana_dit_scatter_chunk(s->lat, s->tok, m->cin, T, S, 0, T);
  tm[3] = sana_now();
  be->free(be, lat.data);
  lat.data = NULL;
  if ((st = upload_new(be, &lat, &hl_, err))) goto done;
  if ((st = sana_vae_decode_chunk(m->vae, s->dec, m->decode, &lat, &out, err))) goto done;
  if (out.nd != 4 || out.ne[1] != F) {
    st = sana_err(err, SANA_ERR_STATE, "decoder gave %lld frames, expected %d", (long long)(out.nd == 4 ? out.ne[1] : 0), F);
    goto done;
  }
  sana_tensor hvo = SANA_T(SANA_F32, s->video, 3, F, m->height, m->width);
  be->download(be, &hvo, &out);
  if ((st = be->sync(be, err))) goto done;
  tm[4] = sana_now();
  for (int i = 0; i < 4; i++) s->t_stage[i] = tm[i + 1] - tm[i];

  /* frames out, each with its source frame's time; flush's repeated frames are dropped */
  ptrdiff_t plane = (ptrdiff_t)F * m->width * m->height;
  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < F && !st; i++) {
    sana_frame *src_f = i < s->in.n ? queue_at(&s->in, i) : NULL;
    if (!src_f) continue; /* padding */
    sana_frame *o = sana_frame_alloc(m->width, m->height);
    if (!o || sana_video_unprep_frame(s->video + (size_t)i * m->width * m->height, SANA_F32, plane, m->height,
                                      m->width, o->rgb, err)) {
      sana_frame_free(o);
      st = err && err->code ? err->code : sana_err(err, SANA_ERR_NOMEM, "out of memory");
      break;
    }
    o->pts_us = src_f->pts_us;
    if (!queue_push(&s->out, o)) { sana_frame_free(o); st = sana_err(err, SANA_ERR_NOMEM, "out of memory"); }
    else s->frames_emitted++;
  }
  for (int i = 0; i < F && s->in.n; i++) sana_frame_free(queue_pop(&s->in));
  s->chunk++;
  s->f0 += T;
  s->last_seconds = sana_now() - t0;
  pthread_mutex_unlock(&s->mu);
done:
  if (video.data) be->free(be, video.data);
  if (lat.data) be->free(be, lat.data);
  if (x.data) be->free(be, x.data);
  if (src.data) be->free(be, src.data);
  if (out.data) be->free(be, out.data);
  return st;
}

sana_status sana_stream_run_chunk(sana_stream *s, int *ran, sana_error *err) {
  *ran = 0;
  if (sana_stream_frames_needed(s) > 0) return SANA_OK;
  sana_status st = run_chunk(s, err);
  *ran = !st;
  return st;
}

sana_status sana_stream_flush(sana_stream *s, int *ran, sana_error *err) {
  *ran = 0;
  pthread_mutex_lock(&s->mu);
  int queued = s->in.n;
  pthread_mutex_unlock(&s->mu);
  if (!queued) return SANA_OK;
  sana_status st = run_chunk(s, err);
  *ran = !st;
  return st;
}
