/* Op-level cases for the core ops of backend/backend.h. Shapes: the real ones (a DiT chunk of
 * 2640 tokens × 2240 channels, 20 heads × 112 over 9680 keys of sink + previous + current
 * chunk, cross-attention over 300 text tokens, Gemma-2's 8 heads × 256 on 4 kv heads) plus
 * small odd ones that take the kernels' unaligned and padded paths.
 *
 * Tolerances (NMSE): one bf16 rounding of the output alone gives about (2⁻⁹)²/3 ≈ 1.3e-6, so
 * elementwise ops and norms get 1e-5; GEMMs (fp32 accumulation) 2e-5; attention, whose P is
 * rounded to bf16 before P·V, 5e-5. */
#include <math.h>

#include "tests/backend/backend_ops.h"

#define A(...) BO_T(BO_ACT, BO_RAND, 1.0f, __VA_ARGS__)
#define AMP(amp, ...) BO_T(BO_ACT, BO_RAND, (amp), __VA_ARGS__)
#define W(amp, ...) BO_T(BO_WEIGHT, BO_RAND, (amp), __VA_ARGS__)
#define OUT(...) BO_T(BO_ACT, BO_OUT, 0.0f, __VA_ARGS__)
#define F32(...) BO_T(BO_F32, BO_RAND, 1.0f, __VA_ARGS__)

#define TOL_EW 1e-5
#define TOL_GEMM 2e-5
#define TOL_ATTN 5e-5

/* ---- apply functions ---- */

/* t: x, w, y[, b]; ip[0] = act */
static int ap_linear(sana_backend *be, const bo_case *c, sana_tensor *t) {
  be->linear(be, &t[2], &t[0], &t[1], c->nt > 3 ? &t[3] : NULL, (sana_act)c->ip[0]);
  return 0;
}
/* t: x, y; ip[0] = act */
static int ap_unary(sana_backend *be, const bo_case *c, sana_tensor *t) {
  be->unary(be, &t[1], &t[0], (sana_act)c->ip[0]);
  return 0;
}
/* t: a, b, y; ip[0] = op */
static int ap_binary(sana_backend *be, const bo_case *c, sana_tensor *t) {
  be->binary(be, &t[2], &t[0], &t[1], (sana_binop)c->ip[0]);
  return 0;
}
/* t: x (in place), y[, g] */
static int ap_gated_add(sana_backend *be, const bo_case *c, sana_tensor *t) {
  be->gated_add(be, &t[0], c->nt > 2 ? &t[2] : NULL, &t[1]);
  return 0;
}
/* t: x, y[, shift, scale]; fp[0] = eps */
static int ap_layernorm_mod(sana_backend *be, const bo_case *c, sana_tensor *t) {
  be->layernorm_mod(be, &t[1], &t[0], c->nt > 2 ? &t[2] : NULL, c->nt > 3 ? &t[3] : NULL, c->fp[0]);
  return 0;
}
/* t: x, y[, w]; fp[0] = eps, fp[1] = w_offset */
static int ap_rmsnorm(sana_backend *be, const bo_case *c, sana_tensor *t) {
  be->rmsnorm(be, &t[1], &t[0], c->nt > 2 ? &t[2] : NULL, c->fp[0], c->fp[1]);
  return 0;
}
/* t: x (in place), cos, sin; ip[0] = interleaved */
static int ap_rope(sana_backend *be, const bo_case *c, sana_tensor *t) {
  be->rope(be, &t[0], &t[1], &t[2], c->ip[0]);
  return 0;
}
/* t: q, k, v, o[, bias]; fp[0] = scale, fp[1] = softcap; ip[0] = causal, ip[1] = window */
static int ap_attention(sana_backend *be, const bo_case *c, sana_tensor *t) {
  sana_attn_params p = {.scale = c->fp[0], .softcap = c->fp[1], .bias = c->nt > 4 ? &t[4] : NULL,
                        .causal = c->ip[0], .window = c->ip[1]};
  be->attention(be, &t[3], &t[0], &t[1], &t[2], &p);
  return 0;
}
/* t: x (F32 input), y (act dtype): the dtype conversion of copy */
static int ap_copy(sana_backend *be, const bo_case *c, sana_tensor *t) {
  be->copy(be, &t[1], &t[0]);
  return 0;
}

/* ---- cases ---- */

#define LINEAR(lbl, M, K, N, act, bias)                                                        \
  {"linear", lbl, TOL_GEMM, (bias) ? 4 : 3,                                                   \
   {A(M, K), W(1.0f / 16, N, K), OUT(M, N), W(0.5f, N)}, 1u << 2, 0, {act}, {0},              \
   ap_linear, 2.0 * (M) * (K) * (N), 0}
#define UNARY(lbl, amp, act, ...)                                                              \
  {"unary", lbl, TOL_EW, 2, {AMP(amp, __VA_ARGS__), OUT(__VA_ARGS__)}, 1u << 1, 0, {act}, {0}, \
   ap_unary, 0, 0}
#define ATTN(lbl, n, m, H, Hk, D, Dv, scale, cap, causal, window, qkamp)                       \
  {"attention", lbl, TOL_ATTN, 4,                                                              \
   {AMP(qkamp, n, H, D), AMP(qkamp, m, Hk, D), A(m, Hk, Dv), OUT(n, H, Dv)}, 1u << 3, 0,       \
   {causal, window}, {scale, cap}, ap_attention, 2.0 * (n) * (m) * (H) * ((D) + (Dv)), 0}

static const bo_case core_cases[] = {
    /* linear: the DiT's projections (q/k/v/o 2240², the inverted conv 2240 → 13440 with
     * bias + SiLU, the point conv 6720 → 2240), Gemma's MLP (GELU-tanh), odd sizes */
    LINEAR("2640x2240 -> 2240", 2640, 2240, 2240, SANA_ACT_NONE, 0),
    LINEAR("2640x2240 -> 2240 bias", 2640, 2240, 2240, SANA_ACT_NONE, 1),
    LINEAR("2640x2240 -> 13440 bias silu", 2640, 2240, 13440, SANA_ACT_SILU, 1),
    LINEAR("2640x6720 -> 2240 bias", 2640, 6720, 2240, SANA_ACT_NONE, 1),
    LINEAR("300x2304 -> 9216 gelu", 300, 2304, 9216, SANA_ACT_GELU_TANH, 0),
    LINEAR("300x2304 -> 2240 bias gelu", 300, 2304, 2240, SANA_ACT_GELU_TANH, 1),
    LINEAR("37x24 -> 40 bias relu", 37, 24, 40, SANA_ACT_RELU, 1),
    LINEAR("5x13 -> 7 bias sigmoid (unaligned)", 5, 13, 7, SANA_ACT_SIGMOID, 1),
    LINEAR("1x2240 -> 13440 bias silu", 1, 2240, 13440, SANA_ACT_SILU, 1),

    /* unary */
    UNARY("2640x2240 silu", 4.0f, SANA_ACT_SILU, 2640, 2240),
    UNARY("2640x2240 gelu_tanh", 4.0f, SANA_ACT_GELU_TANH, 2640, 2240),
    UNARY("2640x2240 relu", 4.0f, SANA_ACT_RELU, 2640, 2240),
    UNARY("2640x2240 sigmoid", 4.0f, SANA_ACT_SIGMOID, 2640, 2240),
    UNARY("2640x2240 softplus", 30.0f, SANA_ACT_SOFTPLUS, 2640, 2240),
    UNARY("2640x2240 exp", 4.0f, SANA_ACT_EXP, 2640, 2240),
    UNARY("7x13 silu (unaligned)", 4.0f, SANA_ACT_SILU, 7, 13),

    /* binary with the repeat rule */
    {"binary", "2640x2240 + [2240]", TOL_EW, 3, {A(2640, 2240), A(2240), OUT(2640, 2240)}, 1u << 2, 0,
     {SANA_ADD}, {0}, ap_binary, 0, 0},
    {"binary", "2640x2240 - 2640x2240", TOL_EW, 3, {A(2640, 2240), A(2640, 2240), OUT(2640, 2240)}, 1u << 2,
     0, {SANA_SUB}, {0}, ap_binary, 0, 0},
    {"binary", "2640x2240 * [2240]", TOL_EW, 3, {A(2640, 2240), A(2240), OUT(2640, 2240)}, 1u << 2, 0,
     {SANA_MUL}, {0}, ap_binary, 0, 0},
    {"binary", "2640x2240 / [2240] (positive)", TOL_EW, 3,
     {A(2640, 2240), BO_T(BO_ACT, BO_POS, 1.0f, 2240), OUT(2640, 2240)}, 1u << 2, 0, {SANA_DIV}, {0},
     ap_binary, 0, 0},
    {"binary", "6x15 * [15] (unaligned)", TOL_EW, 3, {A(6, 15), A(15), OUT(6, 15)}, 1u << 2, 0,
     {SANA_MUL}, {0}, ap_binary, 0, 0},
    {"binary", "6x16 + [1]", TOL_EW, 3, {A(6, 16), A(1), OUT(6, 16)}, 1u << 2, 0, {SANA_ADD}, {0},
     ap_binary, 0, 0},

    /* gated residual add */
    {"gated_add", "2640x2240 += g[2240] * y", TOL_EW, 3, {A(2640, 2240), A(2640, 2240), A(2240)}, 1u << 0,
     1u << 0, {0}, {0}, ap_gated_add, 0, 0},
    {"gated_add", "2640x2240 += y", TOL_EW, 2, {A(2640, 2240), A(2640, 2240)}, 1u << 0, 1u << 0, {0}, {0},
     ap_gated_add, 0, 0},
    {"gated_add", "9x13 += g[13] * y (unaligned)", TOL_EW, 3, {A(9, 13), A(9, 13), A(13)}, 1u << 0,
     1u << 0, {0}, {0}, ap_gated_add, 0, 0},

    /* norms */
    {"layernorm_mod", "2640x2240 shift scale eps 1e-6", TOL_EW, 4,
     {AMP(3.0f, 2640, 2240), OUT(2640, 2240), A(2240), A(2240)}, 1u << 1, 0, {0}, {1e-6f},
     ap_layernorm_mod, 0, 0},
    {"layernorm_mod", "2640x2240 plain", TOL_EW, 2, {AMP(3.0f, 2640, 2240), OUT(2640, 2240)}, 1u << 1, 0,
     {0}, {1e-6f}, ap_layernorm_mod, 0, 0},
    {"layernorm_mod", "3x100 shift scale (unaligned)", TOL_EW, 4,
     {AMP(3.0f, 3, 100), OUT(3, 100), A(100), A(100)}, 1u << 1, 0, {0}, {1e-6f}, ap_layernorm_mod, 0, 0},
    {"rmsnorm", "2640x2240 w eps 1e-5 (SANA q/k norm)", TOL_EW, 3,
     {AMP(3.0f, 2640, 2240), OUT(2640, 2240), W(1.0f, 2240)}, 1u << 1, 0, {0}, {1e-5f, 0.0f},
     ap_rmsnorm, 0, 0},
    {"rmsnorm", "300x2304 1+w eps 1e-6 (Gemma)", TOL_EW, 3,
     {AMP(3.0f, 300, 2304), OUT(300, 2304), W(1.0f, 2304)}, 1u << 1, 0, {0}, {1e-6f, 1.0f},
     ap_rmsnorm, 0, 0},
    {"rmsnorm", "4x50 no weight (unaligned)", TOL_EW, 2, {AMP(3.0f, 4, 50), OUT(4, 50)}, 1u << 1, 0, {0},
     {1e-5f, 0.0f}, ap_rmsnorm, 0, 0},

    /* rope */
    {"rope", "2640x20x112 interleaved", TOL_EW, 3, {A(2640, 20, 112), F32(2640, 56), F32(2640, 56)}, 1u << 0,
     1u << 0, {1}, {0}, ap_rope, 0, 0},
    {"rope", "300x8x256 rotate_half", TOL_EW, 3, {A(300, 8, 256), F32(300, 128), F32(300, 128)}, 1u << 0,
     1u << 0, {0}, {0}, ap_rope, 0, 0},
    {"rope", "5x3x6 rotate_half", TOL_EW, 3, {A(5, 3, 6), F32(5, 3), F32(5, 3)}, 1u << 0, 1u << 0, {0}, {0},
     ap_rope, 0, 0},

    /* copy with dtype conversion (F32 → act dtype) */
    {"copy", "2640x2240 f32 -> act", TOL_EW, 2, {F32(2640, 2240), OUT(2640, 2240)}, 1u << 1, 0, {0}, {0},
     ap_copy, 0, 0},

    /* attention */
    ATTN("SANA self 2640q x 9680k, 20x112", 2640, 9680, 20, 20, 112, 112, 0.0944911f, 0.0f, 0, 0, 2.0f),
    {"attention", "SANA cross 2640q x 300k, 20x112, mask bias", TOL_ATTN, 5,
     {AMP(2.0f, 2640, 20, 112), AMP(2.0f, 300, 20, 112), A(300, 20, 112), OUT(2640, 20, 112),
      BO_T(BO_ACT, BO_MASK, 10000.0f, 300)},
     1u << 3, 0, {0, 0}, {0.0944911f, 0.0f}, ap_attention, 2.0 * 2640 * 300 * 20 * 224, 0},
    ATTN("Gemma 300 causal, 8x256 on 4 kv, softcap 50", 300, 300, 8, 4, 256, 256, 0.0625f, 50.0f, 1, 0,
         8.0f),
    ATTN("Gemma 300 causal window 64, 8x256 on 4 kv, softcap 50", 300, 300, 8, 4, 256, 256, 0.0625f,
         50.0f, 1, 64, 8.0f),
    ATTN("37q x 53k causal, 4x32 on 2 kv", 37, 53, 4, 2, 32, 32, 0.1767767f, 0.0f, 1, 0, 2.0f),
    ATTN("70q x 130k, 3x40 (padded to 64)", 70, 130, 3, 3, 40, 40, 0.1581139f, 0.0f, 0, 0, 2.0f),
    ATTN("65q x 65k, 2x64 dv 32", 65, 65, 2, 2, 64, 32, 0.125f, 0.0f, 0, 0, 2.0f),
    ATTN("33q x 47k causal window 5 softcap 3, 4x20 on 1 kv (fallback)", 33, 47, 4, 1, 20, 20, 0.2236068f,
         3.0f, 1, 5, 2.0f),

    /* the measured cuBLAS peak the DiT's GEMMs are compared with (--perf only) */
    {"linear", "peak 8192x8192 -> 8192", TOL_GEMM, 3,
     {A(8192, 8192), W(1.0f / 64, 8192, 8192), OUT(8192, 8192)}, 1u << 2, 0, {SANA_ACT_NONE}, {0},
     ap_linear, 2.0 * 8192 * 8192 * 8192, BO_PERF_ONLY},
};

const bo_family bo_core_family = {"core", core_cases, BO_COUNT(core_cases)};
