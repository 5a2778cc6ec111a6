/* The vae model family's backend ops (see backend/backend.h for the conventions).
 *
 * Layout: the VAE keeps its activations frame-major, [T, C, H, W] (batch 1), so that temporal
 * padding, the per-conv caches and chunk concatenation are copies of whole frames (rows of
 * dimension 0). The PyTorch [C, T, H, W] order appears only at the model's inputs and outputs
 * (transpose01). Channel orders of the (un)shuffles are those of LTX-2 (model-spec §7). */
#ifndef SANA_BACKEND_OPS_VAE_H
#define SANA_BACKEND_OPS_VAE_H

#include "backend/backend.h"

typedef enum sana_pad_mode { SANA_PAD_ZEROS, SANA_PAD_REFLECT } sana_pad_mode;

struct sana_vae_ops {
  /* y[T, Co, H, W] = Σ_{kt,kh,kw} w[Co, Ci, kt, kh, kw] · x[t+kt, Ci, h+kh−1, w+kw−1] + b[Co]:
   * a 3x3x3 conv, stride 1; x[T+2, Ci, H, W] comes temporally padded by the caller; spatially
   * it is padded by one pixel with zeros or by reflection (needs H, W >= 2). */
  void (*conv3d)(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                 const sana_tensor *b, sana_pad_mode pad);
  /* y[T, C, H, W] = act(x / sqrt(mean_C(x²) + eps)): PerChannelRMSNorm (per voxel, no weight)
   * fused with the activation. y may alias x. */
  void (*rms_norm_act)(sana_backend *be, sana_tensor *y, const sana_tensor *x, float eps, sana_act act);
  /* Space-to-depth with channel averaging: u = unshuffle(x[T, C, H, W]) with strides
   * (st, sh, sw) and channel ((c·st + it)·sh + ih)·sw + iw, then y[T/st, C·st·sh·sw/group, …]
   * = mean of each run of `group` consecutive channels of u. accumulate: y += instead of =. */
  void (*space_to_depth)(sana_backend *be, sana_tensor *y, const sana_tensor *x, int st, int sh, int sw,
                         int group, int accumulate);
  /* Depth-to-space: x[T, C·st·sh·sw, H, W], channel ((c·st + it)·sh + ih)·sw + iw, becomes
   * s[T·st, C, H·sh, W·sw]; the channels are tiled `repeats` times (out channel r·C + c reads c)
   * and the first `trim` frames dropped: y[T·st − trim, C·repeats, H·sh, W·sw]. accumulate:
   * y += instead of =. */
  void (*depth_to_space)(sana_backend *be, sana_tensor *y, const sana_tensor *x, int st, int sh, int sw,
                         int repeats, int trim, int accumulate);
  /* Patchify: x[T, C, H, W] -> y[T, C·p·p, H/p, W/p], channel c·p² + pw·p + ph (the w offset
   * before the h offset). unpatch = 1 does the inverse (x patched, y pixels). */
  void (*patchify)(sana_backend *be, sana_tensor *y, const sana_tensor *x, int p, int unpatch);
  /* y[A, B, R…] = x[B, A, R…] (ne of x gives B and A; R is the product of the rest). */
  void (*transpose01)(sana_backend *be, sana_tensor *y, const sana_tensor *x);
  /* y[T, C, R…] = x · scale[C] + shift[C] (host float arrays of C values). y may alias x. */
  void (*channel_affine)(sana_backend *be, sana_tensor *y, const sana_tensor *x, const float *scale,
                         const float *shift);
  /* y = a·x + b·y, elementwise (the temporal tile blend). */
  void (*axpby)(sana_backend *be, sana_tensor *y, const sana_tensor *x, float a, float b);
};

#endif
