/* The dit model family's backend ops (see backend/backend.h for the conventions).
 * Activations are token-major [N, C] with N = T·S tokens, frame-major (n = t·S + s), S = Hl·Wl
 * tokens per frame ordered (h, w). The math of each op is model-spec §4.5 (GDN) and §4.8 (FFN). */
#ifndef SANA_BACKEND_OPS_DIT_H
#define SANA_BACKEND_OPS_DIT_H

#include "backend/backend.h"

struct sana_dit_ops {
  /* y[M, A+B] = [a[M, A] ‖ b[M, B]] along columns (patch-embed input [noisy ‖ source]). */
  void (*concat_cols)(sana_backend *be, sana_tensor *y, const sana_tensor *a, const sana_tensor *b);

  /* y[T, C] = mean over each frame's S tokens of x[T·S, C]. */
  void (*frame_mean)(sana_backend *be, sana_tensor *y, const sana_tensor *x, int64_t T);

  /* Depthwise 3×3 conv with zero padding 1, per frame, channels last:
   * y[T·Hl·Wl, Ch] = b[Ch] + Σ_{dy,dx} w[Ch, 1, 3, 3] · x[t, h+dy−1, w+dx−1, :]. */
  void (*dwconv3x3)(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                    const sana_tensor *b, int64_t T, int64_t Hl, int64_t Wl);

  /* y[M, F] = x[:, :F] ⊙ SiLU(x[:, F:]) for x[M, 2F]. */
  void (*glu)(sana_backend *be, sana_tensor *y, const sana_tensor *x);

  /* The FFN's temporal part: y[T·S, C] = s + Σ_k s_in[t−1+k] · w[:, :, k, 0]ᵀ over frames, with
   * w [C, C, 3, 1] as in the checkpoint, s_in[−1] = prev [S, C] (zero when prev is NULL) and a
   * zero frame after the last. y must not alias s. */
  void (*temporal_conv)(sana_backend *be, sana_tensor *y, const sana_tensor *s, const sana_tensor *w,
                        const sana_tensor *prev, int64_t T);

  /* The frame-wise bidirectional Gated DeltaNet core for one chunk of T frames, H heads of dim D:
   *   q_hat, k_hat  [N, H, D]  features after ReLU (k_hat includes the key scale κ);
   *   q_rot, k_rot  [N, H, D]  the same after RoPE;
   *   v             [N, H, D];  beta [N, H];  g [T, H] (per-frame decay);
   *   gate          [N, H, D]  output-gate pre-activation (SiLU is applied here);
   *   state_kv      [H, D, D]  F32, value × key (upstream's state_kv), read as the state before
   *                            the chunk; state_z [H, D] F32 likewise;
   *   o             [N, H, D]  = num / (den + 1e-8) ⊙ SiLU(gate), with
   *                            num = q_rot·(Ŝ_t + R̂_t)ᵀ, den = q_hat·(z_t + r_t).
   * Per frame: P = Σ β k_rot k_rotᵀ, Â = Σ β v k_rotᵀ, Pz = Σ β k_hat k_hatᵀ, b = Σ β k_hat;
   * forward Ŝ_t = g_t (Ŝ_{t−1} − Ŝ_{t−1} P_t) + Â_t, z_t = g_t (z_{t−1} − Pz_t z_{t−1}) + b_t;
   * reverse from zero with the frames after t. When save, state_kv / state_z receive Ŝ_{T−1},
   * z_{T−1} (forward scan only). */
  void (*gdn_chunk)(sana_backend *be, sana_tensor *o, const sana_tensor *q_hat, const sana_tensor *q_rot,
                    const sana_tensor *k_hat, const sana_tensor *k_rot, const sana_tensor *v,
                    const sana_tensor *beta, const sana_tensor *g, const sana_tensor *gate,
                    sana_tensor *state_kv, sana_tensor *state_z, int64_t T, int save);

  /* GLUMBConv's depthwise stage in one op: y[N, F] = a ⊙ SiLU(g), [a ‖ g] = dwconv3x3(SiLU(x))
   * for x [N, 2F] (the inverted conv before its SiLU), w [2F, 1, 3, 3], b [2F] (or NULL). The
   * same as unary SiLU, dwconv3x3 and glu in a row, without the two [N, 2F] intermediates. */
  void (*dwconv_glu)(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                     const sana_tensor *b, int64_t T, int64_t Hl, int64_t Wl);
};

#endif
