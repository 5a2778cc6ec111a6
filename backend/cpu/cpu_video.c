/* CPU implementation of the video family's ops (backend/ops_video.h): io/video_prep's own
 * functions, frame by frame, so the reference is the tested host code itself. */
#include "backend/cpu/cpu.h"
#include "backend/ops_video.h"
#include "io/video_prep.h"

static int frames_ok(sana_backend *be, const char *op, const sana_tensor *rgb, const sana_tensor *planes,
                     int64_t t0, int same_size) {
  const char *why = sana_video_frames_problem(rgb, planes, t0, same_size);
  if (!why && planes->dtype != SANA_F32) why = "planes must be F32";
  if (why) cpu_fail(be, op, "%s (t0 = %lld)", why, (long long)t0);
  return !why;
}

static void cpu_frame_prep(sana_backend *be, sana_tensor *y, const sana_tensor *rgb, int64_t t0) {
  if (!frames_ok(be, "video.frame_prep", rgb, y, t0, 0)) return;
  int64_t n = rgb->ne[0], h = rgb->ne[1], w = rgb->ne[2], H = y->ne[2], W = y->ne[3];
  ptrdiff_t plane = (ptrdiff_t)(y->ne[1] * H * W);
  for (int64_t i = 0; i < n; i++) {
    const uint8_t *src = (const uint8_t *)rgb->data + i * h * w * 3;
    float *dst = (float *)y->data + (t0 + i) * H * W;
    sana_error e = {0};
    if (sana_video_prep_frame(src, (int)h, (int)w, 3 * w, (int)H, (int)W, SANA_F32, dst, plane, &e)) {
      cpu_fail(be, "video.frame_prep", "%s", e.msg);
      return;
    }
  }
}

static void cpu_frame_unprep(sana_backend *be, sana_tensor *rgb, const sana_tensor *x, int64_t t0) {
  if (!frames_ok(be, "video.frame_unprep", rgb, x, t0, 1)) return;
  int64_t n = rgb->ne[0], H = x->ne[2], W = x->ne[3];
  ptrdiff_t plane = (ptrdiff_t)(x->ne[1] * H * W);
  for (int64_t i = 0; i < n; i++)
    sana_video_unprep_frame((const float *)x->data + (t0 + i) * H * W, SANA_F32, plane, (int)H, (int)W,
                            (uint8_t *)rgb->data + i * H * W * 3, NULL);
}

static const struct sana_video_ops cpu_video_ops = {
    .frame_prep = cpu_frame_prep,
    .frame_unprep = cpu_frame_unprep,
};

void cpu_install_video_ops(sana_backend *be) { be->video = &cpu_video_ops; }
