/* The video family's backend ops (see backend/backend.h for the conventions): the conversions
 * between decoded RGB8 frames and the model's planes, done where the model runs so that a chunk
 * crosses the bus as bytes (uint8 in, uint8 out) instead of as fp32 planes.
 *
 * The arithmetic is io/video_prep.h's, which follows upstream (model-spec §3.1, §3.7): every
 * backend must give the values of sana_video_prep_frame / sana_video_unprep_frame bit for bit
 * in fp32 (the CUDA kernels use the same roundings, in the same order, without contraction);
 * a BF16 output is that fp32 value rounded to nearest even. */
#ifndef SANA_BACKEND_OPS_VIDEO_H
#define SANA_BACKEND_OPS_VIDEO_H

#include "backend/backend.h"

struct sana_video_ops {
  /* Frames in: rgb U8 [n, h, w, 3] (n source frames of one size, packed RGB) -> frames
   * t0..t0+n−1 of y [3, T, H, W] (F32 or the act dtype): x/255, cover-resize to (H, W) with
   * torch's bilinear (align_corners=False, no antialias; sana_cover_geometry's window), centre
   * crop, (x − 0.5)/0.5. Fails when t0 + n > T or the geometry does not cover. */
  void (*frame_prep)(sana_backend *be, sana_tensor *y, const sana_tensor *rgb, int64_t t0);

  /* Frames out: frames t0..t0+n−1 of x [3, T, H, W] (F32 or the act dtype) -> rgb U8
   * [n, H, W, 3] with sana_video_to_u8 (uint8(clamp(127.5·x + 127.5, 0, 255)), two fp32
   * roundings, truncating; NaN -> 0). */
  void (*frame_unprep)(sana_backend *be, sana_tensor *rgb, const sana_tensor *x, int64_t t0);
};

/* The shape rules both ops share: rgb U8 [n, h, w, 3] with data, planes [3, T, H, W] with
 * t0 + n <= T, and with same_size also h = H, w = W. Returns NULL when they hold, else what is
 * wrong (a static string). The planes' dtype is each backend's to check. */
const char *sana_video_frames_problem(const sana_tensor *rgb, const sana_tensor *planes, int64_t t0, int same_size);

#endif
