/* The VAE's building blocks on frame-major activations [T, C, H, W] (model-spec §7.1, §7.2,
 * §7.4): the causal conv with its 2-frame cache, the resnet, the residual-averaging
 * downsampler with its temporal grouping state, the residual-tiling upsampler with its trim
 * state. */
#include <string.h>

#include "model/vae_internal.h"

sana_status vae_act(sana_vae *v, sana_tensor *t, int64_t T, int64_t C, int64_t H, int64_t W, sana_error *err) {
  return sana_backend_tensor(v->be, t, v->be->act_dtype, 4, (int64_t[]){T, C, H, W}, err);
}

void vae_drop(sana_vae *v, sana_tensor *t) {
  if (t->data) v->be->free(v->be, t->data);
  t->data = NULL;
}

static void copy_frames(sana_vae *v, sana_tensor *dst, int64_t d0, const sana_tensor *src, int64_t s0, int64_t n) {
  if (n <= 0) return;
  sana_tensor d = sana_tensor_rows(dst, d0, n), s = sana_tensor_rows(src, s0, n);
  v->be->copy(v->be, &d, &s);
}

/* y = conv(x) with the temporal padding of the mode: causal (two frames on the left, from the
 * stream's cache or replicating frame 0) or not (replicate one frame at each end). */
static sana_status conv_run(sana_vae *v, sana_vae_stream *s, const vae_conv *c, int causal, sana_pad_mode pad,
                            const sana_tensor *x, sana_tensor *y, sana_error *err) {
  int64_t T = x->ne[0], C = x->ne[1], H = x->ne[2], W = x->ne[3];
  sana_tensor xp; /* [T+2, Ci, H, W] */
  sana_status st = vae_act(v, &xp, T + 2, C, H, W, err);
  if (st) return st;
  if (causal) {
    sana_tensor *cache = s ? &s->cache[c->slot] : NULL;
    if (cache && s->cached[c->slot]) {
      if (cache->ne[2] != H || cache->ne[3] != W) {
        vae_drop(v, &xp);
        return sana_err(err, SANA_ERR_STATE, "vae stream: frame size changed mid-stream (%lldx%lld, was %lldx%lld)",
                        (long long)H, (long long)W, (long long)cache->ne[2], (long long)cache->ne[3]);
      }
      copy_frames(v, &xp, 0, cache, 0, 2);
    } else {
      copy_frames(v, &xp, 0, x, 0, 1);
      copy_frames(v, &xp, 1, x, 0, 1);
    }
    copy_frames(v, &xp, 2, x, 0, T);
    if (cache) {
      if (!cache->data && (st = vae_act(v, cache, 2, C, H, W, err))) {
        vae_drop(v, &xp);
        return st;
      }
      copy_frames(v, cache, 0, &xp, T, 2); /* the last 2 frames of cache ++ x */
      s->cached[c->slot] = 1;
    }
  } else {
    copy_frames(v, &xp, 0, x, 0, 1);
    copy_frames(v, &xp, 1, x, 0, T);
    copy_frames(v, &xp, T + 1, x, T - 1, 1);
  }
  if ((st = vae_act(v, y, T, c->cout, H, W, err))) {
    vae_drop(v, &xp);
    return st;
  }
  v->ops->conv3d(v->be, y, &xp, &c->w, &c->b, pad); /* y [T, Co, H, W] */
  vae_drop(v, &xp);
  return SANA_OK;
}

/* norm → SiLU → conv, consuming nothing: y is new. */
static sana_status norm_act_conv(sana_vae *v, sana_vae_stream *s, const vae_conv *c, int causal, sana_pad_mode pad,
                                 const sana_tensor *x, sana_tensor *y, sana_error *err) {
  sana_tensor h;
  sana_status st = vae_act(v, &h, x->ne[0], x->ne[1], x->ne[2], x->ne[3], err);
  if (st) return st;
  v->ops->rms_norm_act(v->be, &h, x, VAE_RMS_EPS, SANA_ACT_SILU); /* h = SiLU(RMSc(x)) */
  st = conv_run(v, s, c, causal, pad, &h, y, err);
  vae_drop(v, &h);
  return st;
}

/* x += conv2(SiLU(RMSc(conv1(SiLU(RMSc(x)))))) */
static sana_status resnet(sana_vae *v, sana_vae_stream *s, const vae_layer *L, int causal, sana_pad_mode pad,
                          sana_tensor *x, sana_error *err) {
  sana_tensor h1, h2;
  sana_status st = norm_act_conv(v, s, &L->c1, causal, pad, x, &h1, err); /* h1 [T, C, H, W] */
  if (st) return st;
  st = norm_act_conv(v, s, &L->c2, causal, pad, &h1, &h2, err); /* h2 [T, C, H, W] */
  vae_drop(v, &h1);
  if (st) return st;
  v->be->binary(v->be, x, x, &h2, SANA_ADD);
  vae_drop(v, &h2);
  return SANA_OK;
}

/* The temporal grouping of a downsampler with st_t > 1: without a stream, the first st_t − 1
 * frames are prepended; in a stream, frame 0 is repeated once per stream and frames that do not
 * complete a group wait for the next call. seq gets the frames to process (maybe none). */
static sana_status down_group(sana_vae *v, sana_vae_stream *s, const vae_layer *L, const sana_tensor *x,
                              sana_tensor *seq, sana_error *err) {
  int64_t T = x->ne[0], C = x->ne[1], H = x->ne[2], W = x->ne[3], stt = L->st[0];
  int64_t np = s ? s->n_pending[L->slot] : 0, pre = s ? (s->flag[L->slot] ? 0 : stt - 1) : stt - 1;
  int64_t n = np + pre + T, usable = n / stt * stt;
  sana_status st = vae_act(v, seq, n, C, H, W, err);
  if (st) return st;
  if (np) copy_frames(v, seq, 0, &s->pending[L->slot], 0, np);
  for (int64_t i = 0; i < pre; i++) copy_frames(v, seq, np + i, x, s ? 0 : i, 1);
  copy_frames(v, seq, np + pre, x, 0, T);
  if (s) {
    s->flag[L->slot] = 1;
    sana_tensor *p = &s->pending[L->slot];
    if (n > usable) {
      if (!p->data && (st = vae_act(v, p, stt - 1, C, H, W, err))) return st;
      copy_frames(v, p, 0, seq, usable, n - usable);
    }
    s->n_pending[L->slot] = (int)(n - usable);
  }
  seq->ne[0] = usable;
  return SANA_OK;
}

/* y = unshuffle(conv(x)) + mean_group(unshuffle(x)); x consumed. */
static sana_status downsampler(sana_vae *v, sana_vae_stream *s, const vae_layer *L, int causal, sana_pad_mode pad,
                               sana_tensor *x, sana_error *err) {
  sana_tensor seq = *x, y, c;
  sana_status st;
  int owned = 0;
  if (L->st[0] > 1) {
    if ((st = down_group(v, s, L, x, &seq, err))) return st;
    owned = 1;
  }
  int64_t T = seq.ne[0], H = seq.ne[2], W = seq.ne[3];
  if ((st = vae_act(v, &y, T / L->st[0], L->out, H / L->st[1], W / L->st[2], err))) goto done;
  if (T > 0) {
    v->ops->space_to_depth(v->be, &y, &seq, L->st[0], L->st[1], L->st[2], L->group, 0); /* residual */
    if ((st = conv_run(v, s, &L->c1, causal, pad, &seq, &c, err))) {         /* c [T, out/prod, H, W] */
      vae_drop(v, &y);
      goto done;
    }
    v->ops->space_to_depth(v->be, &y, &c, L->st[0], L->st[1], L->st[2], 1, 1); /* y [T/st, out, H/sh, W/sw] */
    vae_drop(v, &c);
  }
  vae_drop(v, x);
  *x = y;
done:
  if (owned) vae_drop(v, &seq);
  return st;
}

/* y = shuffle(conv(x)) [+ tile(shuffle(x))], the first frame trimmed (in a stream: only once). */
static sana_status upsampler(sana_vae *v, sana_vae_stream *s, const vae_layer *L, int causal, sana_pad_mode pad,
                             sana_tensor *x, sana_error *err) {
  int trim = 1;
  if (s) {
    trim = s->flag[L->slot] ? 0 : 1;
    s->flag[L->slot] = 1;
  }
  int64_t T = x->ne[0], H = x->ne[2], W = x->ne[3];
  sana_tensor c, y;
  sana_status st = conv_run(v, s, &L->c1, causal, pad, x, &c, err); /* c [T, ch·8/uf, H, W] */
  if (st) return st;
  if ((st = vae_act(v, &y, 2 * T - trim, L->out, 2 * H, 2 * W, err))) {
    vae_drop(v, &c);
    return st;
  }
  v->ops->depth_to_space(v->be, &y, &c, 2, 2, 2, 1, trim, 0); /* y [2T − trim, ch/uf, 2H, 2W] */
  if (L->residual) v->ops->depth_to_space(v->be, &y, x, 2, 2, 2, 8 / L->uf, trim, 1);
  vae_drop(v, &c);
  vae_drop(v, x);
  *x = y;
  return SANA_OK;
}

sana_status vae_run_layers(sana_vae *v, sana_vae_stream *s, const vae_layer *layers, int n, int causal,
                           sana_pad_mode pad, sana_tensor *x, sana_error *err) {
  sana_status st = SANA_OK;
  for (int i = 0; i < n && !st && x->ne[0] > 0; i++) {
    const vae_layer *L = &layers[i];
    sana_tensor y;
    switch (L->kind) {
    case VAE_CONV_IN:
      if (!(st = conv_run(v, s, &L->c1, causal, pad, x, &y, err))) vae_drop(v, x), *x = y;
      break;
    case VAE_RESNET: st = resnet(v, s, L, causal, pad, x, err); break;
    case VAE_DOWN: st = downsampler(v, s, L, causal, pad, x, err); break;
    case VAE_UP: st = upsampler(v, s, L, causal, pad, x, err); break;
    case VAE_CONV_OUT:
      if (!(st = norm_act_conv(v, s, &L->c1, causal, pad, x, &y, err))) vae_drop(v, x), *x = y;
      break;
    }
    if (!st) st = v->be->sync(v->be, err);
    if (st) sana_err_prefix(err, "%s: ", L->name);
  }
  return st;
}
