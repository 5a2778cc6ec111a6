/* sana bench: the streaming pipeline on a synthetic source at the model size, timed per stage
 * and per chunk; DiT and end-to-end fps, first-chunk latency, peak backend memory, and the DiT's
 * achieved TFLOP/s against a large GEMM measured through the same backend. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/log.h"
#include "model/dit.h"
#include "model/weights.h"
#include "stream/stream.h"
#include "stream/stream_internal.h"

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  if (n <= 0) return 0;
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* TFLOP/s of an n×n×n GEMM through the backend's linear op: the ceiling the DiT is held to. */
static double gemm_peak(sana_backend *be, int n) {
  sana_tensor x, w, y;
  sana_error err = {0};
  if (sana_backend_tensor(be, &x, be->act_dtype, 2, (int64_t[]){n, n}, &err) ||
      sana_backend_tensor(be, &w, be->weight_dtype, 2, (int64_t[]){n, n}, &err) ||
      sana_backend_tensor(be, &y, be->act_dtype, 2, (int64_t[]){n, n}, &err))
    return 0;
  be->fill(be, &x, 0.5f);
  be->fill(be, &w, 0.25f);
  be->linear(be, &y, &x, &w, NULL, SANA_ACT_NONE); /* warm-up */
  be->sync(be, &err);
  int reps = 5;
  double t0 = sana_now();
  for (int i = 0; i < reps; i++) be->linear(be, &y, &x, &w, NULL, SANA_ACT_NONE);
  be->sync(be, &err);
  double dt = (sana_now() - t0) / reps;
  be->free(be, x.data);
  be->free(be, w.data);
  be->free(be, y.data);
  return 2.0 * n * (double)n * n / dt / 1e12;
}

/* FLOPs of one DiT pass over a chunk of T frames (S tokens each) with a window of m keys:
 * ≈ 19·C² MACs per token per block (model-spec §10.4) plus softmax attention 4·N·m·C. */
static double dit_pass_flops(const sana_dit_config *c, int64_t N, int64_t m) {
  double C = c->hidden, per_block = 2.0 * (10.0 * C * C + 3.0 * c->ffn * C);
  int softmax = 0;
  for (int i = 0; i < c->depth; i++) softmax += c->is_softmax[i];
  return per_block * c->depth * (double)N + 4.0 * (double)N * (double)m * C * softmax;
}

int cmd_bench(int argc, char **argv) {
  static const struct option opts[] = {{"weights", required_argument, 0, 'w'}, {"size", required_argument, 0, 'S'},
                                       {"chunks", required_argument, 0, 'c'}, {"backend", required_argument, 0, 'B'},
                                       {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
  const char *weights = NULL, *backend = "cuda";
  int W = 1280, H = 704, chunks = 12, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "w:h", opts, NULL)) != -1) {
    switch (c) {
    case 'w': weights = optarg; break;
    case 'S':
      if (sscanf(optarg, "%dx%d", &W, &H) != 2 || W <= 0 || H <= 0 || W % 32 || H % 32) {
        fprintf(stderr, "sana bench: --size '%s': expected WxH, multiples of 32\n", optarg);
        return 2;
      }
      break;
    case 'c':
      chunks = atoi(optarg);
      if (chunks < 2 || chunks > 100000) { fprintf(stderr, "sana bench: --chunks: 2..100000\n"); return 2; }
      break;
    case 'B': backend = optarg; break;
    case 'h':
      printf("usage: sana bench [-w DIR] [--size 1280x704] [--chunks 12] [--backend cuda|cpu]\n");
      return 0;
    default: return 2;
    }
  }
  char wdir[4096];
  if (!weights) weights = sana_weights_default_dir(wdir, sizeof wdir);
  sana_error err = {0};
  double t_load = sana_now();
  sana_model *m = sana_model_load(weights, &(sana_model_options){.backend = backend, .width = W, .height = H}, &err);
  if (!m) { fprintf(stderr, "sana bench: %s\n", err.msg); return 1; }
  t_load = sana_now() - t_load;
  sana_backend *be = m->be;
  size_t live0 = 0, peak = 0;
  if (be->mem_stats) be->mem_stats(be, &live0, NULL);
  sana_stream *s = sana_stream_new(m, &(sana_stream_options){.seed = 1, .prompt = "replace the t-shirt with a brown leather jacket"}, &err);
  if (!s) { fprintf(stderr, "sana bench: %s\n", err.msg); sana_model_free(m); return 1; }

  sana_frame *f = sana_frame_alloc(W, H);
  /* per chunk: total, prep, encode (with prep), dit, 5 passes, decode, output */
  enum { C_TOT, C_PREP, C_ENC, C_DIT, C_PASS, C_DEC = C_PASS + 5, C_OUT, C_N };
  double *tm = calloc((size_t)chunks * C_N, sizeof(double));
  int frames = 0, rc = 0;
  double prompt1 = 0;
  printf("sana bench: %s backend, %dx%d, %d chunks, weights %s (loaded in %.1f s)\n", be->name, W, H, chunks, weights, t_load);
  printf("%6s %7s %9s %9s %9s %9s %7s %7s %7s %7s %7s %9s %9s %9s %8s\n", "chunk", "frames", "prompt ms", "prep ms",
         "encode ms", "dit ms", "pass1", "pass2", "pass3", "pass4", "cache", "decode ms", "output ms", "chunk ms", "fps");
  for (int k = 0; k < chunks && !rc; k++) {
    int need = sana_stream_frames_needed(s), ran = 0;
    /* a new prompt at chunk 1 measures a warm prompt change (chunk 0's includes first-call setup) */
    if (k == 1 && sana_stream_set_prompt(s, "turn the scene into a watercolor painting", &err)) { rc = 1; break; }
    for (int i = 0; i < need; i++, frames++) { /* a moving pattern: the content does not change the cost */
      for (int y = 0; y < H; y++) memset(f->rgb + (size_t)y * f->stride, (y + frames) & 0xff, (size_t)f->stride);
      f->pts_us = frames * 41667LL;
      if (sana_stream_push_frame(s, f, &err)) { rc = 1; break; }
    }
    if (!rc && (sana_stream_run_chunk(s, &ran, &err) || !ran)) rc = 1;
    if (rc) break;
    sana_frame *o;
    while (sana_stream_pop_frame(s, &o)) sana_frame_free(o);
    sana_chunk_info ci;
    sana_stream_last_chunk(s, &ci);
    if (k == 1) prompt1 = ci.t_prompt;
    double *r = tm + (size_t)k * C_N;
    r[C_TOT] = ci.seconds;
    r[C_PREP] = ci.t_prep;
    r[C_ENC] = ci.t_encode;
    r[C_DIT] = ci.t_dit;
    for (int i = 0; i < 5; i++) r[C_PASS + i] = ci.t_pass[i];
    r[C_DEC] = ci.t_decode;
    r[C_OUT] = ci.t_output;
    printf("%6d %7d %9.1f %9.1f %9.1f %9.1f %7.1f %7.1f %7.1f %7.1f %7.1f %9.1f %9.1f %9.1f %8.1f\n", k, need,
           1e3 * ci.t_prompt, 1e3 * ci.t_prep, 1e3 * ci.t_encode, 1e3 * ci.t_dit, 1e3 * ci.t_pass[0],
           1e3 * ci.t_pass[1], 1e3 * ci.t_pass[2], 1e3 * ci.t_pass[3], 1e3 * ci.t_pass[4], 1e3 * ci.t_decode,
           1e3 * ci.t_output, 1e3 * ci.seconds, need / ci.seconds);
  }
  if (rc) {
    fprintf(stderr, "sana bench: %s\n", err.msg);
  } else {
    const sana_dit_config *dc = &m->dit->cfg;
    int64_t S = (int64_t)m->hl * m->wl, N = SANA_CHUNK_LATENTS * S;
    int64_t keys = (SANA_FIRST_LATENTS + 2 * SANA_CHUNK_LATENTS) * S; /* sink + previous + current */
    double first = tm[C_TOT];
    /* steady state: chunks 2.. (the window is full from chunk 2 on) */
    int n = chunks - 2 > 0 ? chunks - 2 : 1, off = chunks - n;
    double med[C_N], *col = malloc(sizeof(double) * (size_t)n);
    for (int j = 0; j < C_N; j++) {
      for (int k = 0; col && k < n; k++) col[k] = tm[(size_t)(off + k) * C_N + j];
      med[j] = col ? median(col, n) : 0;
    }
    free(col);
    double mt = med[C_TOT], me = med[C_ENC], md = med[C_DIT], mdc = med[C_DEC];
    double fl = 5.0 * dit_pass_flops(dc, N, keys); /* 4 denoising passes + the cache pass */
    double fr = SANA_CHUNK_LATENTS * m->t_stride;
    if (be->mem_stats) be->mem_stats(be, NULL, &peak);
    double pk = strcmp(be->name, "cpu") ? gemm_peak(be, 8192) : gemm_peak(be, 1024);
    printf("\nsteady state (median of chunks %d..%d, %g frames a chunk):\n", off, chunks - 1, fr);
    printf("  encode %8.1f ms   %7.1f fps   (of which frame upload + prep %.1f ms)\n", 1e3 * me, fr / me,
           1e3 * med[C_PREP]);
    printf("  dit    %8.1f ms   %7.1f fps   %.1f TFLOP/s (%.0f%% of the %.2f TFLOP/s GEMM peak)\n", 1e3 * md,
           fr / md, fl / md / 1e12, 100.0 * fl / md / 1e12 / pk, pk);
    printf("         passes %.1f %.1f %.1f %.1f ms, cache pass %.1f ms\n", 1e3 * med[C_PASS], 1e3 * med[C_PASS + 1],
           1e3 * med[C_PASS + 2], 1e3 * med[C_PASS + 3], 1e3 * med[C_PASS + 4]);
    printf("  decode %8.1f ms   %7.1f fps\n", 1e3 * mdc, fr / mdc);
    printf("  output %8.1f ms   %7.1f fps   (RGB8 on the backend, download)\n", 1e3 * med[C_OUT], fr / med[C_OUT]);
    printf("  chunk  %8.1f ms   %7.1f fps end to end (stages run one after another)\n", 1e3 * mt, fr / mt);
    printf("  first chunk latency %.1f ms (33 frames)\n", 1e3 * first);
    printf("  prompt change (chunk 1, text encoder + caption K/V) %.1f ms\n", 1e3 * prompt1);
    if (be->mem_stats) {
      printf("  backend memory: weights %.2f GB, peak %.2f GB (one stream, text encoder included)\n", live0 / 1e9, peak / 1e9);
      printf("  backend memory without the text encoder: peak %.2f GB (its weights, %.2f GB, taken off)\n",
             (peak - m->text_bytes) / 1e9, m->text_bytes / 1e9);
    }
  }
  free(tm);
  sana_frame_free(f);
  sana_stream_free(s);
  sana_model_free(m);
  return rc;
}
