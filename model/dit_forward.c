/* One streaming DiT call (model-spec §4.10) and the per-chunk sampler (§3.5), against the
 * backend op table. Scratch tensors come from the state's arena, reset after each sub-layer. */
#include <math.h>

#include "model/dit_internal.h"

#define AT(...) SANA_ARENA_T(&st->arena, st->be->act_dtype, __VA_ARGS__)

static sana_tensor heads3(const sana_tensor *t, int64_t H, int64_t D) {
  return sana_tensor_reshape(t, 3, (int64_t[]){sana_numel(t) / (H * D), H, D});
}

/* blocks.{i}.attn, Gated DeltaNet (§4.5): u [N, C] -> out [N, C]. */
static void gdn_attn(sana_dit_state *st, const sana_dit_block *b, dit_block_cache *c, const sana_tensor *u,
                     sana_tensor *out, int save) {
  sana_backend *be = st->be;
  const int64_t N = st->T * st->S, C = st->d->cfg.hidden, H = st->d->cfg.heads, D = st->d->cfg.head_dim;
  sana_tensor cs = sana_tensor_rows(&st->rope_cos, 0, N), sn = sana_tensor_rows(&st->rope_sin, 0, N);
  sana_tensor q = AT(N, C), k = AT(N, C), qr = AT(N, H, D), kr = AT(N, H, D), v = AT(N, H, D);
  sana_tensor gate = AT(N, H, D), o = AT(N, H, D), beta = AT(N, H), ubar = AT(st->T, C), g = AT(st->T, H);
  if (st->arena.overflow) return;
  be->linear(be, &q, u, &b->attn.q, NULL, SANA_ACT_NONE);             /* q: [N, C] */
  be->rmsnorm(be, &q, &q, &b->attn.q_norm, 1e-5f, 0.0f);               /* RMS over all C */
  be->unary(be, &q, &q, SANA_ACT_RELU);                                /* q̂ */
  be->linear(be, &k, u, &b->attn.k, NULL, SANA_ACT_NONE);             /* k: [N, C] */
  be->rmsnorm(be, &k, &k, &b->attn.k_norm, 1e-5f, 0.0f);
  be->unary(be, &k, &k, SANA_ACT_RELU);
  be->binary(be, &k, &k, &st->kappa, SANA_MUL);                        /* k̂ = ReLU(..)·κ */
  be->copy(be, &qr, &q);
  be->rope(be, &qr, &cs, &sn, 1);                                      /* q̃: [N, H, D] */
  be->copy(be, &kr, &k);
  be->rope(be, &kr, &cs, &sn, 1);                                      /* k̃ */
  be->linear(be, &v, u, &b->attn.v, NULL, SANA_ACT_NONE);             /* v: [N, H, D] */
  be->linear(be, &beta, u, &b->attn.beta_w, &b->attn.beta_b, SANA_ACT_SIGMOID); /* β: [N, H] */
  be->dit->frame_mean(be, &ubar, u, st->T);                            /* ū: [T, C] */
  be->linear(be, &g, &ubar, &b->attn.gate_w, &b->attn.gate_b, SANA_ACT_NONE);  /* gate_proj: [T, H] */
  be->binary(be, &g, &g, &b->attn.dt_bias, SANA_ADD);
  be->unary(be, &g, &g, SANA_ACT_SOFTPLUS);
  be->binary(be, &g, &g, &b->attn.neg_exp_a_log, SANA_MUL);
  be->unary(be, &g, &g, SANA_ACT_EXP);                                 /* g = exp(−e^A·softplus(a + dt_bias)) */
  be->linear(be, &gate, u, &b->attn.output_gate_w, &b->attn.output_gate_b, SANA_ACT_NONE);
  q = heads3(&q, H, D), k = heads3(&k, H, D);
  be->dit->gdn_chunk(be, &o, &q, &qr, &k, &kr, &v, &beta, &g, &gate, &c->state_kv, &c->state_z, st->T, save);
  be->linear(be, out, &o, &b->attn.proj_w, &b->attn.proj_b, SANA_ACT_NONE);    /* proj: [N, C] */
}

/* blocks.{i}.attn, gated softmax over [sink ‖ previous ‖ current] (§4.6): u [N, C] -> out. */
static void softmax_attn(sana_dit_state *st, const sana_dit_block *b, dit_block_cache *c, const sana_tensor *u,
                         sana_tensor *out, int save) {
  sana_backend *be = st->be;
  const int64_t N = st->T * st->S, C = st->d->cfg.hidden, H = st->d->cfg.heads, D = st->d->cfg.head_dim;
  const int64_t n0 = c->n_sink + c->n_prev, m = n0 + N;
  sana_tensor cs = sana_tensor_rows(&st->rope_cos, 0, N), sn = sana_tensor_rows(&st->rope_sin, 0, N);
  sana_tensor q = AT(N, C), o = AT(N, H, D), gate = AT(N, H, D);
  if (st->arena.overflow) return;
  sana_tensor kc = sana_tensor_rows(&c->k, n0, N), vc = sana_tensor_rows(&c->v, n0, N); /* this chunk's rows */
  be->linear(be, &q, u, &b->attn.q, NULL, SANA_ACT_NONE);             /* q (centre tap): [N, C] */
  be->rmsnorm(be, &q, &q, &b->attn.q_norm, 1e-5f, 0.0f);
  q = heads3(&q, H, D);
  be->rope(be, &q, &cs, &sn, 1);                                       /* [N, H, D] */
  be->linear(be, &kc, u, &b->attn.k, NULL, SANA_ACT_NONE);
  be->rmsnorm(be, &kc, &kc, &b->attn.k_norm, 1e-5f, 0.0f);
  kc = heads3(&kc, H, D);
  be->rope(be, &kc, &cs, &sn, 1);                                      /* post-RoPE k, kept as cache */
  be->linear(be, &vc, u, &b->attn.v, NULL, SANA_ACT_NONE);
  sana_tensor K = sana_tensor_rows(&c->k, 0, m), V = sana_tensor_rows(&c->v, 0, m);
  K = heads3(&K, H, D), V = heads3(&V, H, D);                          /* [m, H, D] */
  sana_attn_params p = {.scale = 1.0f / sqrtf((float)D)};
  be->attention(be, &o, &q, &K, &V, &p);                               /* non-causal: [N, H, D] */
  be->linear(be, &gate, u, &b->attn.output_gate_w, &b->attn.output_gate_b, SANA_ACT_SILU);
  be->binary(be, &o, &o, &gate, SANA_MUL);
  be->linear(be, out, &o, &b->attn.proj_w, &b->attn.proj_b, SANA_ACT_NONE);
  if (!save) return;
  /* the window becomes sink + this chunk (§5.2); rows move only when a previous chunk is replaced */
  if (c->n_sink == 0) {
    c->n_sink = N;
    return;
  }
  /* moved in pieces no longer than the gap, so no copy overlaps itself when this chunk is
   * longer than the previous one */
  for (int64_t j = 0, gap = n0 - c->n_sink; gap > 0 && j < N; j += gap) {
    int64_t n = N - j < gap ? N - j : gap;
    sana_tensor kd = sana_tensor_rows(&c->k, c->n_sink + j, n), vd = sana_tensor_rows(&c->v, c->n_sink + j, n);
    sana_tensor ks = sana_tensor_rows(&c->k, n0 + j, n), vs = sana_tensor_rows(&c->v, n0 + j, n);
    be->copy(be, &kd, &ks);
    be->copy(be, &vd, &vs);
  }
  c->n_prev = N;
}

/* blocks.{i}.cross_attn (§4.7): x [N, C] -> out [N, C], keys/values from the prompt. */
static void cross_attn(sana_dit_state *st, const sana_dit_block *b, dit_block_cache *c, const sana_tensor *x,
                       sana_tensor *out) {
  sana_backend *be = st->be;
  const int64_t N = st->T * st->S, C = st->d->cfg.hidden, H = st->d->cfg.heads, D = st->d->cfg.head_dim;
  sana_tensor q = AT(N, C), o = AT(N, H, D);
  if (st->arena.overflow) return;
  be->linear(be, &q, x, &b->cross_attn.q_w, &b->cross_attn.q_b, SANA_ACT_NONE); /* q_linear: [N, C] */
  be->rmsnorm(be, &q, &q, &b->cross_attn.q_norm, 1e-6f, 0.0f);
  q = heads3(&q, H, D);
  sana_tensor K = heads3(&c->cross_k, H, D), V = heads3(&c->cross_v, H, D);       /* [L, H, D] */
  sana_attn_params p = {.scale = 1.0f / sqrtf((float)D), .bias = &st->mask_bias};
  be->attention(be, &o, &q, &K, &V, &p);
  be->linear(be, out, &o, &b->cross_attn.proj_w, &b->cross_attn.proj_b, SANA_ACT_NONE);
}

/* blocks.{i}.mlp, GLUMBConv + temporal conv with its one-frame cache (§4.8): u [N, C] -> out. */
static void glumbconv_temp(sana_dit_state *st, const sana_dit_block *b, dit_block_cache *c, const sana_tensor *u,
                           sana_tensor *out, int save) {
  sana_backend *be = st->be;
  const int64_t N = st->T * st->S, C = st->d->cfg.hidden, F = st->d->cfg.ffn;
  sana_tensor h = AT(N, 2 * F), hg = AT(N, F), s = AT(N, C);
  if (st->arena.overflow) return;
  be->linear(be, &h, u, &b->mlp.inverted_w, &b->mlp.inverted_b, SANA_ACT_NONE);   /* inverted_conv: [N, 2F] */
  /* its SiLU, depth_conv and the GLU a ⊙ SiLU(g) in one op: [N, F] */
  be->dit->dwconv_glu(be, &hg, &h, &b->mlp.depth_w, &b->mlp.depth_b, st->T, st->geo.hl, st->geo.wl);
  be->linear(be, &s, &hg, &b->mlp.point_w, NULL, SANA_ACT_NONE);                  /* point_conv: [N, C] */
  be->dit->temporal_conv(be, out, &s, &b->mlp.t_conv_w, c->has_tconv ? &c->tconv : NULL, st->T); /* s + t_conv */
  if (save) {
    sana_tensor last = sana_tensor_rows(&s, (st->T - 1) * st->S, st->S);
    be->copy(be, &c->tconv, &last);
    c->has_tconv = 1;
  }
}

sana_status sana_dit_forward(sana_dit_state *st, const sana_tensor *x, const sana_tensor *src, int tau, int save,
                             sana_tensor *v, const sana_dit_observer *obs, int step, sana_error *err) {
  sana_dit *d = st->d;
  sana_backend *be = st->be;
  const sana_dit_config *cfg = &d->cfg;
  const int64_t N = st->T * st->S, C = cfg->hidden, Cin = cfg->in_ch;
  if (!st->T) return sana_err(err, SANA_ERR_STATE, "dit: forward before sana_dit_chunk_begin");
  if (!st->has_prompt) return sana_err(err, SANA_ERR_STATE, "dit: forward before sana_dit_set_prompt");
  if (!be->dit || !be->dit->gdn_chunk) return sana_err(err, SANA_ERR_UNSUPPORTED, "dit: backend %s lacks the dit ops", be->name);
  if (sana_numel(x) != N * Cin || sana_numel(src) != N * Cin || sana_numel(v) != N * cfg->out_ch)
    return sana_err(err, SANA_ERR_SHAPE, "dit: x, src and v must hold [%lld, %lld] for a chunk of %lld frames",
                    (long long)N, (long long)Cin, (long long)st->T);
  for (int i = 0; i < cfg->depth; i++)
    if (d->blocks[i].softmax && st->bc[i].n_sink + st->bc[i].n_prev + N > st->cap_tokens)
      return sana_err(err, SANA_ERR_STATE, "dit: the softmax window of block %d is full", i);
  sana_arena *A = &st->arena;
  sana_arena_reset(A, 0);
  A->overflow = 0;
  sana_tensor xin = AT(N, 2 * Cin), h = AT(N, C), m_in = AT(N, C), sub = AT(N, C);
  float tf_host[4096];
  if (cfg->freq_dim > 4096) return sana_err(err, SANA_ERR_UNSUPPORTED, "dit: frequency embedding too wide");
  sana_tensor tf = AT(1, cfg->freq_dim), te1 = AT(1, C), te = AT(1, C), ts = AT(1, C), t0 = AT(6, C);
  sana_tensor mod = AT(6, C), fm = AT(2, C);
  if (A->overflow) return sana_err(err, SANA_ERR_STATE, "dit: activation arena too small");
  size_t mark = sana_arena_mark(A);

  be->dit->concat_cols(be, &xin, x, src);                                         /* [N, 2·Cin] */
  be->linear(be, &h, &xin, &d->x_embedder_w, &d->x_embedder_b, SANA_ACT_NONE);    /* x_embedder: [N, C] */
  sana_dit_timestep_freq(tf_host, cfg->freq_dim, tau);
  sana_tensor tfh = SANA_T(SANA_F32, tf_host, 1, cfg->freq_dim);
  be->upload(be, &tf, &tfh);                                                      /* [1, 256] */
  be->linear(be, &te1, &tf, &d->t_mlp0_w, &d->t_mlp0_b, SANA_ACT_SILU);           /* t_embedder.mlp.0 */
  be->linear(be, &te, &te1, &d->t_mlp2_w, &d->t_mlp2_b, SANA_ACT_NONE);           /* t_embedder.mlp.2: [1, C] */
  be->unary(be, &ts, &te, SANA_ACT_SILU);
  be->linear(be, &t0, &ts, &d->t_block_w, &d->t_block_b, SANA_ACT_NONE);          /* t_block.1: [6, C] */

  for (int i = 0; i < cfg->depth; i++) {
    const sana_dit_block *b = &d->blocks[i];
    dit_block_cache *c = &st->bc[i];
    be->binary(be, &mod, &b->scale_shift_table, &t0, SANA_ADD);                   /* [6, C] */
    sana_tensor r[6];
    for (int j = 0; j < 6; j++) r[j] = sana_tensor_rows(&mod, j, 1);              /* shift, scale, gate ×2 */
    be->layernorm_mod(be, &m_in, &h, &r[0], &r[1], 1e-6f);
    if (b->softmax) softmax_attn(st, b, c, &m_in, &sub, save);
    else gdn_attn(st, b, c, &m_in, &sub, save);
    sana_arena_reset(A, mark);
    be->gated_add(be, &h, &r[2], &sub);
    cross_attn(st, b, c, &h, &sub);
    sana_arena_reset(A, mark);
    be->gated_add(be, &h, NULL, &sub);
    be->layernorm_mod(be, &m_in, &h, &r[3], &r[4], 1e-6f);
    glumbconv_temp(st, b, c, &m_in, &sub, save);
    sana_arena_reset(A, mark);
    be->gated_add(be, &h, &r[5], &sub);
    if (A->overflow) return sana_err(err, SANA_ERR_STATE, "dit: activation arena too small (block %d)", i);
    if (obs && obs->block) {
      sana_status s = be->sync(be, err);
      if (s) return sana_err_prefix(err, "dit block %d: ", i);
      obs->block(obs->ctx, step, i, &h);
    }
  }
  be->binary(be, &fm, &d->final_table, &te, SANA_ADD);                            /* table + t: [2, C] */
  sana_tensor shift = sana_tensor_rows(&fm, 0, 1), scale = sana_tensor_rows(&fm, 1, 1);
  be->layernorm_mod(be, &m_in, &h, &shift, &scale, 1e-6f);
  be->linear(be, v, &m_in, &d->final_w, &d->final_b, SANA_ACT_NONE);              /* final_layer.linear: [N, Cin] */
  sana_status s = be->sync(be, err);
  return s ? sana_err_prefix(err, "dit forward: ") : SANA_OK;
}

sana_status sana_dit_sample_chunk(sana_dit_state *st, sana_tensor *x, const sana_tensor *src, int64_t f0, int64_t T,
                                  int steps, int cache_pass, const sana_dit_observer *obs, sana_error *err) {
  static const int timesteps[4] = {1000, 961, 893, 743};
  sana_backend *be = st->be;
  if (steps < 1 || steps > 4) return sana_err(err, SANA_ERR_ARG, "dit: %d sampler steps (1 to 4)", steps);
  sana_status s = sana_dit_chunk_begin(st, f0, T, err);
  if (s) return s;
  const int64_t N = T * st->S, Cin = st->d->cfg.in_ch;
  sana_tensor v = sana_tensor_rows(&st->vel, 0, N), dv = sana_tensor_rows(&st->tmp, 0, N);
  v = sana_tensor_reshape(&v, 2, (int64_t[]){N, Cin});
  for (int i = 0; i < steps; i++) {
    if ((s = sana_dit_forward(st, x, src, timesteps[i], 0, &v, obs, i, err))) return s;
    if (obs && obs->velocity) obs->velocity(obs->ctx, i, &v);
    be->binary(be, &dv, &v, &st->dt[i], SANA_MUL);  /* bf16(dt)·v */
    be->binary(be, x, x, &dv, SANA_ADD);            /* Euler: σ_i -> σ_{i+1} */
  }
  if (cache_pass && (s = sana_dit_forward(st, x, src, 0, 1, &v, NULL, 4, err))) return s;
  return be->sync(be, err);
}
