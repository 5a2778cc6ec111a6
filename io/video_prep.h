/* Frame conversion between decoded RGB8 pictures and the model's float tensors, with
 * upstream's arithmetic (model-spec §3.1, §3.7). No FFmpeg here: pure math, testable alone.
 *
 * Input side:  uint8 RGB (H, W, 3) -> x/255 -> cover-resize (torch bilinear, align_corners=False,
 *              no antialias, fp32) -> centre crop -> (x - 0.5)/0.5 -> planes (3, dst_h, dst_w).
 * Output side: float in ~[-1, 1] -> uint8(clamp(127.5·x + 127.5, 0, 255)), truncating. */
#ifndef SANA_IO_VIDEO_PREP_H
#define SANA_IO_VIDEO_PREP_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

/* Where the resize-to-cover lands and which window the crop keeps. */
typedef struct sana_cover_geom {
  int resize_h, resize_w; /* size of the resized (uncropped) picture */
  int off_y, off_x;       /* top-left of the dst_h x dst_w window inside it */
} sana_cover_geom;

/* Upstream's resize_crop_to_fill geometry: rh = dst_h/h, rw = dst_w/w (double); if rh > rw the
 * height is matched and the width is round(w·rh) (Python round: half to even), else the other
 * way; offsets int(round(s − d)/2.0). Fails on non-positive sizes. */
sana_status sana_cover_geometry(int src_h, int src_w, int dst_h, int dst_w, sana_cover_geom *g,
                                sana_error *err);

/* Bilinear resize of one fp32 plane (h, w) -> the window [y0, y0+oh) x [x0, x0+ow) of the
 * full resize to (rh, rw), with the arithmetic of torch's CPU upsample_bilinear2d
 * (align_corners=False, antialias=False, sizes given, no scale factor). src rows are
 * src_stride floats apart. Computing only the kept window gives the same values as resizing
 * everything and cropping afterwards. */
sana_status sana_resize_bilinear_plane(const float *src, int h, int w, ptrdiff_t src_stride, int rh, int rw,
                                       int y0, int x0, int oh, int ow, float *dst, sana_error *err);

/* One decoded frame -> the model's input planes. rgb: h rows of w packed RGB pixels, `stride`
 * bytes apart. out: dtype F32 or BF16 (bf16 rounded to nearest even from the fp32 result, as
 * upstream's .to(bf16)); plane c (R, G, B) starts at out + c·plane_stride elements and is
 * dst_h x dst_w row-major, so a (3, T, H, W) chunk buffer takes frame t at element offset
 * t·H·W with plane_stride T·H·W. Allocates one scratch frame internally. */
sana_status sana_video_prep_frame(const uint8_t *rgb, int h, int w, ptrdiff_t stride, int dst_h, int dst_w,
                                  sana_dtype dtype, void *out, ptrdiff_t plane_stride, sana_error *err);

/* Model output planes (3, h, w; F32 or BF16, plane c at c·plane_stride) -> packed RGB8 (h, w, 3)
 * with upstream's float32 uint8(clamp(127.5·x + 127.5, 0, 255)): the cast truncates. */
sana_status sana_video_unprep_frame(const void *in, sana_dtype dtype, ptrdiff_t plane_stride, int h, int w,
                                    uint8_t *rgb, sana_error *err);

/* The scalar rule of sana_video_unprep_frame, exposed for tests. NaN maps to 0. */
uint8_t sana_video_to_u8(float x);

#endif
