/* The streaming loop over host tensors in upstream's [C, T, Hl, Wl] layout (model-spec §3.4-3.5):
 * chunk by chunk, 4 Euler steps, then the cache pass for every chunk but the last. */
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "model/dit_internal.h"

/* Drops leading size-1 dims until nd remain; 0 if the tensor cannot be seen that way. */
static int squeeze_to(const sana_tensor *t, int nd, sana_tensor *out) {
  int skip = t->nd - nd;
  if (skip < 0) return 0;
  for (int i = 0; i < skip; i++)
    if (t->ne[i] != 1) return 0;
  *out = sana_tensor_reshape(t, nd, t->ne + skip);
  return out->nd == nd;
}

static int host_to_f32(float *dst, const sana_tensor *src) {
  int64_t n = sana_numel(src);
  for (int64_t i = 0; i < n; i++) {
    switch (src->dtype) {
    case SANA_F32: dst[i] = ((const float *)src->data)[i]; break;
    case SANA_F64: dst[i] = (float)((const double *)src->data)[i]; break;
    case SANA_BF16: dst[i] = sana_bf16_to_f32(((const uint16_t *)src->data)[i]); break;
    case SANA_F16: dst[i] = sana_f16_to_f32(((const uint16_t *)src->data)[i]); break;
    default: return 0;
    }
  }
  return 1;
}

sana_status sana_dit_run_stream(sana_dit *d, const sana_dit_run_io *io, const sana_dit_observer *obs, sana_error *err) {
  const sana_dit_config *cfg = &d->cfg;
  sana_tensor noise, source, text;
  if (!squeeze_to(io->noise, 4, &noise) || !squeeze_to(io->source, 4, &source) || !squeeze_to(io->text, 2, &text))
    return sana_err(err, SANA_ERR_SHAPE, "dit-run: noise/source must be [C, T, H, W] and text [L, C] (leading 1s allowed)");
  const int64_t Cin = noise.ne[0], t_all = noise.ne[1], hl = noise.ne[2], wl = noise.ne[3], S = hl * wl;
  if (Cin != cfg->in_ch || !sana_shape_eq(&source, 4, noise.ne))
    return sana_err(err, SANA_ERR_SHAPE, "dit-run: noise and source must both be [%d, T, H, W] (the model's channels)",
                    cfg->in_ch);
  if (text.ne[1] != cfg->cap_ch)
    return sana_err(err, SANA_ERR_SHAPE, "dit-run: text has %lld channels, the model takes %d", (long long)text.ne[1],
                    cfg->cap_ch);
  if (sana_numel(io->latents) != sana_numel(&noise) || io->latents->dtype != SANA_F32)
    return sana_err(err, SANA_ERR_ARG, "dit-run: latents buffer must be F32 like noise");
  int64_t sum = 0, max_later = 0;
  for (int c = 0; c < io->n_chunks; c++) {
    if (io->chunk_frames[c] <= 0) return sana_err(err, SANA_ERR_ARG, "dit-run: chunk %d has %lld frames", c, (long long)io->chunk_frames[c]);
    sum += io->chunk_frames[c];
    if (c && io->chunk_frames[c] > max_later) max_later = io->chunk_frames[c];
  }
  if (io->n_chunks <= 0 || sum != t_all)
    return sana_err(err, SANA_ERR_ARG, "dit-run: chunk frames sum to %lld, the latents have %lld frames", (long long)sum,
                    (long long)t_all);
  sana_backend *be = d->be;
  sana_dit_geometry geo = {hl, wl, text.ne[0], io->chunk_frames[0], max_later};
  sana_dit_state *st;
  sana_status s = sana_dit_state_new(&st, d, &geo, err);
  if (s) return s;
  float *tf = malloc(sizeof(float) * (size_t)sana_numel(&text));
  sana_tensor text32 = sana_tensor_make(SANA_F32, tf, text.nd, text.ne);
  if (!tf) s = sana_err(err, SANA_ERR_NOMEM, "dit-run: out of memory");
  else if (!host_to_f32(tf, &text)) s = sana_err(err, SANA_ERR_DTYPE, "dit-run: text must be F32, F64, BF16 or F16");
  else s = sana_dit_set_prompt(st, &text32, io->mask, err);
  free(tf);
  if (s) goto done;
  float *lat = io->latents->data, *srcf = malloc(sizeof(float) * (size_t)sana_numel(&noise));
  int64_t maxN = st->max_T * S;
  float *xt = malloc(sizeof(float) * (size_t)(maxN * Cin)), *st_ = malloc(sizeof(float) * (size_t)(maxN * Cin));
  float *xc = malloc(sizeof(float) * (size_t)(maxN * Cin));
  sana_tensor xb = {0}, sb = {0};
  if (!srcf || !xt || !st_ || !xc) s = sana_err(err, SANA_ERR_NOMEM, "dit-run: out of memory");
  if (!s) s = sana_backend_tensor(be, &xb, be->act_dtype, 2, (int64_t[]){maxN, Cin}, err);
  if (!s) s = sana_backend_tensor(be, &sb, be->act_dtype, 2, (int64_t[]){maxN, Cin}, err);
  if (!s && (!host_to_f32(lat, &noise) || !host_to_f32(srcf, &source)))
    s = sana_err(err, SANA_ERR_DTYPE, "dit-run: noise and source must be F32, F64, BF16 or F16");
  int64_t f0 = 0;
  for (int c = 0; !s && c < io->n_chunks; c++) {
    const int64_t T = io->chunk_frames[c], N = T * S;
    if (obs && obs->chunk_start) obs->chunk_start(obs->ctx, c, f0, T);
    sana_dit_gather_chunk(xt, lat, Cin, t_all, S, f0, T);
    sana_dit_gather_chunk(st_, srcf, Cin, t_all, S, f0, T);
    sana_tensor x = SANA_T(be->act_dtype, xb.data, N, Cin), src = SANA_T(be->act_dtype, sb.data, N, Cin);
    sana_tensor hx = SANA_T(SANA_F32, xt, N, Cin), hs = SANA_T(SANA_F32, st_, N, Cin);
    be->upload(be, &x, &hx);
    be->upload(be, &src, &hs);
    if ((s = sana_dit_sample_chunk(st, &x, &src, f0, T, io->steps ? io->steps : 4, c + 1 < io->n_chunks, obs, err))) break;
    be->download(be, &hx, &x);
    if ((s = be->sync(be, err))) break;
    sana_dit_scatter_chunk(lat, xt, Cin, t_all, S, f0, T);
    if (obs && obs->chunk_end) {
      sana_dit_scatter_chunk(xc, xt, Cin, T, S, 0, T);
      sana_tensor xr = SANA_T(SANA_F32, xc, Cin, T, hl, wl);
      obs->chunk_end(obs->ctx, c, st, &xr);
    }
    f0 += T;
  }
  if (xb.data) be->free(be, xb.data);
  if (sb.data) be->free(be, sb.data);
  free(srcf), free(xt), free(st_), free(xc);
done:
  sana_dit_state_free(st);
  return s;
}
