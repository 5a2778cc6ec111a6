/* DiT loading: config detection from the tensors, and strictness. Variants of the fixture
 * checkpoint (a key dropped, a shape changed, a key added, softmax q/k made bidirectional) are
 * built in memory from its tensors; each must be refused naming the key, or detected. */
#include <stdlib.h>
#include <string.h>

#include "model/dit.h"
#include "tests/test_util.h"

static sana_ckpt *src;

/* The fixture's tensors, minus `drop`, with `swap` given the shape `ne` (rank nd), plus `add`. */
static sana_ckpt *variant(const char *drop, const char *swap, int nd, const int64_t *ne, const char *add) {
  sana_error err = {0};
  sana_ckpt *c = sana_ckpt_new("variant.pth");
  for (int i = 0; i < sana_ckpt_count(src); i++) {
    const char *name = sana_ckpt_name(src, i);
    sana_tensor t = *sana_ckpt_tensor(src, i);
    if (drop && !strcmp(name, drop)) continue;
    if (swap && !strcmp(name, swap)) t = sana_tensor_make(t.dtype, t.data, nd, ne); /* fewer elements: same data */
    CHECK_OK(sana_ckpt_push(c, name, t, &err), &err);
    if (add && !strcmp(name, "pos_embed")) CHECK_OK(sana_ckpt_push(c, add, t, &err), &err);
  }
  CHECK_OK(sana_ckpt_finish(c, &err), &err);
  return c;
}

static void expect_refused(const char *what, sana_ckpt *c, sana_status code, const char *needle) {
  sana_error err = {0};
  sana_backend *be = sana_backend_cpu_create(&err);
  sana_dit *d = NULL;
  sana_status s = sana_dit_load(&d, be, c, &err);
  CHECK(s == code, "%s: status %s, expected %s (%s)", what, sana_status_str(s), sana_status_str(code), err.msg);
  CHECK(strstr(err.msg, needle) && strstr(err.msg, "variant.pth"), "%s: message '%s' lacks '%s' or the file", what,
        err.msg, needle);
  CHECK(d == NULL, "%s: returned a model", what);
  sana_dit_free(d);
  sana_backend_destroy(be);
  sana_ckpt_close(c);
}

int main(void) {
  src = sana_fixture_open("dit/dit_tiny.pth");
  sana_error err = {0};

  expect_refused("missing A_log", variant("blocks.1.attn.A_log", NULL, 0, NULL, NULL), SANA_ERR_MISSING,
                 "blocks.1.attn.A_log");
  expect_refused("t_conv with kernel 1", variant(NULL, "blocks.2.mlp.t_conv.weight", 4, (int64_t[]){64, 64, 1, 1}, NULL),
                 SANA_ERR_SHAPE, "blocks.2.mlp.t_conv.weight");
  expect_refused("extra key", variant(NULL, NULL, 0, NULL, "blocks.0.attn.extra"), SANA_ERR_FORMAT,
                 "blocks.0.attn.extra");
  expect_refused("GDN q with kernel 3", variant(NULL, "blocks.0.attn.q.weight", 3, (int64_t[]){64, 64, 3}, NULL),
                 SANA_ERR_SHAPE, "blocks.0.attn.q.weight");

  /* pos_embed is an unused buffer upstream fills when absent: loading without it works */
  sana_ckpt *c = variant("pos_embed", NULL, 0, NULL, NULL);
  sana_backend *be = sana_backend_cpu_create(&err);
  sana_dit *d = NULL;
  CHECK_OK(sana_dit_load(&d, be, c, &err), &err);
  sana_dit_free(d);
  sana_backend_destroy(be);
  sana_ckpt_close(c);

  /* Linear softmax q/k: the bidirectional checkpoint's layout */
  c = variant(NULL, "blocks.3.attn.q.weight", 2, (int64_t[]){64, 64}, NULL);
  sana_dit_config cfg;
  CHECK_OK(sana_dit_detect_config(c, &cfg, &err), &err);
  CHECK(cfg.softmax_qk_taps == 1 && cfg.is_softmax[3] && cfg.heads == 2, "bidirectional q/k: taps %d", cfg.softmax_qk_taps);
  sana_ckpt_close(c);

  sana_ckpt_close(src);
  return sana_test_done("test_dit_load");
}
