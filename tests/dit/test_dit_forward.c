/* The C DiT (CPU backend, fp32) against our PyTorch reference (tools/reference/sana_dit.py):
 * three chunks of 5, 3, 3 frames in a row, so the GDN states, the sink + previous softmax
 * window and the t-conv frames all carry over. Compared: the residual after every block of
 * each chunk's first step, every velocity, every chunk result, the caches after each cache pass
 * and the final latents.
 *
 * Tolerance: NMSE 1e-9. The reference is fp32; it agrees with an fp64 run of itself to NMSE
 * 3e-13 at worst on these tensors, so 1e-9 leaves room for summation-order noise while any
 * real mistake (a wrong eps, a missed term, a stale cache) shows up as 1e-4 or worse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/dit.h"
#include "tests/test_util.h"

#define TOL 1e-9

typedef struct {
  sana_backend *be;
  sana_ckpt *ex;
  int chunk, n_chunks, blocks_seen, vel_seen;
  int64_t T, hl, wl, cin;
} ctx;

static const sana_tensor *expect(ctx *c, const char *name) {
  const sana_tensor *t = sana_ckpt_find(c->ex, name);
  CHECK(t != NULL, "expected tensor '%s' missing from the fixture", name);
  return t;
}

static void compare(ctx *c, const char *name, const sana_tensor *dev) {
  const sana_tensor *ref = expect(c, name);
  if (!ref) return;
  sana_tensor got = sana_test_download(c->be, dev);
  sana_check_close(name, &got, ref, TOL);
  free(got.data);
}

static void on_block(void *vc, int step, int block, const sana_tensor *h) {
  ctx *c = vc;
  if (step != 0) return;
  char name[96];
  snprintf(name, sizeof name, "chunk%d.step0.blocks.%d", c->chunk, block);
  compare(c, name, h);
  c->blocks_seen++;
}

static void on_velocity(void *vc, int step, const sana_tensor *v) {
  ctx *c = vc;
  char name[64];
  snprintf(name, sizeof name, "chunk%d.v%d", c->chunk, step);
  /* ours is token-major [N, Cin]; the fixture keeps upstream's [Cin, T, Hl, Wl] */
  sana_tensor tok = sana_test_download(c->be, v);
  int64_t S = c->hl * c->wl;
  float *cthw = malloc(sizeof(float) * (size_t)sana_numel(&tok));
  sana_dit_scatter_chunk(cthw, tok.data, c->cin, c->T, S, 0, c->T);
  sana_tensor got = SANA_T(SANA_F32, cthw, c->cin, c->T, c->hl, c->wl);
  const sana_tensor *ref = expect(c, name);
  if (ref) sana_check_close(name, &got, ref, TOL);
  free(cthw);
  free(tok.data);
  c->vel_seen++;
}

static void on_chunk_start(void *vc, int chunk, int64_t f0, int64_t T) {
  ctx *c = vc;
  c->chunk = chunk;
  c->T = T;
}

static void on_chunk_end(void *vc, int chunk, sana_dit_state *st, const sana_tensor *x) {
  ctx *c = vc;
  char name[96];
  snprintf(name, sizeof name, "chunk%d.x", chunk);
  const sana_tensor *ref = expect(c, name);
  if (ref) sana_check_close(name, x, ref, TOL);
  if (chunk + 1 == c->n_chunks) return; /* no cache pass after the last chunk */
  for (int i = 0;; i++) {
    sana_tensor a, b;
    snprintf(name, sizeof name, "chunk%d.cache.blocks.%d.tconv", chunk, i);
    if (!sana_ckpt_find(c->ex, name)) break;
    CHECK(sana_dit_state_tconv(st, i, &a), "block %d has no t-conv cache after chunk %d", i, chunk);
    compare(c, name, &a);
    if (sana_dit_state_gdn(st, i, &a, &b)) {
      snprintf(name, sizeof name, "chunk%d.cache.blocks.%d.state_kv", chunk, i);
      compare(c, name, &a);
      snprintf(name, sizeof name, "chunk%d.cache.blocks.%d.state_z", chunk, i);
      compare(c, name, &b);
    } else if (sana_dit_state_window(st, i, &a, &b)) {
      /* the window is the sink (chunk 0) then, from chunk 1 on, this chunk */
      const sana_tensor *k0, *kc;
      snprintf(name, sizeof name, "chunk0.cache.blocks.%d.k", i);
      k0 = expect(c, name);
      snprintf(name, sizeof name, "chunk%d.cache.blocks.%d.k", chunk, i);
      kc = expect(c, name);
      if (!k0 || !kc) continue;
      int64_t n0 = k0->ne[0], want = n0 + (chunk ? kc->ne[0] : 0);
      CHECK(a.ne[0] == want, "block %d window after chunk %d has %lld rows, expected %lld", i, chunk,
            (long long)a.ne[0], (long long)want);
      if (a.ne[0] != want) continue;
      for (int kv = 0; kv < 2; kv++) {
        sana_tensor *win = kv ? &b : &a;
        sana_tensor sink = sana_tensor_rows(win, 0, n0);
        snprintf(name, sizeof name, "chunk0.cache.blocks.%d.%s", i, kv ? "v" : "k");
        compare(c, name, &sink);
        if (chunk) {
          sana_tensor prev = sana_tensor_rows(win, n0, kc->ne[0]);
          snprintf(name, sizeof name, "chunk%d.cache.blocks.%d.%s", chunk, i, kv ? "v" : "k");
          compare(c, name, &prev);
        }
      }
    }
  }
}

static void check_config(const sana_dit_config *cfg) {
  CHECK(cfg->depth == 4 && cfg->hidden == 64 && cfg->heads == 2 && cfg->head_dim == 32,
        "config depth %d hidden %d heads %d head_dim %d", cfg->depth, cfg->hidden, cfg->heads, cfg->head_dim);
  CHECK(cfg->in_ch == 32 && cfg->out_ch == 32 && cfg->cap_ch == 64 && cfg->ffn == 192 && cfg->freq_dim == 256,
        "config channels in %d out %d cap %d ffn %d freq %d", cfg->in_ch, cfg->out_ch, cfg->cap_ch, cfg->ffn, cfg->freq_dim);
  CHECK(!cfg->is_softmax[0] && !cfg->is_softmax[1] && !cfg->is_softmax[2] && cfg->is_softmax[3] &&
        cfg->softmax_qk_taps == 3, "softmax blocks / streaming q/k not detected");
}

int main(void) {
  sana_error err = {0};
  sana_backend *be = sana_backend_cpu_create(&err);
  sana_ckpt *w = sana_fixture_open("dit/dit_tiny.pth");
  sana_ckpt *in = sana_fixture_open("dit/inputs.safetensors");
  ctx c = {.be = be, .ex = sana_fixture_open("dit/expected.safetensors")};
  sana_dit *d = NULL;
  CHECK_OK(sana_dit_load(&d, be, w, &err), &err);
  if (!d) return sana_test_done("test_dit_forward");
  check_config(&d->cfg);

  const sana_tensor *noise = sana_ckpt_find(in, "noise"), *frames = sana_ckpt_find(in, "chunk_frames");
  c.cin = noise->ne[0], c.hl = noise->ne[2], c.wl = noise->ne[3];
  c.n_chunks = (int)sana_numel(frames);
  sana_tensor lat = SANA_T(SANA_F32, malloc(sana_nbytes(noise)), noise->ne[0], noise->ne[1], noise->ne[2], noise->ne[3]);
  sana_dit_run_io io = {noise, sana_ckpt_find(in, "source"), sana_ckpt_find(in, "text"), sana_ckpt_find(in, "mask"),
                        frames->data, c.n_chunks, &lat, 4};
  sana_dit_observer obs = {on_block, on_velocity, on_chunk_start, on_chunk_end, &c};
  CHECK_OK(sana_dit_run_stream(d, &io, &obs, &err), &err);
  CHECK(c.blocks_seen == 3 * 4, "saw %d block outputs of step 0", c.blocks_seen);
  CHECK(c.vel_seen == 3 * 4, "saw %d velocities", c.vel_seen);
  sana_check_close("latents", &lat, expect(&c, "latents"), TOL);

  free(lat.data);
  sana_dit_free(d);
  sana_ckpt_close(w);
  sana_ckpt_close(in);
  sana_ckpt_close(c.ex);
  sana_backend_destroy(be);
  return sana_test_done("test_dit_forward");
}
