/* The video family's ops (backend/ops_video.h) on the CPU backend: hand-derived values for a
 * frame placed inside a chunk and its way back to bytes, and bad shapes refused with the op's
 * name. (The CUDA kernels are held to these CPU ops bit for bit by tests/backend.) */
#include <math.h>
#include <string.h>

#include "backend/ops_video.h"
#include "tests/test_util.h"

static int fails_with(sana_backend *be, const char *what) {
  sana_error err = {0};
  return be->sync(be, &err) != SANA_OK && strstr(err.msg, what) != NULL;
}

int main(void) {
  sana_error err = {0};
  sana_backend *be = sana_backend_cpu_create(&err);
  CHECK(be && be->video && be->video->frame_prep && be->video->frame_unprep, "cpu backend with video ops");
  if (!be) return sana_test_done("test_video_ops");

  /* a 2x2 frame into frame 1 of a 2-frame chunk at 2x2 (no resize): x/255 then (x − 0.5)/0.5,
   * so 0 -> −1, 255 -> 1; frame 0 keeps what it held */
  uint8_t px[12] = {0, 255, 0, 255, 255, 255, 0, 0, 0, 255, 0, 255};
  float planes[3 * 2 * 4];
  for (int i = 0; i < 24; i++) planes[i] = 7.0f;
  sana_tensor rgb = SANA_T(SANA_U8, px, 1, 2, 2, 3), y = SANA_T(SANA_F32, planes, 3, 2, 2, 2);
  be->video->frame_prep(be, &y, &rgb, 1);
  CHECK_OK(be->sync(be, &err), &err);
  for (int c = 0; c < 3; c++)
    for (int p = 0; p < 4; p++) {
      CHECK(planes[c * 8 + p] == 7.0f, "frame 0 untouched (c %d p %d)", c, p);
      float want = px[3 * p + c] ? 1.0f : -1.0f;
      CHECK(planes[c * 8 + 4 + p] == want, "c %d p %d: %g, want %g", c, p, planes[c * 8 + 4 + p], want);
    }
  /* back: 127.5·(±1) + 127.5 = 0 or 255 exactly; frame 0 holds 7 (clamped to 255) */
  uint8_t back[2 * 12];
  sana_tensor out = SANA_T(SANA_U8, back, 2, 2, 2, 3);
  be->video->frame_unprep(be, &out, &y, 0);
  CHECK_OK(be->sync(be, &err), &err);
  CHECK(back[0] == 255 && back[11] == 255, "frame 0 (value 7) clamps to 255");
  CHECK(!memcmp(back + 12, px, 12), "frame 1 comes back as its source bytes");

  /* refused: frames past the chunk's end, float frames, planes of another size, NaN -> 0 */
  be->video->frame_prep(be, &y, &rgb, 2);
  CHECK(fails_with(be, "video.frame_prep"), "t0 + n > T is refused");
  sana_tensor frgb = SANA_T(SANA_F32, planes, 1, 2, 2, 3);
  be->video->frame_prep(be, &y, &frgb, 0);
  CHECK(fails_with(be, "U8"), "float frames are refused");
  sana_tensor small = SANA_T(SANA_U8, back, 1, 1, 2, 3);
  be->video->frame_unprep(be, &small, &y, 0);
  CHECK(fails_with(be, "video.frame_unprep"), "output frames of another size are refused");
  planes[4] = NAN; /* frame 1, pixel 0, red */
  sana_tensor one = SANA_T(SANA_U8, back, 1, 2, 2, 3);
  be->video->frame_unprep(be, &one, &y, 1);
  CHECK_OK(be->sync(be, &err), &err);
  CHECK(back[0] == 0, "NaN maps to 0 (got %d)", back[0]);

  sana_backend_destroy(be);
  return sana_test_done("test_video_ops");
}
