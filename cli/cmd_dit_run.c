/* `sana dit-run`: the streaming DiT loop on tensors from a safetensors file (docs/dit.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "io/safetensors.h"
#include "model/dit.h"

#define MAX_OUT 4096

typedef struct {
  sana_backend *be;
  int chunk, n_chunks, caches, blocks; /* caches, blocks: what else to write (--caches, --blocks) */
  int64_t T, hl, wl, cin;
  int n;
  char *names[MAX_OUT];
  sana_tensor ts[MAX_OUT];
  int oom;
} collector;

static void keep(collector *c, const char *name, sana_tensor t) {
  if (c->n == MAX_OUT || !(c->names[c->n] = strdup(name))) {
    c->oom = 1;
    free(t.data);
    return;
  }
  c->ts[c->n++] = t;
}

static void on_chunk_start(void *vc, int chunk, int64_t f0, int64_t T) {
  collector *c = vc;
  c->chunk = chunk;
  c->T = T;
}

/* A backend tensor (any dtype) downloaded to a new host F32 tensor of the same shape. */
static void keep_download(collector *c, const char *name, const sana_tensor *t) {
  sana_tensor h = sana_tensor_make(SANA_F32, NULL, t->nd, t->ne);
  if (!(h.data = malloc(sana_nbytes(&h)))) {
    c->oom = 1;
    return;
  }
  c->be->download(c->be, &h, t);
  keep(c, name, h);
}

/* The residual after each block of the first denoising pass, token-major [N, C], as the
 * reference's chunk{c}.step0.blocks.{i}: where a divergence starts. */
static void on_block(void *vc, int step, int block, const sana_tensor *h) {
  collector *c = vc;
  if (!c->blocks || step != 0) return;
  char name[64];
  snprintf(name, sizeof name, "chunk%d.step0.blocks.%d", c->chunk, block);
  keep_download(c, name, h);
}

/* The caches the t = 0 pass left, named as the reference's chunk{c}.cache.blocks.{i}.*: GDN
 * states, the t-conv frame, and for softmax blocks this chunk's own K/V rows (the window is the
 * sink, chunk 0, then from chunk 1 on this chunk). */
static void keep_caches(collector *c, int chunk, sana_dit_state *st) {
  char name[96];
  for (int i = 0; i < SANA_DIT_MAX_DEPTH; i++) {
    sana_tensor a, b;
    if (!sana_dit_state_tconv(st, i, &a)) break;
    snprintf(name, sizeof name, "chunk%d.cache.blocks.%d.tconv", chunk, i);
    keep_download(c, name, &a);
    if (sana_dit_state_gdn(st, i, &a, &b)) {
      snprintf(name, sizeof name, "chunk%d.cache.blocks.%d.state_kv", chunk, i);
      keep_download(c, name, &a);
      snprintf(name, sizeof name, "chunk%d.cache.blocks.%d.state_z", chunk, i);
      keep_download(c, name, &b);
    } else if (sana_dit_state_window(st, i, &a, &b)) {
      int64_t rows = c->T * c->hl * c->wl, r0 = chunk ? a.ne[0] - rows : 0;
      if (r0 < 0) continue;
      sana_tensor k = sana_tensor_rows(&a, r0, rows), v = sana_tensor_rows(&b, r0, rows);
      snprintf(name, sizeof name, "chunk%d.cache.blocks.%d.k", chunk, i);
      keep_download(c, name, &k);
      snprintf(name, sizeof name, "chunk%d.cache.blocks.%d.v", chunk, i);
      keep_download(c, name, &v);
    }
  }
}

static void on_velocity(void *vc, int step, const sana_tensor *v) {
  collector *c = vc;
  int64_t N = sana_numel(v), S = c->hl * c->wl;
  float *tok = malloc(sizeof(float) * (size_t)N), *cthw = malloc(sizeof(float) * (size_t)N);
  if (!tok || !cthw) {
    free(tok), free(cthw);
    c->oom = 1;
    return;
  }
  sana_tensor h = SANA_T(SANA_F32, tok, N);
  c->be->download(c->be, &h, v);
  sana_dit_scatter_chunk(cthw, tok, c->cin, c->T, S, 0, c->T);
  free(tok);
  char name[64];
  snprintf(name, sizeof name, "chunk%d.v%d", c->chunk, step);
  keep(c, name, SANA_T(SANA_F32, cthw, c->cin, c->T, c->hl, c->wl));
}

static void on_chunk_end(void *vc, int chunk, sana_dit_state *st, const sana_tensor *x) {
  collector *c = vc;
  sana_tensor t = *x;
  t.data = malloc(sana_nbytes(x));
  if (!t.data) {
    c->oom = 1;
    return;
  }
  memcpy(t.data, x->data, sana_nbytes(x));
  char name[64];
  snprintf(name, sizeof name, "chunk%d.x", chunk);
  keep(c, name, t);
  if (c->caches && chunk + 1 < c->n_chunks) keep_caches(c, chunk, st);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: sana dit-run --weights DIT.pth --inputs IN.safetensors --out OUT.safetensors [--backend cpu|cuda]\n"
          "                    [--steps 1..4 (default 4; fewer stop each chunk early, for checks)] [--caches] [--blocks]\n"
          "  IN holds noise and source [C, T, H, W], text [L, cap], mask [L] and optionally chunk_frames [n]\n"
          "  (default: 5 + 3 + 3 + ... with the remainder on the first chunk). OUT receives chunk{c}.v{i},\n"
          "  chunk{c}.x and latents, all F32 [C, T, H, W]; --caches adds the caches after each cache pass\n"
          "  (chunk{c}.cache.blocks.{i}.*), --blocks each block's residual in the first pass of each chunk\n"
          "  (chunk{c}.step0.blocks.{i}). See docs/dit.md.\n");
}

static const sana_tensor *need(sana_ckpt *in, const char *name, const char *path) {
  const sana_tensor *t = sana_ckpt_find(in, name);
  if (!t) fprintf(stderr, "sana dit-run: %s: missing tensor '%s'\n", path, name);
  return t;
}

int cmd_dit_run(int argc, char **argv) {
  const char *weights = NULL, *inputs = NULL, *out = NULL, *backend = "cpu";
  int steps = 4, caches = 0, blocks = 0;
  static const struct option opts[] = {{"weights", required_argument, 0, 'w'}, {"inputs", required_argument, 0, 'i'},
                                       {"out", required_argument, 0, 'o'},     {"backend", required_argument, 0, 'b'},
                                       {"steps", required_argument, 0, 's'},   {"help", no_argument, 0, 'h'},
                                       {"caches", no_argument, 0, 'c'},        {"blocks", no_argument, 0, 'k'},
                                       {0, 0, 0, 0}};
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "w:i:o:b:s:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'w': weights = optarg; break;
    case 'i': inputs = optarg; break;
    case 'o': out = optarg; break;
    case 'b': backend = optarg; break;
    case 's': steps = atoi(optarg); break;
    case 'c': caches = 1; break;
    case 'k': blocks = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (!weights || !inputs || !out || steps < 1 || steps > 4) {
    usage(stderr);
    return 2;
  }
  int rc = 1;
  sana_error err = {0};
  sana_ckpt *w = NULL, *in = NULL;
  sana_backend *be = NULL;
  sana_dit *d = NULL;
  collector *col = calloc(1, sizeof *col);
  sana_tensor lat = {0};
  int64_t *frames = NULL;
  if (!col) goto done;
  if (sana_ckpt_open(&in, inputs, &err) || !(be = sana_backend_create(backend, &err)) ||
      sana_ckpt_open(&w, weights, &err) || sana_dit_load(&d, be, w, &err)) {
    fprintf(stderr, "sana dit-run: %s\n", err.msg);
    goto done;
  }
  const sana_tensor *noise = need(in, "noise", inputs), *source = need(in, "source", inputs);
  const sana_tensor *text = need(in, "text", inputs), *mask = need(in, "mask", inputs);
  if (!noise || !source || !text || !mask) goto done;
  if (noise->nd < 4) {
    fprintf(stderr, "sana dit-run: %s: 'noise' must be [C, T, H, W]\n", inputs);
    goto done;
  }
  const int64_t *ne = noise->ne + noise->nd - 4, t_all = ne[1];
  const sana_tensor *cf = sana_ckpt_find(in, "chunk_frames");
  int n_chunks;
  if (cf) { /* given: any integer dtype */
    n_chunks = (int)sana_numel(cf);
    frames = calloc((size_t)(n_chunks ? n_chunks : 1), sizeof *frames);
    for (int c = 0; frames && c < n_chunks; c++)
      frames[c] = cf->dtype == SANA_I64 ? ((const int64_t *)cf->data)[c]
                  : cf->dtype == SANA_I32 ? ((const int32_t *)cf->data)[c] : -1;
  } else { /* upstream's schedule: chunks of 3 latent frames, the remainder added to the first */
    n_chunks = t_all >= 3 ? (int)(t_all / 3) : 1;
    frames = calloc((size_t)n_chunks, sizeof *frames);
    for (int c = 0; frames && c < n_chunks; c++) frames[c] = c ? 3 : t_all - 3 * (n_chunks - 1);
  }
  lat = SANA_T(SANA_F32, malloc(sizeof(float) * (size_t)sana_numel(noise)), ne[0], ne[1], ne[2], ne[3]);
  if (!frames || !lat.data) {
    fprintf(stderr, "sana dit-run: out of memory\n");
    goto done;
  }
  *col = (collector){.be = be, .hl = ne[2], .wl = ne[3], .cin = ne[0], .n_chunks = n_chunks, .caches = caches,
                     .blocks = blocks};
  sana_dit_observer obs = {on_block, on_velocity, on_chunk_start, on_chunk_end, col};
  sana_dit_run_io io = {noise, source, text, mask, frames, n_chunks, &lat, steps};
  if (sana_dit_run_stream(d, &io, &obs, &err)) {
    fprintf(stderr, "sana dit-run: %s\n", err.msg);
    goto done;
  }
  if (col->oom || col->n == MAX_OUT) {
    fprintf(stderr, "sana dit-run: out of memory collecting outputs\n");
    goto done;
  }
  col->names[col->n] = "latents";
  col->ts[col->n] = lat;
  if (sana_safetensors_write(out, col->n + 1, (const char *const *)col->names, col->ts, &err)) {
    fprintf(stderr, "sana dit-run: %s\n", err.msg);
    goto done;
  }
  printf("sana dit-run: %d chunks, %d velocities -> %s\n", n_chunks, steps * n_chunks, out);
  rc = 0;
done:
  if (col)
    for (int i = 0; i < col->n; i++) free(col->names[i]), free(col->ts[i].data);
  free(col);
  free(lat.data);
  free(frames);
  sana_dit_free(d);
  sana_backend_destroy(be);
  sana_ckpt_close(w);
  sana_ckpt_close(in);
  return rc;
}
