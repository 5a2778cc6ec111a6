/* The DiT forward for one streaming chunk (model-spec §4.10) and the per-stream state that owns
 * the caches of §5. Shapes in the comments: N tokens of the chunk (T frames × S = Hl·Wl), C
 * hidden, H heads of dim D, F the GLU width, L caption tokens, m keys in the softmax window. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "model/dit_internal.h"

/* bf16(σ_{i+1} − σ_i) for σ = 1, 0.961, 0.893, 0.743, 0 (model-spec §3.5) */
static const float sampler_dt[4] = {-0.0390625f, -0.06787109375f, -0.150390625f, -0.7421875f};

/* ---- host helpers ---- */

void sana_dit_timestep_freq(float *out, int dim, int tau) {
  int half = dim / 2;
  for (int i = 0; i < half; i++) {
    float e = -logf(10000.0f) * (float)i / (float)half;
    float f = (float)exp((double)e); /* correctly rounded fp32 exp */
    float a = (float)tau * f;        /* fp32 like upstream's timestep_embedding */
    out[i] = cosf(a);
    out[half + i] = sinf(a);
  }
}

/* One pair's rotation: position pos (a frame, row or column index) at pair j of a section of
 * dim dims. */
static void rope_pair(double pos, int j, double dim, float *c, float *s) {
  double a = pos / pow(10000.0, 2.0 * j / dim);
  *c = (float)cos(a);
  *s = (float)sin(a);
}

/* One coordinate's pairs of a token from the token that holds them first (itself: nothing). */
static void copy_pairs(float *cs, float *sn, int64_t dst, int64_t src, size_t bytes) {
  if (dst == src) return;
  memcpy(cs + dst, cs + src, bytes);
  memcpy(sn + dst, sn + src, bytes);
}

void sana_dit_rope_tables(float *cs, float *sn, int D, int64_t f0, int64_t T, int64_t hl, int64_t wl) {
  int hd = 2 * (D / 6), td = D - 2 * hd, half = D / 2, nt = td / 2, nh = hd / 2;
  /* A pair depends on one coordinate only: each distinct (coordinate, pair) value is computed
   * once (T·nt + (hl + wl)·nh of them instead of T·hl·wl·half), into the first token that has
   * it: frame t's into token (t, 0, 0), row h's into (0, h, 0), column w's into (0, 0, w). The
   * other tokens copy from those, which are never written again. */
  for (int64_t t = 0; t < T; t++)
    for (int j = 0; j < nt; j++) {
      int64_t k = t * hl * wl * half + j;
      rope_pair((double)(f0 + t), j, td, cs + k, sn + k);
    }
  for (int64_t h = 0; h < hl; h++)
    for (int j = 0; j < nh; j++) rope_pair((double)h, j, hd, cs + h * wl * half + nt + j, sn + h * wl * half + nt + j);
  for (int64_t w = 0; w < wl; w++)
    for (int j = 0; j < nh; j++) rope_pair((double)w, j, hd, cs + w * half + nt + nh + j, sn + w * half + nt + nh + j);
  size_t bt = sizeof(float) * (size_t)nt, bh = sizeof(float) * (size_t)nh;
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < hl; h++)
      for (int64_t w = 0; w < wl; w++) {
        int64_t n = ((t * hl + h) * wl + w) * half, nt0 = t * hl * wl * half, nh0 = h * wl * half, nw0 = w * half;
        copy_pairs(cs, sn, n, nt0, bt);
        copy_pairs(cs, sn, n + nt, nh0 + nt, bh);
        copy_pairs(cs, sn, n + nt + nh, nw0 + nt + nh, bh);
      }
}

void sana_dit_gather_chunk(float *dst, const float *cts, int64_t C, int64_t t_all, int64_t S, int64_t f0, int64_t T) {
  for (int64_t c = 0; c < C; c++)
    for (int64_t n = 0; n < T * S; n++) dst[n * C + c] = cts[(c * t_all + f0) * S + n];
}

void sana_dit_scatter_chunk(float *cts, const float *src, int64_t C, int64_t t_all, int64_t S, int64_t f0, int64_t T) {
  for (int64_t c = 0; c < C; c++)
    for (int64_t n = 0; n < T * S; n++) cts[(c * t_all + f0) * S + n] = src[n * C + c];
}

/* ---- state ---- */

static sana_status state_tensor(sana_dit_state *st, sana_tensor *t, sana_dtype dt, int nd, const int64_t *ne,
                                sana_error *err) {
  void **a = realloc(st->allocs, sizeof(void *) * (size_t)(st->n_allocs + 1));
  if (!a) return sana_err(err, SANA_ERR_NOMEM, "dit state: out of memory");
  st->allocs = a;
  sana_status s = sana_backend_tensor(st->be, t, dt, nd, ne, err);
  if (s) return sana_err_prefix(err, "dit state: ");
  st->allocs[st->n_allocs++] = t->data;
  return SANA_OK;
}
#define STATE_T(st, t, dt, err, ...) state_tensor((st), (t), (dt), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
                                                  (int64_t[]){__VA_ARGS__}, (err))

static sana_status upload_scalar(sana_dit_state *st, sana_tensor *t, float v, sana_error *err) {
  sana_status s = STATE_T(st, t, st->be->act_dtype, err, 1);
  if (s) return s;
  sana_tensor h = SANA_T(SANA_F32, &v, 1);
  st->be->upload(st->be, t, &h);
  return SANA_OK;
}

sana_status sana_dit_state_new(sana_dit_state **out, sana_dit *d, const sana_dit_geometry *geo, sana_error *err) {
  *out = NULL;
  const sana_dit_config *cfg = &d->cfg;
  if (geo->hl <= 0 || geo->wl <= 0 || geo->text_len <= 0 || geo->first_frames <= 0 || geo->max_frames < 0)
    return sana_err(err, SANA_ERR_ARG, "dit state: invalid geometry (grid %lldx%lld, %lld text tokens, chunks %lld/%lld)",
                    (long long)geo->hl, (long long)geo->wl, (long long)geo->text_len, (long long)geo->first_frames,
                    (long long)geo->max_frames);
  sana_dit_state *st = calloc(1, sizeof *st);
  if (!st) return sana_err(err, SANA_ERR_NOMEM, "dit state: out of memory");
  st->d = d;
  st->be = d->be;
  st->geo = *geo;
  st->S = geo->hl * geo->wl;
  st->max_T = geo->first_frames > geo->max_frames ? geo->first_frames : geo->max_frames;
  st->cap_tokens = (geo->first_frames + 2 * st->max_T) * st->S; /* sink + previous + current */
  st->bc = calloc((size_t)cfg->depth, sizeof *st->bc);
  sana_status s = st->bc ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "dit state: out of memory");
  const int64_t C = cfg->hidden, H = cfg->heads, D = cfg->head_dim, L = geo->text_len, S = st->S;
  const int64_t maxN = st->max_T * S;
  sana_dtype act = st->be->act_dtype;
  for (int i = 0; !s && i < cfg->depth; i++) {
    dit_block_cache *c = &st->bc[i];
    if (d->blocks[i].softmax) {
      if (!(s = STATE_T(st, &c->k, act, err, st->cap_tokens, C))) s = STATE_T(st, &c->v, act, err, st->cap_tokens, C);
    } else {
      if (!(s = STATE_T(st, &c->state_kv, SANA_F32, err, H, D, D))) s = STATE_T(st, &c->state_z, SANA_F32, err, H, D);
    }
    if (!s) s = STATE_T(st, &c->tconv, act, err, S, C);
    if (!s) s = STATE_T(st, &c->cross_k, act, err, L, C);
    if (!s) s = STATE_T(st, &c->cross_v, act, err, L, C);
  }
  if (!s) s = STATE_T(st, &st->mask_bias, act, err, L);
  if (!s) s = STATE_T(st, &st->rope_cos, SANA_F32, err, maxN, D / 2);
  if (!s) s = STATE_T(st, &st->rope_sin, SANA_F32, err, maxN, D / 2);
  if (!s) s = STATE_T(st, &st->vel, act, err, maxN, cfg->in_ch);
  if (!s) s = STATE_T(st, &st->tmp, act, err, maxN, cfg->in_ch);
  if (!s) s = upload_scalar(st, &st->kappa, (float)(1.0 / sqrt((double)D * (double)S)), err);
  for (int i = 0; !s && i < 4; i++) s = upload_scalar(st, &st->dt[i], sampler_dt[i], err);
  if (!s) {
    /* peak of one pass: x/src concat, residual, modulated input, sub-layer output, plus the
     * largest sub-layer (GDN: 7 [N, C] + small; FFN: 5 [N, F] + [N, C]) and the caption MLP */
    const int64_t F = cfg->ffn, Cin = cfg->in_ch;
    int64_t gdn = 7 * maxN * C + maxN * H + st->max_T * (C + H);
    int64_t ffn = 5 * maxN * F + maxN * C;
    int64_t elems = maxN * (2 * Cin + 3 * C) + (gdn > ffn ? gdn : ffn) + L * (cfg->cap_ch + 2 * C) +
                    cfg->freq_dim + 20 * C;
    s = sana_arena_init(&st->arena, st->be, (size_t)elems * sana_dtype_size(act) + 64 * 256, err);
  }
  if (s) {
    sana_dit_state_free(st);
    return s;
  }
  sana_dit_state_reset(st);
  *out = st;
  return SANA_OK;
}

void sana_dit_state_free(sana_dit_state *st) {
  if (!st) return;
  for (int i = 0; i < st->n_allocs; i++) st->be->free(st->be, st->allocs[i]);
  sana_arena_release(&st->arena);
  free(st->allocs);
  free(st->bc);
  free(st);
}

void sana_dit_state_reset(sana_dit_state *st) {
  for (int i = 0; i < st->d->cfg.depth; i++) {
    dit_block_cache *c = &st->bc[i];
    if (c->state_kv.data) st->be->fill(st->be, &c->state_kv, 0.0f);
    if (c->state_z.data) st->be->fill(st->be, &c->state_z, 0.0f);
    c->n_sink = c->n_prev = 0;
    c->has_tconv = 0;
  }
}

int sana_dit_state_gdn(sana_dit_state *st, int block, sana_tensor *kv, sana_tensor *z) {
  if (block < 0 || block >= st->d->cfg.depth || st->d->blocks[block].softmax) return 0;
  *kv = st->bc[block].state_kv;
  *z = st->bc[block].state_z;
  return 1;
}

int sana_dit_state_window(sana_dit_state *st, int block, sana_tensor *k, sana_tensor *v) {
  if (block < 0 || block >= st->d->cfg.depth || !st->d->blocks[block].softmax) return 0;
  dit_block_cache *c = &st->bc[block];
  *k = sana_tensor_rows(&c->k, 0, c->n_sink + c->n_prev);
  *v = sana_tensor_rows(&c->v, 0, c->n_sink + c->n_prev);
  return 1;
}

int sana_dit_state_tconv(sana_dit_state *st, int block, sana_tensor *frame) {
  if (block < 0 || block >= st->d->cfg.depth || !st->bc[block].has_tconv) return 0;
  *frame = st->bc[block].tconv;
  return 1;
}

/* ---- prompt ---- */

static float host_val(const sana_tensor *t, int64_t i) {
  switch (t->dtype) {
  case SANA_I64: return (float)((const int64_t *)t->data)[i];
  case SANA_I32: return (float)((const int32_t *)t->data)[i];
  case SANA_I16: return (float)((const int16_t *)t->data)[i];
  case SANA_I8: return (float)((const int8_t *)t->data)[i];
  case SANA_U8: case SANA_BOOL: return (float)((const uint8_t *)t->data)[i];
  case SANA_F32: return ((const float *)t->data)[i];
  case SANA_F64: return (float)((const double *)t->data)[i];
  case SANA_BF16: return sana_bf16_to_f32(((const uint16_t *)t->data)[i]);
  case SANA_F16: return sana_f16_to_f32(((const uint16_t *)t->data)[i]);
  default: return NAN;
  }
}

sana_status sana_dit_set_prompt(sana_dit_state *st, const sana_tensor *y, const sana_tensor *mask, sana_error *err) {
  const sana_dit_config *cfg = &st->d->cfg;
  sana_backend *be = st->be;
  sana_dit *d = st->d;
  const int64_t L = st->geo.text_len, C = cfg->hidden;
  if (sana_numel(y) != L * cfg->cap_ch || sana_numel(mask) != L)
    return sana_err(err, SANA_ERR_SHAPE, "dit: caption must be [%lld, %d] with a mask of %lld (got %lld and %lld elements)",
                    (long long)L, cfg->cap_ch, (long long)L, (long long)sana_numel(y), (long long)sana_numel(mask));
  float *bias = malloc(sizeof(float) * (size_t)L);
  if (!bias) return sana_err(err, SANA_ERR_NOMEM, "dit: out of memory");
  for (int64_t j = 0; j < L; j++) bias[j] = host_val(mask, j) != 0.0f ? 0.0f : -10000.0f;
  sana_tensor hb = SANA_T(SANA_F32, bias, L);
  be->upload(be, &st->mask_bias, &hb);
  free(bias);
  sana_arena *A = &st->arena; /* no arena tensor lives between calls */
  sana_arena_reset(A, 0);
  A->overflow = 0;
  size_t mark = 0;
  sana_tensor yt = SANA_ARENA_T(A, be->act_dtype, L, cfg->cap_ch);    /* [L, cap] */
  sana_tensor y1 = SANA_ARENA_T(A, be->act_dtype, L, C);              /* [L, C] */
  sana_tensor yk = SANA_ARENA_T(A, be->act_dtype, L, C);              /* [L, C] */
  if (A->overflow) return sana_err(err, SANA_ERR_STATE, "dit: activation arena too small for the caption");
  sana_tensor yin = sana_tensor_reshape(y, 2, (int64_t[]){L, cfg->cap_ch});
  be->upload(be, &yt, &yin);
  be->linear(be, &y1, &yt, &d->y_fc1_w, &d->y_fc1_b, SANA_ACT_GELU_TANH); /* y_embedder.y_proj.fc1 */
  be->linear(be, &yk, &y1, &d->y_fc2_w, &d->y_fc2_b, SANA_ACT_NONE);     /* y_embedder.y_proj.fc2 */
  be->rmsnorm(be, &yk, &yk, &d->y_norm, 1e-5f, 0.0f);                    /* attention_y_norm */
  for (int i = 0; i < cfg->depth; i++) { /* blocks.{i}.cross_attn.kv_linear, k_norm: per prompt */
    const sana_dit_block *b = &d->blocks[i];
    dit_block_cache *c = &st->bc[i];
    be->linear(be, &c->cross_k, &yk, &b->cross_attn.k_w, &b->cross_attn.k_b, SANA_ACT_NONE);
    be->rmsnorm(be, &c->cross_k, &c->cross_k, &b->cross_attn.k_norm, 1e-6f, 0.0f);
    be->linear(be, &c->cross_v, &yk, &b->cross_attn.v_w, &b->cross_attn.v_b, SANA_ACT_NONE);
  }
  sana_arena_reset(A, mark);
  sana_status s = be->sync(be, err);
  if (s) return sana_err_prefix(err, "dit caption: ");
  st->has_prompt = 1;
  return SANA_OK;
}

/* ---- chunk ---- */

sana_status sana_dit_chunk_begin(sana_dit_state *st, int64_t f0, int64_t T, sana_error *err) {
  int64_t lim = st->max_T;
  if (T <= 0 || T > lim || f0 < 0)
    return sana_err(err, SANA_ERR_ARG, "dit: chunk of %lld frames at %lld does not fit the stream (at most %lld frames)",
                    (long long)T, (long long)f0, (long long)lim);
  const int64_t N = T * st->S, half = st->d->cfg.head_dim / 2;
  float *tab = malloc(sizeof(float) * (size_t)(2 * N * half));
  if (!tab) return sana_err(err, SANA_ERR_NOMEM, "dit: out of memory for RoPE tables");
  sana_dit_rope_tables(tab, tab + N * half, st->d->cfg.head_dim, f0, T, st->geo.hl, st->geo.wl);
  sana_tensor hc = SANA_T(SANA_F32, tab, N, half), hs = SANA_T(SANA_F32, tab + N * half, N, half);
  sana_tensor dc = sana_tensor_rows(&st->rope_cos, 0, N), ds = sana_tensor_rows(&st->rope_sin, 0, N);
  st->be->upload(st->be, &dc, &hc);
  st->be->upload(st->be, &ds, &hs);
  sana_status s = st->be->sync(st->be, err);
  free(tab);
  st->f0 = f0;
  st->T = T;
  return s;
}
