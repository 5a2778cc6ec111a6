/* Op-level cases for the dit family's ops (backend/ops_dit.h): the real shapes (a 3-frame chunk
 * of 22×40 tokens, C = 2240, GLU width 6720, 20 heads × 112) and small odd ones.
 *
 * Tolerances (NMSE): layout ops are exact; elementwise and the depthwise conv 1e-5 (one bf16
 * rounding of the output ≈ 1.3e-6); the temporal conv is three GEMMs (2e-5); the GDN core keeps
 * bf16 operands with fp32 accumulation and a bf16 num/den before the division upstream, 2e-4. */
#include <math.h>

#include "backend/ops_dit.h"
#include "tests/backend/backend_ops.h"

#define A(...) BO_T(BO_ACT, BO_RAND, 1.0f, __VA_ARGS__)
#define POS(amp, ...) BO_T(BO_ACT, BO_POS, (amp), __VA_ARGS__)
#define W(amp, ...) BO_T(BO_WEIGHT, BO_RAND, (amp), __VA_ARGS__)
#define OUT(...) BO_T(BO_ACT, BO_OUT, 0.0f, __VA_ARGS__)
#define STATE(amp, ...) BO_T(BO_F32, BO_POS, (amp), __VA_ARGS__)

/* t: a, b, y */
static int ap_concat(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->dit || !be->dit->concat_cols) return 1;
  be->dit->concat_cols(be, &t[2], &t[0], &t[1]);
  return 0;
}
/* t: x, y; ip[0] = T */
static int ap_frame_mean(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->dit || !be->dit->frame_mean) return 1;
  be->dit->frame_mean(be, &t[1], &t[0], c->ip[0]);
  return 0;
}
/* t: x, w, b, y; ip = T, Hl, Wl */
static int ap_dwconv(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->dit || !be->dit->dwconv3x3) return 1;
  be->dit->dwconv3x3(be, &t[3], &t[0], &t[1], &t[2], c->ip[0], c->ip[1], c->ip[2]);
  return 0;
}
/* t: x, w, b, y (or x, w, y: no bias); ip = T, Hl, Wl */
static int ap_dwconv_glu(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->dit || !be->dit->dwconv_glu) return 1;
  be->dit->dwconv_glu(be, &t[c->nt - 1], &t[0], &t[1], c->nt > 3 ? &t[2] : NULL, c->ip[0], c->ip[1], c->ip[2]);
  return 0;
}
/* t: x, y */
static int ap_glu(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->dit || !be->dit->glu) return 1;
  be->dit->glu(be, &t[1], &t[0]);
  return 0;
}
/* t: s, w, y[, prev]; ip[0] = T */
static int ap_tconv(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->dit || !be->dit->temporal_conv) return 1;
  be->dit->temporal_conv(be, &t[2], &t[0], &t[1], c->nt > 3 ? &t[3] : NULL, c->ip[0]);
  return 0;
}
/* t: o, q_hat, q_rot, k_hat, k_rot, v, beta, g, gate, state_kv, state_z; ip[0] = T, ip[1] = save */
static int ap_gdn(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->dit || !be->dit->gdn_chunk) return 1;
  be->dit->gdn_chunk(be, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7], &t[8], &t[9], &t[10], c->ip[0],
                     c->ip[1]);
  return 0;
}

#define TCONV(lbl, T, S, C, prev)                                                                          \
  {"dit.temporal_conv", lbl, 2e-5, (prev) ? 4 : 3, {A((T) * (S), C), W(0.05f, C, C, 3, 1), OUT((T) * (S), C), \
   A(S, C)}, 1u << 2, 0, {T}, {0}, ap_tconv, 2.0 * 3 * (T) * (S) * (C) * (C), 0}
/* k̂ = ReLU(·)·κ with κ = 1/√(D·S), as in the model: Pz = Σ β k̂ k̂ᵀ then has eigenvalues below 1
 * and the z scan (z ← g(z − Pz z) + b) contracts. A k̂ several times larger (0.05 at the real
 * shape) makes I − Pz expand by ~14 per frame with alternating sign, den = q̂·(z + r) cancels
 * near zero for some tokens, and no bf16-operand kernel (upstream's included) can match the
 * reference there. The states start positive so den stays away from zero. */
#define KHAT(T, S, D) (1.5f / sqrtf((float)(D) * (float)(S)))
#define GDN(lbl, T, S, H, D, save)                                                                         \
  {"dit.gdn_chunk", lbl, 2e-4, 11,                                                                         \
   {OUT((T) * (S), H, D), POS(1.0f, (T) * (S), H, D), A((T) * (S), H, D), POS(KHAT(T, S, D), (T) * (S), H, D), \
    BO_T(BO_ACT, BO_RAND, 0.05f, (T) * (S), H, D), A((T) * (S), H, D), POS(0.5f, (T) * (S), H),           \
    POS(0.5f, T, H), A((T) * (S), H, D), STATE(0.1f, H, D, D), STATE(0.5f, H, D)},                        \
   (save) ? (1u << 0 | 1u << 9 | 1u << 10) : 1u << 0, 0, {T, save}, {0}, ap_gdn,                          \
   2.0 * (T) * (S) * (H) * (D) * (D) * 5, 0}

static const bo_case dit_cases[] = {
    {"dit.concat_cols", "2640x128 | 2640x128", 0, 3, {A(2640, 128), A(2640, 128), OUT(2640, 256)}, 1u << 2, 0,
     {0}, {0}, ap_concat, 0, 0},
    {"dit.concat_cols", "7x3 | 7x5", 0, 3, {A(7, 3), A(7, 5), OUT(7, 8)}, 1u << 2, 0, {0}, {0}, ap_concat, 0, 0},
    {"dit.frame_mean", "3x880x2240", 1e-5, 2, {A(2640, 2240), OUT(3, 2240)}, 1u << 1, 0, {3}, {0},
     ap_frame_mean, 0, 0},
    {"dit.frame_mean", "2x6x5", 1e-5, 2, {A(12, 5), OUT(2, 5)}, 1u << 1, 0, {2}, {0}, ap_frame_mean, 0, 0},
    {"dit.dwconv3x3", "3x22x40x13440", 1e-5, 4,
     {A(2640, 13440), W(0.3f, 13440, 1, 3, 3), W(0.1f, 13440), OUT(2640, 13440)}, 1u << 3, 0, {3, 22, 40}, {0},
     ap_dwconv, 2.0 * 9 * 2640 * 13440, 0},
    {"dit.dwconv3x3", "2x4x11x24 (partial tiles)", 1e-5, 4,
     {A(88, 24), W(0.3f, 24, 1, 3, 3), W(0.1f, 24), OUT(88, 24)}, 1u << 3, 0, {2, 4, 11}, {0}, ap_dwconv, 0, 0},
    {"dit.dwconv3x3", "2x3x5x7", 1e-5, 4, {A(30, 7), W(0.3f, 7, 1, 3, 3), W(0.1f, 7), OUT(30, 7)}, 1u << 3, 0,
     {2, 3, 5}, {0}, ap_dwconv, 0, 0},
    {"dit.dwconv_glu", "3x22x40x13440 -> 6720", 1e-5, 4,
     {A(2640, 13440), W(0.3f, 13440, 1, 3, 3), W(0.1f, 13440), OUT(2640, 6720)}, 1u << 3, 0, {3, 22, 40}, {0},
     ap_dwconv_glu, 2.0 * 9 * 2640 * 13440, 0},
    {"dit.dwconv_glu", "2x3x5x14 -> 7", 1e-5, 4, {A(30, 14), W(0.3f, 14, 1, 3, 3), W(0.1f, 14), OUT(30, 7)}, 1u << 3,
     0, {2, 3, 5}, {0}, ap_dwconv_glu, 0, 0},
    {"dit.dwconv_glu", "1x2x9x16 -> 8 no bias", 1e-5, 3, {A(18, 16), W(0.3f, 16, 1, 3, 3), OUT(18, 8)}, 1u << 2, 0,
     {1, 2, 9}, {0}, ap_dwconv_glu, 0, 0},
    {"dit.glu", "2640x13440", 1e-5, 2, {A(2640, 13440), OUT(2640, 6720)}, 1u << 1, 0, {0}, {0}, ap_glu, 0, 0},
    {"dit.glu", "5x14", 1e-5, 2, {A(5, 14), OUT(5, 7)}, 1u << 1, 0, {0}, {0}, ap_glu, 0, 0},
    TCONV("3x880x2240 with cached frame", 3, 880, 2240, 1),
    TCONV("5x880x2240 first chunk", 5, 880, 2240, 0),
    TCONV("3x6x5 with cached frame", 3, 6, 5, 1),
    TCONV("1x6x5", 1, 6, 5, 0),
    GDN("3x880 20x112 read", 3, 880, 20, 112, 0),
    GDN("5x880 20x112 save", 5, 880, 20, 112, 1),
    GDN("4x70 3x40 save", 4, 70, 3, 40, 1),  /* head dim padded to 48 in the products */
    GDN("2x1100 2x16 read", 2, 1100, 2, 16, 0), /* more tokens than one staged chunk of β */
    GDN("3x33 2x20 save", 3, 33, 2, 20, 1),  /* D % 8 != 0: the scalar loads */
    GDN("3x10 2x6 save", 3, 10, 2, 6, 1),
    GDN("1x7 3x4 read", 1, 7, 3, 4, 0),
};

const bo_family bo_dit_family = {"dit", dit_cases, BO_COUNT(dit_cases)};
