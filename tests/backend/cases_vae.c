/* Op-level cases for the vae family's ops (backend/ops_vae.h): the LTX-2 VAE's real shapes (128
 * channels at 176x320 with the 2 cached frames of a causal conv, the 1280x704 video patchified by
 * 4, the (un)shuffles between stages) and small odd ones that reach the padded tiles and both
 * spatial padding modes.
 *
 * Tolerances (NMSE): copies are exact; ops with one bf16 rounding of an fp32 result 1e-5 (≈ 1.3e-6
 * per rounding); the 3-D conv is a GEMM with K = 27·Ci accumulated in fp32, 2e-5 like linear
 * (through cuDNN the result is rounded to bf16 before the bias is added: two roundings).
 * The conv cases run whichever path the backend picks (cuDNN where built in); SANA_CUDNN=0
 * checks the backend's own kernel. */
#include <string.h>

#include "backend/ops_vae.h"
#include "tests/backend/backend_ops.h"

#define A(...) BO_T(BO_ACT, BO_RAND, 1.0f, __VA_ARGS__)
#define W(amp, ...) BO_T(BO_WEIGHT, BO_RAND, (amp), __VA_ARGS__)
#define OUT(...) BO_T(BO_ACT, BO_OUT, 0.0f, __VA_ARGS__)

/* t: x, w [Co, Ci, 3, 9] (the harness keeps 4 dims; viewed as [Co, Ci, 3, 3, 3]), b, y;
 * ip[0] = pad mode, ip[1] = 1 for no bias */
static int ap_conv3d(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->vae || !be->vae->conv3d) return 1;
  sana_tensor w = t[1];
  w.nd = 5;
  w.ne[3] = 3;
  w.ne[4] = 3;
  be->vae->conv3d(be, &t[3], &t[0], &w, c->ip[1] ? NULL : &t[2], (sana_pad_mode)c->ip[0]);
  return 0;
}
/* t: x, y; fp[0] = eps, ip[0] = act, ip[1] = 1: in place on t[1] */
static int ap_rms(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->vae || !be->vae->rms_norm_act) return 1;
  be->vae->rms_norm_act(be, &t[1], c->ip[1] ? &t[1] : &t[0], c->fp[0], (sana_act)c->ip[0]);
  return 0;
}
/* t: x, y; ip = st, sh, sw, group; fp[0] != 0: accumulate */
static int ap_s2d(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->vae || !be->vae->space_to_depth) return 1;
  be->vae->space_to_depth(be, &t[1], &t[0], c->ip[0], c->ip[1], c->ip[2], c->ip[3], c->fp[0] != 0);
  return 0;
}
/* t: x, y; ip = st, sh, sw, repeats; fp = trim, accumulate */
static int ap_d2s(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->vae || !be->vae->depth_to_space) return 1;
  be->vae->depth_to_space(be, &t[1], &t[0], c->ip[0], c->ip[1], c->ip[2], c->ip[3], (int)c->fp[0], c->fp[1] != 0);
  return 0;
}
/* t: x, y; ip = p, unpatch */
static int ap_patchify(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->vae || !be->vae->patchify) return 1;
  be->vae->patchify(be, &t[1], &t[0], c->ip[0], c->ip[1]);
  return 0;
}
/* t: x, y */
static int ap_transpose01(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->vae || !be->vae->transpose01) return 1;
  be->vae->transpose01(be, &t[1], &t[0]);
  return 0;
}
/* t: x, y (y may be x: ip[0] = 1 runs in place on t[1]); scale/shift made here, the same on
 * every backend */
static int ap_affine(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->vae || !be->vae->channel_affine) return 1;
  float scale[256], shift[256];
  int64_t C = t[0].ne[1];
  if (C > 256) return 1;
  for (int64_t i = 0; i < C; i++) scale[i] = 0.5f + 0.013f * (float)i, shift[i] = 0.25f - 0.007f * (float)i;
  be->vae->channel_affine(be, &t[1], c->ip[0] ? &t[1] : &t[0], scale, shift);
  return 0;
}
/* t: x, y (in place); fp = a, b */
static int ap_axpby(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->vae || !be->vae->axpby) return 1;
  be->vae->axpby(be, &t[1], &t[0], c->fp[0], c->fp[1]);
  return 0;
}

#define CONV(lbl, T, Ci, Co, H, Wd, pad, nobias)                                                          \
  {"vae.conv3d", lbl, 2e-5, 4,                                                                           \
   {A((T) + 2, Ci, H, Wd), W(0.03f, Co, Ci, 3, 9), W(0.1f, Co), OUT(T, Co, H, Wd)}, 1u << 3, 0,           \
   {pad, nobias}, {0}, ap_conv3d, 2.0 * 27 * (T) * (Ci) * (Co) * (H) * (Wd), 0}

static const bo_case vae_cases[] = {
    /* the encoder's blocks (zeros), 3 frames + 2 cached */
    CONV("48->128 176x320, 3 frames, zeros (enc conv_in)", 3, 48, 128, 176, 320, SANA_PAD_ZEROS, 0),
    CONV("128->128 176x320, 3 frames + 2 cached, zeros", 3, 128, 128, 176, 320, SANA_PAD_ZEROS, 0),
    CONV("256->256 88x160, 3 frames, zeros", 3, 256, 256, 88, 160, SANA_PAD_ZEROS, 0),
    CONV("512->512 88x160, 3 frames, zeros", 3, 512, 512, 88, 160, SANA_PAD_ZEROS, 0),
    CONV("1024->1024 44x80, 3 frames, zeros", 3, 1024, 1024, 44, 80, SANA_PAD_ZEROS, 0),
    CONV("2048->2048 22x40, 3 frames, zeros (enc mid)", 3, 2048, 2048, 22, 40, SANA_PAD_ZEROS, 0),
    CONV("2048->129 22x40, 3 frames, zeros (enc conv_out)", 3, 2048, 129, 22, 40, SANA_PAD_ZEROS, 0),
    /* the decoder's (reflect): upsampler convs and the resnets after them */
    CONV("1024->4096 22x40, 3 frames, reflect (dec up 0)", 3, 1024, 4096, 22, 40, SANA_PAD_REFLECT, 0),
    CONV("512->512 44x80, 5 frames, reflect", 5, 512, 512, 44, 80, SANA_PAD_REFLECT, 0),
    CONV("256->1024 88x160, 3 frames, reflect (dec up 2)", 3, 256, 1024, 88, 160, SANA_PAD_REFLECT, 0),
    CONV("128->128 176x320, 1 frame + 2 cached, reflect", 1, 128, 128, 176, 320, SANA_PAD_REFLECT, 0),
    CONV("128->48 176x320, 3 frames, reflect (dec conv_out)", 3, 128, 48, 176, 320, SANA_PAD_REFLECT, 0),
    /* small: partial 64x64 transpose tiles (even C and W), odd C or W (the scalar layout
     * passes), a bias-free conv, the smallest reflect */
    CONV("66->10 6x70, 2 frames, reflect", 2, 66, 10, 6, 70, SANA_PAD_REFLECT, 0),
    CONV("48->70 17x40, 1 frame, zeros, no bias", 1, 48, 70, 17, 40, SANA_PAD_ZEROS, 1),
    CONV("5->7 9x13, 2 frames, reflect", 2, 5, 7, 9, 13, SANA_PAD_REFLECT, 0),
    CONV("3->4 2x2, 1 frame, reflect", 1, 3, 4, 2, 2, SANA_PAD_REFLECT, 0),
    {"vae.rms_norm_act", "3x128x176x320 silu eps 1e-6", 1e-5, 2, {A(3, 128, 176, 320), OUT(3, 128, 176, 320)},
     1u << 1, 0, {SANA_ACT_SILU}, {1e-6f}, ap_rms, 0, 0},
    {"vae.rms_norm_act", "3x512x88x160 silu eps 1e-8 in place", 1e-5, 2, {A(3, 512, 88, 160), OUT(3, 512, 88, 160)},
     1u << 1, 1u << 1, {SANA_ACT_SILU, 1}, {1e-8f}, ap_rms, 0, 0},
    {"vae.rms_norm_act", "3x1024x44x80 silu eps 1e-8", 1e-5, 2, {A(3, 1024, 44, 80), OUT(3, 1024, 44, 80)},
     1u << 1, 0, {SANA_ACT_SILU}, {1e-8f}, ap_rms, 0, 0},
    {"vae.rms_norm_act", "2x6x4x24 silu eps 1e-8 (partial tile)", 1e-5, 2, {A(2, 6, 4, 24), OUT(2, 6, 4, 24)},
     1u << 1, 0, {SANA_ACT_SILU}, {1e-8f}, ap_rms, 0, 0},
    {"vae.rms_norm_act", "2x5x3x7 none eps 1e-8", 1e-5, 2, {A(2, 5, 3, 7), OUT(2, 5, 3, 7)}, 1u << 1, 0,
     {SANA_ACT_NONE}, {1e-8f}, ap_rms, 0, 0},
    {"vae.space_to_depth", "4x128x176x320 (2,2,2) group 4", 1e-5, 2, {A(4, 128, 176, 320), OUT(2, 256, 88, 160)},
     1u << 1, 0, {2, 2, 2, 4}, {0}, ap_s2d, 0, 0},
    {"vae.space_to_depth", "3x128x176x320 (1,2,2) group 2 (enc block 0)", 1e-5, 2,
     {A(3, 128, 176, 320), OUT(3, 256, 88, 160)}, 1u << 1, 0, {1, 2, 2, 2}, {0}, ap_s2d, 0, 0},
    {"vae.space_to_depth", "3x64x176x320 (1,2,2) accumulate", 1e-5, 2, {A(3, 64, 176, 320), OUT(3, 256, 88, 160)},
     1u << 1, 1u << 1, {1, 2, 2, 1}, {1}, ap_s2d, 0, 0},
    {"vae.space_to_depth", "4x256x88x160 (2,1,1) accumulate", 1e-5, 2, {A(4, 256, 88, 160), OUT(2, 512, 88, 160)},
     1u << 1, 1u << 1, {2, 1, 1, 1}, {1}, ap_s2d, 0, 0},
    {"vae.space_to_depth", "2x3x4x6 (2,2,2) accumulate", 1e-5, 2, {A(2, 3, 4, 6), OUT(1, 24, 2, 3)}, 1u << 1,
     1u << 1, {2, 2, 2, 1}, {1}, ap_s2d, 0, 0},
    {"vae.space_to_depth", "2x3x4x6 (1,2,2) group 2 accumulate", 1e-5, 2, {A(2, 3, 4, 6), OUT(2, 6, 2, 3)},
     1u << 1, 1u << 1, {1, 2, 2, 2}, {1}, ap_s2d, 0, 0},
    {"vae.depth_to_space", "2x1024x88x160 (2,2,2) trim 1", 0, 2, {A(2, 1024, 88, 160), OUT(3, 128, 176, 320)},
     1u << 1, 0, {2, 2, 2, 1}, {1, 0}, ap_d2s, 0, 0},
    {"vae.depth_to_space", "3x1024x22x40 (2,2,2) x4 trim 1 accumulate (dec up 0 residual)", 1e-5, 2,
     {A(3, 1024, 22, 40), OUT(5, 512, 44, 80)}, 1u << 1, 1u << 1, {2, 2, 2, 4}, {1, 1}, ap_d2s, 0, 0},
    {"vae.depth_to_space", "2x16x3x5 (2,2,2) x2 accumulate", 1e-5, 2, {A(2, 16, 3, 5), OUT(4, 4, 6, 10)}, 1u << 1,
     1u << 1, {2, 2, 2, 2}, {0, 1}, ap_d2s, 0, 0},
    {"vae.depth_to_space", "2x24x3x5 (2,2,1) x2 trim 1 accumulate", 1e-5, 2, {A(2, 24, 3, 5), OUT(3, 12, 6, 5)},
     1u << 1, 1u << 1, {2, 2, 1, 2}, {1, 1}, ap_d2s, 0, 0},
    {"vae.patchify", "3x3x704x1280 p 4", 0, 2, {A(3, 3, 704, 1280), OUT(3, 48, 176, 320)}, 1u << 1, 0, {4, 0},
     {0}, ap_patchify, 0, 0},
    {"vae.patchify", "unpatch 2x12x3x5 p 2", 0, 2, {A(2, 12, 3, 5), OUT(2, 3, 6, 10)}, 1u << 1, 0, {2, 1}, {0},
     ap_patchify, 0, 0},
    {"vae.transpose01", "3x9x704x1280 -> 9x3x704x1280", 0, 2, {A(3, 9, 704, 1280), OUT(9, 3, 704, 1280)}, 1u << 1,
     0, {0}, {0}, ap_transpose01, 0, 0},
    {"vae.transpose01", "5x3x7 -> 3x5x7", 0, 2, {A(5, 3, 7), OUT(3, 5, 7)}, 1u << 1, 0, {0}, {0}, ap_transpose01,
     0, 0},
    {"vae.channel_affine", "3x128x22x40", 1e-5, 2, {A(3, 128, 22, 40), OUT(3, 128, 22, 40)}, 1u << 1, 0, {0}, {0},
     ap_affine, 0, 0},
    {"vae.channel_affine", "2x5x3x3 in place", 1e-5, 2, {A(2, 5, 3, 3), OUT(2, 5, 3, 3)}, 1u << 1, 1u << 1, {1},
     {0}, ap_affine, 0, 0},
    {"vae.axpby", "9x3x704x1280 0.3, 0.7", 1e-5, 2, {A(9, 3, 704, 1280), OUT(9, 3, 704, 1280)}, 1u << 1, 1u << 1,
     {0}, {0.3f, 0.7f}, ap_axpby, 0, 0},
    {"vae.axpby", "7x5 -1.5, 0.25", 1e-5, 2, {A(7, 5), OUT(7, 5)}, 1u << 1, 1u << 1, {0}, {-1.5f, 0.25f},
     ap_axpby, 0, 0},
};

const bo_family bo_vae_family = {"vae", vae_cases, BO_COUNT(vae_cases)};
