/* sana_vae_time: the VAE alone on a backend at the stream's chunking, timed per call.
 *
 *   sana_vae_time VAE_DIR [--chunks N] [--size WxH] [--backend cuda] [--profile]
 *
 * Encodes a 33-frame chunk, then 24-frame chunks, through one encoder stream, and decodes each
 * chunk's latents through one decoder stream the way the stream does (causal or prepend, from
 * the VAE's config). Times are device work only (a sync around each call; the frames are
 * filled on the device). --profile synchronises around every op and prints, for the last
 * chunk, the time per op (conv3d per shape, with its TFLOP/s). tools/gpu/vae_time.sh runs it
 * on a full-size random VAE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/ops_vae.h"
#include "core/log.h"
#include "model/vae.h"

/* ---- --profile: every op wrapped, synchronised and timed by name ---- */

#define PROF_MAX 64
static struct {
  sana_backend *be;
  struct sana_vae_ops vae, wrapped;
  void (*copy)(sana_backend *, sana_tensor *, const sana_tensor *);
  void (*binary)(sana_backend *, sana_tensor *, const sana_tensor *, const sana_tensor *, sana_binop);
  char name[PROF_MAX][80];
  double sec[PROF_MAX], flop[PROF_MAX];
  int calls[PROF_MAX], n;
  double t0;
} P;

static void prof_begin(void) {
  P.be->sync(P.be, NULL);
  P.t0 = sana_now();
}

static void prof_end(const char *name, double flop) {
  P.be->sync(P.be, NULL);
  double dt = sana_now() - P.t0;
  int k = 0;
  while (k < P.n && strcmp(P.name[k], name)) k++;
  if (k == PROF_MAX) return;
  if (k == P.n) snprintf(P.name[P.n++], sizeof P.name[0], "%s", name);
  P.sec[k] += dt, P.flop[k] += flop, P.calls[k]++;
}

static void prof_reset(void) {
  memset(P.sec, 0, sizeof P.sec), memset(P.flop, 0, sizeof P.flop), memset(P.calls, 0, sizeof P.calls);
}

static void prof_print(const char *what) {
  printf("%s, per op (each synchronised):\n", what);
  for (int k = 0; k < P.n; k++) {
    if (!P.calls[k]) continue;
    printf("  %-40s %4d calls %8.2f ms", P.name[k], P.calls[k], 1e3 * P.sec[k]);
    if (P.flop[k] > 0) printf(" %7.1f TF/s", P.flop[k] / P.sec[k] * 1e-12);
    printf("\n");
  }
  prof_reset();
}

static void w_conv3d(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w, const sana_tensor *b,
                     sana_pad_mode pad) {
  char name[80];
  snprintf(name, sizeof name, "conv3d %lld->%lld %lldx%lld %s", (long long)x->ne[1], (long long)y->ne[1],
           (long long)y->ne[2], (long long)y->ne[3], pad == SANA_PAD_REFLECT ? "reflect" : "zeros");
  prof_begin();
  P.vae.conv3d(be, y, x, w, b, pad);
  prof_end(name, 2.0 * 27 * (double)x->ne[1] * (double)sana_numel(y));
}
static void w_rms(sana_backend *be, sana_tensor *y, const sana_tensor *x, float eps, sana_act act) {
  prof_begin();
  P.vae.rms_norm_act(be, y, x, eps, act);
  prof_end("rms_norm_act", 0);
}
static void w_s2d(sana_backend *be, sana_tensor *y, const sana_tensor *x, int st, int sh, int sw, int group, int acc) {
  prof_begin();
  P.vae.space_to_depth(be, y, x, st, sh, sw, group, acc);
  prof_end("space_to_depth", 0);
}
static void w_d2s(sana_backend *be, sana_tensor *y, const sana_tensor *x, int st, int sh, int sw, int rep, int trim,
                  int acc) {
  prof_begin();
  P.vae.depth_to_space(be, y, x, st, sh, sw, rep, trim, acc);
  prof_end("depth_to_space", 0);
}
static void w_patchify(sana_backend *be, sana_tensor *y, const sana_tensor *x, int p, int unpatch) {
  prof_begin();
  P.vae.patchify(be, y, x, p, unpatch);
  prof_end("patchify", 0);
}
static void w_transpose01(sana_backend *be, sana_tensor *y, const sana_tensor *x) {
  prof_begin();
  P.vae.transpose01(be, y, x);
  prof_end("transpose01", 0);
}
static void w_affine(sana_backend *be, sana_tensor *y, const sana_tensor *x, const float *scale, const float *shift) {
  prof_begin();
  P.vae.channel_affine(be, y, x, scale, shift);
  prof_end("channel_affine", 0);
}
static void w_axpby(sana_backend *be, sana_tensor *y, const sana_tensor *x, float a, float b) {
  prof_begin();
  P.vae.axpby(be, y, x, a, b);
  prof_end("axpby", 0);
}
static void w_copy(sana_backend *be, sana_tensor *dst, const sana_tensor *src) {
  prof_begin();
  P.copy(be, dst, src);
  prof_end("copy (temporal padding, caches)", 0);
}
static void w_binary(sana_backend *be, sana_tensor *y, const sana_tensor *a, const sana_tensor *b, sana_binop op) {
  prof_begin();
  P.binary(be, y, a, b, op);
  prof_end("binary (residual adds)", 0);
}

/* Wraps the ops the VAE uses; must run before sana_vae_load, which keeps be->vae. */
static void prof_install(sana_backend *be) {
  P.be = be;
  P.vae = *be->vae;
  P.wrapped = P.vae; /* an op added later runs unwrapped */
  P.wrapped.conv3d = w_conv3d, P.wrapped.rms_norm_act = w_rms, P.wrapped.space_to_depth = w_s2d;
  P.wrapped.depth_to_space = w_d2s, P.wrapped.patchify = w_patchify, P.wrapped.transpose01 = w_transpose01;
  P.wrapped.channel_affine = w_affine, P.wrapped.axpby = w_axpby;
  be->vae = &P.wrapped;
  P.copy = be->copy, be->copy = w_copy;
  P.binary = be->binary, be->binary = w_binary;
}

/* ---- main ---- */

static int fail(const sana_error *err) {
  fprintf(stderr, "sana_vae_time: %s\n", err->msg);
  return 1;
}

int main(int argc, char **argv) {
  const char *dir = NULL, *backend = "cuda";
  int chunks = 4, profile = 0, W = 1280, H = 704;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--chunks") && i + 1 < argc) chunks = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
      if (sscanf(argv[++i], "%dx%d", &W, &H) != 2) W = 0;
    } else if (!strcmp(argv[i], "--backend") && i + 1 < argc) backend = argv[++i];
    else if (!strcmp(argv[i], "--profile")) profile = 1;
    else if (argv[i][0] != '-' && !dir) dir = argv[i];
    else dir = NULL, i = argc;
  }
  if (!dir || chunks < 1 || W < 32 || H < 32) {
    fprintf(stderr, "usage: sana_vae_time VAE_DIR [--chunks N] [--size WxH] [--backend cuda] [--profile]\n");
    return 2;
  }
  sana_error err = {0};
  sana_backend *be = sana_backend_create(backend, &err);
  if (!be) return fail(&err);
  if (!be->vae) {
    fprintf(stderr, "sana_vae_time: backend '%s' has no vae ops\n", backend);
    be->destroy(be);
    return 1;
  }
  if (profile) prof_install(be);
  sana_vae *v = NULL;
  sana_vae_stream *es = NULL, *ds = NULL;
  int rc = 1;
  if (sana_vae_load(&v, be, dir, &err) || sana_vae_stream_new(&es, v, &err) || sana_vae_stream_new(&ds, v, &err)) {
    fail(&err);
    goto done;
  }
  sana_vae_decode_mode mode = sana_vae_get_config(v)->decoder_causal ? SANA_VAE_DECODE_CAUSAL : SANA_VAE_DECODE_PREPEND;
  printf("%s backend, %dx%d, decode %s\n", backend, W, H, mode == SANA_VAE_DECODE_CAUSAL ? "causal" : "prepend");
  for (int k = 0; k < chunks; k++) {
    int F = k ? 24 : 33;
    sana_tensor video = {0}, lat = {0}, out = {0};
    if (sana_backend_tensor(be, &video, be->act_dtype, 4, (int64_t[]){3, F, H, W}, &err)) {
      fail(&err);
      goto done;
    }
    be->fill(be, &video, 0.1f * (float)(k + 1));
    double t0 = 0, t1 = 0, t2 = 0;
    int last = profile && k == chunks - 1;
    sana_status st = be->sync(be, &err);
    if (last) prof_reset();
    if (!st) t0 = sana_now(), st = sana_vae_encode(v, es, &video, &lat, &err);
    if (!st) st = be->sync(be, &err), t1 = sana_now();
    if (!st && last) prof_print("encode");
    if (!st) st = sana_vae_decode_chunk(v, ds, mode, &lat, &out, &err);
    if (!st) st = be->sync(be, &err), t2 = sana_now();
    if (!st && last) prof_print("decode");
    size_t live = 0, peak = 0;
    if (be->mem_stats) be->mem_stats(be, &live, &peak);
    if (!st)
      printf("chunk %d: %d frames -> %lld latents, encode %.1f ms; decode -> %lld frames %.1f ms; peak %.2f GB\n", k,
             F, (long long)lat.ne[1], 1e3 * (t1 - t0), (long long)out.ne[1], 1e3 * (t2 - t1), (double)peak / 1e9);
    be->free(be, video.data);
    if (lat.data) be->free(be, lat.data);
    if (out.data) be->free(be, out.data);
    if (st) {
      fail(&err);
      goto done;
    }
    fflush(stdout);
  }
  rc = 0;
done:
  if (es) sana_vae_stream_free(es);
  if (ds) sana_vae_stream_free(ds);
  if (v) sana_vae_free(v);
  be->destroy(be);
  return rc;
}
