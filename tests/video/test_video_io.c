/* io/video against real encoded files made by the ffmpeg CLI (lavfi testsrc, 96x64, 40 frames
 * at 24 fps, H.264 MP4 and VP9 WebM): frame count, size and timestamps; pixels against the
 * CLI's own RGB decode; encode round trips (H.264, VP9, VP8) with faithful and forced timing;
 * side by side; and the refusals (missing, empty, not a video, unwritable output) leaving no
 * file behind. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/video.h"
#include "tests/test_util.h"

enum { W = 96, H = 64, N = 40, FPS = 24 };

static char dir[256];

static const char *in_dir(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static int sh(const char *fmt, const char *a, const char *b) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, fmt, a, b);
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

static int exists(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0;
}

/* Files in dir whose name contains `part` (the writer's temporaries are ".NAME.XXXXXX"). */
static int count_named(const char *d, const char *part) {
  DIR *dh = opendir(d);
  if (!dh) return 0;
  int n = 0;
  for (struct dirent *e; (e = readdir(dh));) n += strstr(e->d_name, part) != NULL;
  closedir(dh);
  return n;
}

typedef struct {
  int n, w, h;
  uint8_t *rgb; /* n frames */
  int64_t pts[256];
  sana_video_info info;
} clip;

static sana_status read_all(const char *path, clip *c, sana_error *err) {
  sana_video_reader *r;
  memset(c, 0, sizeof *c);
  sana_status st = sana_video_reader_open(&r, path, err);
  if (st) return st;
  c->info = *sana_video_reader_info(r);
  c->w = c->info.width;
  c->h = c->info.height;
  size_t fb = (size_t)c->w * c->h * 3;
  c->rgb = malloc(fb * 256);
  for (;;) {
    sana_video_frame f;
    int got;
    st = sana_video_reader_next(r, &f, &got, err);
    if (st || !got) break;
    if (c->n < 256) {
      memcpy(c->rgb + fb * c->n, f.rgb, fb);
      c->pts[c->n] = f.pts_us;
    }
    CHECK(f.index == c->n && f.width == c->w && f.height == c->h, "frame %d: index %lld size %dx%d", c->n,
          (long long)f.index, f.width, f.height);
    c->n++;
  }
  sana_video_reader_close(r);
  return st;
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n) {
  double se = 0;
  for (size_t i = 0; i < n; i++) se += (double)(a[i] - b[i]) * (a[i] - b[i]);
  return se == 0 ? 99 : 10 * log10(255.0 * 255.0 * n / se);
}

/* PSNR of the luma (BT.601 weights) of packed RGB pixels a[i·sa], b[i·sb] over n pixels in
 * rows of w: 4:2:0 halves the chroma resolution, so at 96x64 testsrc's sharp colour edges
 * cap any RGB comparison near 22 dB (the CLI's own encode/decode does no better); luma
 * survives, and is what a wrong timestamp, frame or half would break. */
static double psnr_luma(const uint8_t *a, int sa, const uint8_t *b, int sb, int w, size_t n) {
  double se = 0;
  for (size_t i = 0; i < n; i++) {
    size_t ia = (i / w) * (size_t)sa * w * 3 + (i % w) * 3, ib = (i / w) * (size_t)sb * w * 3 + (i % w) * 3;
    double ya = 0.299 * a[ia] + 0.587 * a[ia + 1] + 0.114 * a[ia + 2];
    double yb = 0.299 * b[ib] + 0.587 * b[ib + 1] + 0.114 * b[ib + 2];
    se += (ya - yb) * (ya - yb);
  }
  return se == 0 ? 99 : 10 * log10(255.0 * 255.0 * n / se);
}

static void check_source(const char *name, const char *codec) {
  const char *path = in_dir(name);
  clip c;
  sana_error err = {0};
  CHECK_OK(read_all(path, &c, &err), &err);
  CHECK(c.n == N, "%s: %d frames decoded, want %d", name, c.n, N);
  CHECK(c.w == W && c.h == H, "%s: %dx%d", name, c.w, c.h);
  CHECK(c.info.fps_num == FPS && c.info.fps_den == 1, "%s: rate %d/%d", name, c.info.fps_num, c.info.fps_den);
  CHECK(!strcmp(c.info.codec, codec), "%s: codec %s, want %s", name, c.info.codec, codec);
  int bad = 0;
  for (int i = 0; i < c.n && i < N; i++) bad += llabs(c.pts[i] - (int64_t)llround(i * 1e6 / FPS)) > 1000;
  CHECK(bad == 0, "%s: %d timestamps off the 24 fps grid (frame 1 at %lld us)", name, bad, (long long)c.pts[1]);

  /* Pixels against the ffmpeg CLI's decode to rgb24 with our scaler flags (its own filter
   * graph: a different code path to the same conversion). */
  const char *raw = in_dir("ref.rgb");
  if (sh("ffmpeg -v error -y -i %s -sws_flags bilinear+accurate_rnd+full_chroma_int -f rawvideo -pix_fmt rgb24 %s",
         path, raw) == 0) {
    FILE *f = fopen(raw, "rb");
    size_t n = (size_t)W * H * 3 * N;
    uint8_t *ref = malloc(n);
    size_t got = f ? fread(ref, 1, n, f) : 0;
    if (f) fclose(f);
    CHECK(got == n, "%s: CLI decode gave %zu bytes, want %zu", name, got, n);
    double p = psnr(c.rgb, ref, got < n ? got : n);
    printf("%s: %d frames %dx%d at %d/%d fps, %s; PSNR vs ffmpeg CLI rgb24 %.1f dB\n", name, c.n, c.w, c.h,
           c.info.fps_num, c.info.fps_den, c.info.codec, p);
    CHECK(p > 45, "%s: PSNR %.1f dB against the ffmpeg CLI decode", name, p);
    free(ref);
  }
  free(c.rgb);
}

/* Decodes src, re-encodes it to out with the given options, decodes that and compares. */
static void round_trip(const char *src, const char *out, const char *codec, int force_fps, double min_psnr) {
  clip a, b;
  sana_error err = {0};
  CHECK_OK(read_all(in_dir(src), &a, &err), &err);
  sana_video_writer_opts o = {.width = W, .height = H, .fps_num = FPS, .fps_den = 1, .codec = codec};
  if (force_fps) o.fps_num = 10, o.force_fps = 1;
  sana_video_writer *w;
  CHECK_OK(sana_video_writer_open(&w, in_dir(out), &o, &err), &err);
  if (!w) return;
  CHECK(!exists(in_dir(out)), "%s exists before finish", out);
  size_t fb = (size_t)W * H * 3;
  for (int i = 0; i < a.n; i++) CHECK_OK(sana_video_writer_write(w, a.rgb + fb * i, NULL, a.pts[i], &err), &err);
  CHECK_OK(sana_video_writer_finish(w, &err), &err);
  CHECK_OK(read_all(in_dir(out), &b, &err), &err);
  CHECK(b.n == a.n && b.w == W && b.h == H, "%s: %d frames %dx%d, want %d %dx%d", out, b.n, b.w, b.h, a.n, W, H);
  int bad = 0;
  for (int i = 0; i < b.n && i < a.n; i++) {
    int64_t want = force_fps ? i * 100000 : a.pts[i];
    bad += llabs(b.pts[i] - want) > 1000; /* WebM stores milliseconds */
  }
  CHECK(bad == 0, "%s: %d timestamps differ from the %s (frame 1 at %lld us)", out, bad,
        force_fps ? "forced 10 fps" : "source", (long long)(b.n > 1 ? b.pts[1] : -1));
  double p = b.n == a.n ? psnr_luma(a.rgb, 1, b.rgb, 1, W, (size_t)W * H * a.n) : 0;
  printf("%s (%s%s): %d frames, luma PSNR vs its source %.1f dB\n", out, b.info.codec, force_fps ? ", 10 fps forced" : "",
         b.n, p);
  CHECK(p > min_psnr, "%s: round trip PSNR %.1f dB", out, p);
  free(a.rgb);
  free(b.rgb);
}

static void side_by_side(void) {
  clip a, b;
  sana_error err = {0};
  CHECK_OK(read_all(in_dir("src.mp4"), &a, &err), &err);
  sana_video_writer_opts o = {.width = W, .height = H, .fps_num = FPS, .fps_den = 1, .side_by_side = 1};
  sana_video_writer *w;
  CHECK_OK(sana_video_writer_open(&w, in_dir("sbs.mp4"), &o, &err), &err);
  if (!w) return;
  size_t fb = (size_t)W * H * 3;
  uint8_t *edit = malloc(fb);
  for (int i = 0; i < a.n; i++) {
    for (size_t k = 0; k < fb; k++) edit[k] = 255 - a.rgb[fb * i + k]; /* a visible "edit" */
    CHECK_OK(sana_video_writer_write(w, edit, a.rgb + fb * i, a.pts[i], &err), &err);
  }
  CHECK_OK(sana_video_writer_finish(w, &err), &err);
  CHECK_OK(read_all(in_dir("sbs.mp4"), &b, &err), &err);
  CHECK(b.n == a.n && b.w == 2 * W && b.h == H, "side by side: %d frames %dx%d", b.n, b.w, b.h);
  if (b.n == a.n && b.w == 2 * W) {
    /* Left half against the source, right half against its negative. */
    uint8_t *neg = malloc(fb * a.n);
    for (size_t k = 0; k < fb * a.n; k++) neg[k] = 255 - a.rgb[k];
    size_t px = (size_t)W * H * a.n;
    double pl = psnr_luma(b.rgb, 2, a.rgb, 1, W, px), pr = psnr_luma(b.rgb + W * 3, 2, neg, 1, W, px);
    free(neg);
    printf("side by side: %dx%d, luma PSNR left vs source %.1f dB, right vs edit %.1f dB\n", b.w, b.h, pl, pr);
    CHECK(pl > 30 && pr > 30, "side by side halves: %.1f / %.1f dB", pl, pr);
  }
  free(edit);
  free(a.rgb);
  free(b.rgb);
}

static void refusals(void) {
  sana_error err = {0};
  sana_video_reader *r = NULL;
  sana_status st = sana_video_reader_open(&r, in_dir("missing.mp4"), &err);
  CHECK(st == SANA_ERR_IO && strstr(err.msg, "missing.mp4") && !r, "missing file: %s: %s", sana_status_str(st), err.msg);
  printf("missing: %s\n", err.msg);

  FILE *f = fopen(in_dir("empty.mp4"), "wb");
  if (f) fclose(f);
  st = sana_video_reader_open(&r, in_dir("empty.mp4"), &err);
  CHECK(st == SANA_ERR_FORMAT && strstr(err.msg, "empty"), "empty file: %s: %s", sana_status_str(st), err.msg);
  printf("empty: %s\n", err.msg);

  f = fopen(in_dir("text.mp4"), "wb");
  if (f) fputs("this is a text file pretending to be a video, not an MP4 at all\n", f), fclose(f);
  st = sana_video_reader_open(&r, in_dir("text.mp4"), &err);
  CHECK(st == SANA_ERR_FORMAT && strstr(err.msg, "text.mp4"), "not a video: %s: %s", sana_status_str(st), err.msg);
  printf("not a video: %s\n", err.msg);

  /* A container with no video stream (audio only). */
  if (sh("ffmpeg -v error -y -f lavfi -i sine=frequency=440:duration=0.2 -c:a aac %s%s", in_dir("audio.m4a"), "") == 0) {
    st = sana_video_reader_open(&r, in_dir("audio.m4a"), &err);
    CHECK(st == SANA_ERR_FORMAT && strstr(err.msg, "no video stream"), "audio only: %s: %s", sana_status_str(st),
          err.msg);
    printf("audio only: %s\n", err.msg);
  }

  sana_video_writer_opts o = {.width = W, .height = H, .fps_num = FPS, .fps_den = 1};
  sana_video_writer *w = NULL;
  st = sana_video_writer_open(&w, in_dir("no/such/dir/out.mp4"), &o, &err);
  CHECK(st == SANA_ERR_IO && !w, "missing directory: %s: %s", sana_status_str(st), err.msg);
  printf("unwritable: %s\n", err.msg);
  /* A parent that is a file (root ignores permission bits, so this is the portable case). */
  st = sana_video_writer_open(&w, in_dir("text.mp4/out.mp4"), &o, &err);
  CHECK(st == SANA_ERR_IO && !w, "parent is a file: %s: %s", sana_status_str(st), err.msg);
  st = sana_video_writer_open(&w, in_dir("out.xyz"), &o, &err);
  CHECK(st == SANA_ERR_ARG && !exists(in_dir("out.xyz")), "unknown extension: %s: %s", sana_status_str(st), err.msg);
  o.width = 95;
  st = sana_video_writer_open(&w, in_dir("odd.mp4"), &o, &err);
  CHECK(st == SANA_ERR_ARG, "odd width: %s", sana_status_str(st));
  o.width = W;

  /* Interrupted and empty outputs leave nothing under the name, and no temporary. */
  uint8_t *black = calloc((size_t)W * H * 3, 1);
  CHECK_OK(sana_video_writer_open(&w, in_dir("aborted.mp4"), &o, &err), &err);
  if (w) {
    const char *tmp = sana_video_writer_temp_path(w);
    CHECK(exists(tmp) && strstr(tmp, "/.aborted.mp4."), "temporary %s", tmp);
    for (int i = 0; i < 5; i++) CHECK_OK(sana_video_writer_write(w, black, NULL, i * 41667, &err), &err);
    sana_video_writer_abort(w);
  }
  CHECK(!exists(in_dir("aborted.mp4")) && count_named(dir, "aborted") == 0, "aborted output left a file");
  CHECK_OK(sana_video_writer_open(&w, in_dir("zero.mp4"), &o, &err), &err);
  if (w) {
    st = sana_video_writer_finish(w, &err);
    CHECK(st == SANA_ERR_STATE && strstr(err.msg, "no frames"), "zero frames: %s: %s", sana_status_str(st), err.msg);
  }
  CHECK(!exists(in_dir("zero.mp4")) && count_named(dir, "zero") == 0, "zero-frame output left a file");
  free(black);
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/sana_video_XXXXXX", tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  int rc = sh("ffmpeg -v error -y -f lavfi -i testsrc=size=96x64:rate=24 -frames:v 40 -pix_fmt yuv420p -c:v libx264 %s%s",
              in_dir("src.mp4"), "");
  rc |= sh("ffmpeg -v error -y -f lavfi -i testsrc=size=96x64:rate=24 -frames:v 40 -pix_fmt yuv420p -c:v libvpx-vp9 "
           "-b:v 0 -crf 30 %s%s",
           in_dir("src.webm"), "");
  CHECK(rc == 0, "the ffmpeg CLI could not make the test clips (is the ffmpeg package installed?)");
  if (rc == 0) {
    check_source("src.mp4", "h264");
    check_source("src.webm", "vp9");
    round_trip("src.mp4", "rt.mp4", NULL, 0, 35);
    round_trip("src.webm", "rt.webm", NULL, 0, 30);
    round_trip("src.mp4", "rt_vp8.webm", "libvpx", 0, 27); /* VP8 is the weakest codec here */
    round_trip("src.mp4", "rt10.mkv", NULL, 1, 35);
    side_by_side();
  }
  refusals();
  sh("rm -rf %s%s", dir, "");
  return sana_test_done("test_video_io");
}
