/* Op-level cases for the video family's ops (backend/ops_video.h). The reference is
 * io/video_prep's own code (tested against torch's resize in tests/video), and the GPU kernels
 * repeat its arithmetic operation for operation, so fp32 outputs must match exactly (tol 0);
 * a BF16 output is one rounding of that value (tol 1e-5, as every elementwise op). */
#include "backend/ops_video.h"
#include "tests/backend/backend_ops.h"

/* t: rgb U8 [n, h, w, 3], y [3, T, H, W]; ip[0] = t0 */
static int ap_prep(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->video || !be->video->frame_prep) return 1;
  be->video->frame_prep(be, &t[1], &t[0], c->ip[0]);
  return 0;
}

/* t: x [3, T, H, W], rgb U8 [n, H, W, 3]; ip[0] = t0 */
static int ap_unprep(sana_backend *be, const bo_case *c, sana_tensor *t) {
  if (!be->video || !be->video->frame_unprep) return 1;
  be->video->frame_unprep(be, &t[1], &t[0], c->ip[0]);
  return 0;
}

#define PREP(label, tol, kind, n, h, w, T, H, W, inplace, t0)                                           \
  {"video.frame_prep", label, tol, 2, {BO_T(BO_U8, BO_RAND, 0, n, h, w, 3), BO_T(kind, BO_OUT, 1.0f, 3, T, H, W)}, \
   1u << 1, inplace, {t0}, {0}, ap_prep, 0, 0}
#define UNPREP(label, n, T, H, W, t0)                                                                   \
  {"video.frame_unprep", label, 0, 2, {BO_T(BO_ACT, BO_RAND, 1.2f, 3, T, H, W), BO_T(BO_U8, BO_OUT, 0, n, H, W, 3)}, \
   1u << 1, 0, {t0}, {0}, ap_unprep, 0, 0}

static const bo_case video_cases[] = {
    /* the real shapes: a 1280x720 source cropped to 1280x704, a 1080p source shrunk */
    PREP("33 frames 1280x720 -> 1280x704 (crop rows), act", 1e-5, BO_ACT, 33, 720, 1280, 33, 704, 1280, 0, 0),
    PREP("2 frames 1280x720 -> 1280x704, fp32 bit-exact", 0, BO_F32, 2, 720, 1280, 2, 704, 1280, 0, 0),
    PREP("1920x1080 -> 1280x704 (shrink, crop rows), fp32", 0, BO_F32, 1, 1080, 1920, 1, 704, 1280, 0, 0),
    PREP("1280x704 -> 1280x704 (identity), act", 1e-5, BO_ACT, 24, 704, 1280, 24, 704, 1280, 0, 0),
    /* small odd ones: upscales, a crop of columns, frames written into the middle of a chunk */
    PREP("53x37 -> 96x64 (grow, crop cols), frames 1..2 of 4, fp32", 0, BO_F32, 2, 37, 53, 4, 64, 96, 1u << 1, 1),
    PREP("7x5 -> 32x32 (grow 6x), fp32", 0, BO_F32, 3, 5, 7, 3, 32, 32, 0, 0),
    PREP("641x359 -> 160x96 (shrink 4x, odd), act", 1e-5, BO_ACT, 2, 359, 641, 2, 96, 160, 0, 0),
    PREP("160x96 -> 160x96 (identity), fp32", 0, BO_F32, 2, 96, 160, 2, 96, 160, 0, 0),
    UNPREP("24 frames 1280x704, values past [-1, 1] clamp", 24, 24, 704, 1280, 0),
    UNPREP("frames 1..3 of 5, 96x64", 3, 5, 64, 96, 1),
    UNPREP("1 frame 7x5", 1, 1, 5, 7, 0),
};

const bo_family bo_video_family = {"video", video_cases, BO_COUNT(video_cases)};
