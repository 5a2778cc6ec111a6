/* The shape rules of the video family's ops (backend/ops_video.h), shared by the backends. */
#include "backend/ops_video.h"

const char *sana_video_frames_problem(const sana_tensor *rgb, const sana_tensor *planes, int64_t t0, int same_size) {
  if (!rgb->data || rgb->dtype != SANA_U8) return "frames must be U8 with data";
  if (!planes->data) return "planes without data";
  if (rgb->nd != 4 || rgb->ne[3] != 3) return "frames must be [n, h, w, 3]";
  if (planes->nd != 4 || planes->ne[0] != 3) return "planes must be [3, T, H, W]";
  if (t0 < 0 || t0 + rgb->ne[0] > planes->ne[1]) return "frames t0..t0+n-1 fall outside the planes' T";
  if (same_size && (rgb->ne[1] != planes->ne[2] || rgb->ne[2] != planes->ne[3]))
    return "frames and planes differ in size";
  return NULL;
}
