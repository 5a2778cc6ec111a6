/* `sana vae-run`: the VAE on tensors from a safetensors file, so any reference can be compared
 * without writing C. Tensor names (docs/vae.md):
 *   encode: in "video" [1, 3, T, H, W] (values in [-1, 1])  -> out "latents" [1, L, T', H/32, W/32]
 *   decode: in "latents" [1, L, T, h, w] (normalised)        -> out "video" [1, 3, (T-1)*8+1, 32h, 32w]
 * Outputs are F32; inputs may be F32, BF16 or F16. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/vae.h"

#define MAX_CHUNKS 4096

static int usage(FILE *f) {
  fprintf(f,
          "usage: sana vae-run encode|decode --vae DIR --inputs IN.safetensors --out OUT.safetensors\n"
          "                    [--chunks 33,24,24] [--mode tile|causal|prepend] [--backend cpu]\n"
          "  encode: reads 'video' [1,3,T,H,W], writes 'latents' [1,L,T',H/32,W/32] (normalised)\n"
          "          --chunks feeds the frames through one causal stream in chunks of these sizes\n"
          "  decode: reads 'latents' [1,L,T,h,w] (normalised), writes 'video' [1,3,(T-1)*8+1,32h,32w]\n"
          "          --mode tile (default, upstream offline), causal (causal decoder, 1 latent per call),\n"
          "          prepend (non-causal decoder, previous latent as context, 1 latent per call)\n");
  return f == stdout ? 0 : 2;
}

static int parse_chunks(const char *s, int *sizes, int *n) {
  *n = 0;
  while (*s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 1 || v > 1000000 || *n >= MAX_CHUNKS || (*end && *end != ',')) return -1;
    sizes[(*n)++] = (int)v;
    s = *end ? end + 1 : end;
  }
  return *n ? 0 : -1;
}

/* The input tensor as a backend tensor without its batch dimension of 1. */
static sana_status fetch(sana_backend *be, sana_ckpt *in, const char *name, sana_tensor *t, sana_error *err) {
  const sana_tensor *h = sana_ckpt_find(in, name);
  if (!h) return sana_err(err, SANA_ERR_MISSING, "%s: missing tensor '%s'", sana_ckpt_label(in), name);
  if (h->nd != 5 || h->ne[0] != 1)
    return sana_err(err, SANA_ERR_SHAPE, "%s: tensor '%s' must be 5-D with batch 1", sana_ckpt_label(in), name);
  if (h->dtype != SANA_F32 && h->dtype != SANA_BF16 && h->dtype != SANA_F16)
    return sana_err(err, SANA_ERR_DTYPE, "%s: tensor '%s' must be F32, BF16 or F16", sana_ckpt_label(in), name);
  sana_status s = sana_backend_tensor(be, t, be->act_dtype, 4, h->ne + 1, err);
  if (!s) be->upload(be, t, h);
  return s;
}

static sana_status write_out(sana_backend *be, const char *path, const char *name, const sana_tensor *t,
                             sana_error *err) {
  sana_tensor h = sana_tensor_make(SANA_F32, NULL, 5, (int64_t[]){1, t->ne[0], t->ne[1], t->ne[2], t->ne[3]});
  if (!(h.data = malloc(sana_nbytes(&h)))) return sana_err(err, SANA_ERR_NOMEM, "out of memory");
  be->download(be, &h, t);
  sana_status s = be->sync(be, err);
  if (!s) s = sana_safetensors_write(path, 1, &name, &h, err);
  free(h.data);
  return s;
}

int cmd_vae_run(int argc, char **argv) {
  const char *what = NULL, *dir = NULL, *inputs = NULL, *outp = NULL, *chunks = NULL, *mode_s = "tile",
             *backend = "cpu";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = !strcmp(a, "--vae")       ? &dir
                        : !strcmp(a, "--inputs")  ? &inputs
                        : !strcmp(a, "--out")     ? &outp
                        : !strcmp(a, "--chunks")  ? &chunks
                        : !strcmp(a, "--mode")    ? &mode_s
                        : !strcmp(a, "--backend") ? &backend
                                                  : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout);
    if (slot && i + 1 < argc) *slot = argv[++i];
    else if (!slot && !what && a[0] != '-') what = a;
    else {
      fprintf(stderr, "sana vae-run: unexpected argument '%s'\n", a);
      return usage(stderr);
    }
  }
  int encode = what && !strcmp(what, "encode"), mode = sana_vae_decode_mode_parse(mode_s);
  if (!what || (!encode && strcmp(what, "decode")) || !dir || !inputs || !outp) return usage(stderr);
  if (mode < 0) {
    fprintf(stderr, "sana vae-run: --mode must be tile, causal or prepend (got '%s')\n", mode_s);
    return 2;
  }
  int sizes[MAX_CHUNKS], n_chunks = 0;
  if (chunks && (!encode || parse_chunks(chunks, sizes, &n_chunks))) {
    fprintf(stderr, "sana vae-run: --chunks takes positive frame counts like 33,24,24 (encode only)\n");
    return 2;
  }

  sana_error err = {0};
  sana_backend *be = sana_backend_create(backend, &err);
  sana_vae *v = NULL;
  sana_ckpt *in = NULL;
  sana_tensor x = {0}, y = {0};
  sana_status s = be ? SANA_OK : err.code;
  if (!s) s = sana_vae_load(&v, be, dir, &err);
  if (!s) s = sana_ckpt_open(&in, inputs, &err);
  if (!s) s = fetch(be, in, encode ? "video" : "latents", &x, &err);
  if (!s && encode)
    s = n_chunks ? sana_vae_encode_chunked(v, &x, sizes, n_chunks, &y, NULL, &err) : sana_vae_encode(v, NULL, &x, &y, &err);
  else if (!s)
    s = sana_vae_decode(v, (sana_vae_decode_mode)mode, &x, &y, &err);
  if (!s) s = write_out(be, outp, encode ? "latents" : "video", &y, &err);
  if (x.data) be->free(be, x.data);
  if (y.data) be->free(be, y.data);
  if (in) sana_ckpt_close(in);
  sana_vae_free(v);
  if (be) sana_backend_destroy(be);
  if (s) {
    fprintf(stderr, "sana vae-run: %s\n", err.msg);
    return 1;
  }
  return 0;
}
