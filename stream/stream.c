/* The streaming loop (model-spec §3, §5): frames in, chunks of 33 then 24 frames, causal VAE
 * encode with its cache, fresh noise, 4 Euler steps and the t = 0 cache pass of the DiT, a
 * streaming VAE decode, frames out. Nothing held grows with the video's length: the caches are
 * fixed-size and the RoPE angles are computed for any absolute frame index (docs/stream.md). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rng.h"
#include "backend/ops_video.h"
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
  size_t live0 = 0, live1 = 0;
  if (m->be->mem_stats) m->be->mem_stats(m->be, &live0, NULL);
  if (sana_text_encoder_open(&m->text, m->be, wp.text_dir, wp.tokenizer, 16, err)) goto fail;
  if (m->be->mem_stats) m->be->mem_stats(m->be, &live1, NULL);
  m->text_bytes = live1 - live0;

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
  sana_backend *be = s->m->be;
  void *dev[] = {s->d_video.data, s->d_lat.data, s->d_src.data, s->d_x.data, s->d_rgb_out.data, s->d_rgb_in};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
    if (dev[i]) be->free(be, dev[i]);
  if (be->host_free) be->host_free(be, s->h_rgb_out);
  else free(s->h_rgb_out);
  free(s->lat);
  free(s->chunk_in);
  free(s->chunk_out);
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
  sana_backend *be = m->be;
  /* the first chunk is the largest: 5 latents, (5 − 1)·t_stride + 1 frames, over 3·t_stride */
  int64_t S = (int64_t)m->hl * m->wl, N = SANA_FIRST_LATENTS * S, F = latents_to_frames(m, 0, SANA_FIRST_LATENTS);
  s->lat = malloc(sizeof(float) * (size_t)(m->cin * N));
  s->chunk_in = calloc((size_t)F, sizeof *s->chunk_in);
  s->chunk_out = calloc((size_t)F, sizeof *s->chunk_out);
  sana_dit_geometry geo = {.hl = m->hl, .wl = m->wl, .text_len = 300, .first_frames = SANA_FIRST_LATENTS,
                           .max_frames = SANA_CHUNK_LATENTS};
  if (!s->prompt_pending || !s->lat || !s->chunk_in || !s->chunk_out) {
    sana_err(err, SANA_ERR_NOMEM, "stream: out of memory");
    goto fail;
  }
  if (!be->video || !be->vae) {
    sana_err(err, SANA_ERR_UNSUPPORTED, "stream: backend %s lacks the video or vae ops", be->name);
    goto fail;
  }
  if (sana_backend_tensor(be, &s->d_video, be->act_dtype, 4, (int64_t[]){3, F, m->height, m->width}, err) ||
      sana_backend_tensor(be, &s->d_lat, be->act_dtype, 2, (int64_t[]){m->cin, N}, err) ||
      sana_backend_tensor(be, &s->d_src, be->act_dtype, 2, (int64_t[]){N, m->cin}, err) ||
      sana_backend_tensor(be, &s->d_x, be->act_dtype, 2, (int64_t[]){N, m->cin}, err) ||
      sana_backend_tensor(be, &s->d_rgb_out, SANA_U8, 4, (int64_t[]){F, m->height, m->width, 3}, err)) {
    sana_err_prefix(err, "stream: ");
    goto fail;
  }
  size_t out_bytes = (size_t)F * 3 * m->width * m->height;
  if (!(s->h_rgb_out = be->host_alloc ? be->host_alloc(be, out_bytes) : malloc(out_bytes))) {
    sana_err(err, SANA_ERR_NOMEM, "stream: cannot allocate %.1f MiB of host memory for the output frames",
             (double)out_bytes / (1 << 20));
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
  info->t_output = s->t_stage[4];
  info->t_prep = s->t_prep;
  for (int i = 0; i < 5; i++) info->t_pass[i] = s->t_pass[i];
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

/* Source frames of this chunk (frame i is src[i]; flush repeats the last real one) -> model
 * planes video [3, F, H, W] on the backend: each real frame goes up once as bytes, then
 * video.frame_prep converts runs of consecutive frames of one size. */
static sana_status frames_in(sana_stream *s, sana_frame *const *src, int n_real, sana_tensor *video,
                             sana_error *err) {
  sana_backend *be = s->m->be;
  int F = (int)video->ne[1];
  size_t total = 0;
  for (int i = 0; i < n_real; i++) total += (size_t)3 * src[i]->width * src[i]->height;
  if (total > s->d_rgb_in_bytes) {
    if (s->d_rgb_in) be->free(be, s->d_rgb_in);
    s->d_rgb_in_bytes = 0;
    if (!(s->d_rgb_in = be->alloc(be, total)))
      return sana_err(err, SANA_ERR_NOMEM, "stream: %s: cannot allocate %.1f MiB for the source frames", be->name,
                      (double)total / (1 << 20));
    s->d_rgb_in_bytes = total;
  }
  uint8_t *base = s->d_rgb_in, *at = base;
  for (int i = 0; i < n_real; i++) { /* frame_copy packed the rows: stride is 3·width */
    const sana_frame *f = src[i];
    sana_tensor h = SANA_T(SANA_U8, f->rgb, f->height, 3 * f->width), d = h;
    d.data = at;
    at += (size_t)3 * f->width * f->height;
    be->upload(be, &d, &h);
  }
  /* the frames lie in order, so a run starts where the previous one ended; flush's repeats
   * read the last real frame, which ends the buffer */
  at = base;
  for (int i = 0; i < F;) {
    int k = i < n_real ? i : n_real - 1, w = src[k]->width, h = src[k]->height, n = 1;
    while (i + n < n_real && src[i + n]->width == w && src[i + n]->height == h) n++;
    size_t bytes = (size_t)3 * w * h;
    if (i >= n_real) at = base + total - bytes;
    sana_tensor rgb = SANA_T(SANA_U8, at, n, h, w, 3);
    be->video->frame_prep(be, video, &rgb, i);
    at += n * bytes;
    i += n;
  }
  return be->sync(be, err);
}

/* The DiT observer's velocity callback runs after each pass has synchronised: it stamps the
 * pass's end. */
static void pass_done(void *ctx, int step, const sana_tensor *v) {
  double *t = ctx;
  t[step + 1] = sana_now();
}

/* Runs one chunk on the first F queued frames (repeating the last one when fewer are queued,
 * which only flush does). The chunk stays on the backend from the source bytes to the output
 * bytes; only the noise goes up as floats. */
static sana_status run_chunk(sana_stream *s, sana_error *err) {
  sana_model *m = s->m;
  sana_backend *be = m->be;
  double t0 = sana_now();
  int T = chunk_latents(s->chunk), F = latents_to_frames(m, s->chunk, T);
  int64_t S = (int64_t)m->hl * m->wl, N = T * S;
  sana_dtype act = be->act_dtype;
  sana_tensor lat = {0}, out = {0};
  double tm[6] = {t0};
  sana_frame **src = s->chunk_in, **o = s->chunk_out;
  pthread_mutex_lock(&s->mu);
  int n_real = s->in.n < F ? s->in.n : F;
  for (int i = 0; i < n_real; i++) src[i] = queue_at(&s->in, i);
  pthread_mutex_unlock(&s->mu);
  if (n_real < 1) return sana_err(err, SANA_ERR_STATE, "stream: no frames queued");

  sana_status st = apply_prompt(s, err);
  tm[1] = sana_now();
  if (st) return st;

  /* encode: frames -> [3, F, H, W] -> normalised source latents [Cin, T, hl, wl] -> [N, Cin] */
  sana_tensor video = SANA_T(act, s->d_video.data, 3, F, m->height, m->width);
  if ((st = frames_in(s, src, n_real, &video, err))) goto done;
  s->t_prep = sana_now() - tm[1];
  if ((st = sana_vae_encode(m->vae, s->enc, &video, &lat, err))) goto done;
  if (lat.nd != 4 || lat.ne[0] != m->cin || lat.ne[1] != T || lat.ne[2] != m->hl || lat.ne[3] != m->wl) {
    st = sana_err(err, SANA_ERR_STATE, "encoder gave %lld latent frames for %d frames, expected %d",
                  (long long)(lat.nd == 4 ? lat.ne[1] : 0), F, T);
    goto done;
  }
  sana_tensor lat_cn = SANA_T(act, lat.data, m->cin, N), x_src = SANA_T(act, s->d_src.data, N, m->cin);
  be->vae->transpose01(be, &x_src, &lat_cn);
  if ((st = be->sync(be, err))) goto done;
  be->free(be, lat.data);
  lat.data = NULL;
  tm[2] = sana_now();

  /* noise [Cin, T, hl, wl]: ours (core/rng.h, stream (seed, chunk)) or the given tensor's frames
   * f0..f0+T−1; up as floats, then token-major like the source */
  if (s->noise) {
    if (s->f0 + T > s->noise->ne[1]) {
      st = sana_err(err, SANA_ERR_ARG, "the noise file has %lld latent frames; chunk %d needs %lld",
                    (long long)s->noise->ne[1], s->chunk, (long long)(s->f0 + T));
      goto done;
    }
    for (int c = 0; c < m->cin; c++)
      memcpy(s->lat + c * N, (const float *)s->noise->data + (c * s->noise->ne[1] + s->f0) * S, sizeof(float) * N);
  } else {
    sana_randn(s->seed, (uint32_t)s->chunk, 0, s->lat, m->cin * N);
  }
  sana_tensor noise_h = SANA_T(SANA_F32, s->lat, m->cin, N), noise = SANA_T(act, s->d_lat.data, m->cin, N);
  sana_tensor x = SANA_T(act, s->d_x.data, N, m->cin);
  be->upload(be, &noise, &noise_h);
  be->vae->transpose01(be, &x, &noise);

  /* 4 Euler steps + the t = 0 cache pass (model-spec §3.5), each pass timed */
  double tp[6];
  sana_dit_observer obs = {.velocity = pass_done, .ctx = tp};
  tp[0] = sana_now();
  if ((st = sana_dit_sample_chunk(s->dit, &x, &x_src, s->f0, T, 4, 1, &obs, err))) goto done;
  tm[3] = tp[5] = sana_now();
  for (int i = 0; i < 5; i++) s->t_pass[i] = tp[i + 1] - tp[i];

  /* decode the chunk's latents [N, Cin] -> [Cin, T, hl, wl] -> frames [3, F, H, W] */
  sana_tensor x_cn = SANA_T(act, s->d_lat.data, m->cin, N);
  be->vae->transpose01(be, &x_cn, &x);
  sana_tensor dec_in = SANA_T(act, s->d_lat.data, m->cin, T, m->hl, m->wl);
  if ((st = sana_vae_decode_chunk(m->vae, s->dec, m->decode, &dec_in, &out, err))) goto done;
  if (out.nd != 4 || out.ne[0] != 3 || out.ne[1] != F || out.ne[2] != m->height || out.ne[3] != m->width) {
    st = sana_err(err, SANA_ERR_STATE, "decoder gave %lld frames, expected %d", (long long)(out.nd == 4 ? out.ne[1] : 0), F);
    goto done;
  }
  if ((st = be->sync(be, err))) goto done;
  tm[4] = sana_now();

  /* frames out: RGB8 on the backend, one download of the real frames, then each into its own
   * sana_frame with its source frame's time; flush's repeated frames are dropped */
  sana_tensor rgb = SANA_T(SANA_U8, s->d_rgb_out.data, n_real, m->height, m->width, 3), h_rgb = rgb;
  h_rgb.data = s->h_rgb_out;
  be->video->frame_unprep(be, &rgb, &out, 0);
  be->download(be, &h_rgb, &rgb);
  st = be->sync(be, err);
  memset(o, 0, sizeof *o * (size_t)n_real);
  size_t fbytes = (size_t)3 * m->width * m->height;
  for (int i = 0; i < n_real && !st; i++) {
    if (!(o[i] = sana_frame_alloc(m->width, m->height))) {
      st = sana_err(err, SANA_ERR_NOMEM, "out of memory");
      break;
    }
    memcpy(o[i]->rgb, s->h_rgb_out + i * fbytes, fbytes);
    o[i]->pts_us = src[i]->pts_us;
  }
  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < n_real; i++) {
    if (!st && !queue_push(&s->out, o[i])) st = sana_err(err, SANA_ERR_NOMEM, "out of memory");
    if (st) sana_frame_free(o[i]);
    else s->frames_emitted++;
  }
  for (int i = 0; i < F && s->in.n; i++) sana_frame_free(queue_pop(&s->in));
  s->chunk++;
  s->f0 += T;
  tm[5] = sana_now();
  for (int i = 0; i < 5; i++) s->t_stage[i] = tm[i + 1] - tm[i];
  s->last_seconds = tm[5] - t0;
  pthread_mutex_unlock(&s->mu);
done:
  if (lat.data) be->free(be, lat.data);
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
