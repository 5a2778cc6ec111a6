/* The Gemma-2 encoder against Hugging Face transformers' Gemma2 (tests/fixtures/gemma, made by
 * tools/reference/gemma_fixture.py with transformers 5.17 in fp32): last hidden state with the
 * softcap (eager) and without (sdpa), with and without right padding, sharded fp32 and
 * single-file bf16 checkpoints; malformed directories are refused with clear messages. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/gemma.h"
#include "tests/test_util.h"

/* fp32 everywhere; the reference and ours differ only in summation order (~1e-13 seen). */
#define TOL 1e-9

static sana_backend *be;

static int32_t *ids32(const sana_tensor *t, int64_t off, int n) {
  int32_t *o = malloc(sizeof(int32_t) * (size_t)n);
  for (int i = 0; i < n; i++) o[i] = (int32_t)((const int64_t *)t->data)[off + i];
  return o;
}

/* Runs the encoder on row `row` of ids/mask [B, T] (first n tokens) and returns host [n, H]. */
static sana_tensor run(sana_gemma *g, const sana_tensor *ids, const sana_tensor *mask, int row, int n) {
  int64_t T = ids->ne[ids->nd - 1], H = sana_gemma_config_of(g)->hidden_size;
  int32_t *id = ids32(ids, row * T, n), *m = ids32(mask, row * T, n);
  sana_tensor y;
  sana_error err = {0};
  CHECK_OK(sana_backend_tensor(be, &y, be->act_dtype, 2, (int64_t[]){n, H}, &err), &err);
  CHECK_OK(sana_gemma_forward(g, id, m, n, &y, &err), &err);
  sana_tensor h = sana_test_download(be, &y);
  be->free(be, y.data);
  free(id);
  free(m);
  return h;
}

static void test_encoder(void) {
  sana_gemma *g;
  sana_error err = {0};
  CHECK_OK(sana_gemma_load(&g, be, sana_fixture_path("gemma/encoder"), &err), &err);
  if (!g) return;
  CHECK(sana_gemma_softcap(g) == 0, "default must be the sdpa behaviour (no softcap)");
  const sana_gemma_config *c = sana_gemma_config_of(g);
  CHECK(c->num_hidden_layers == 4 && c->sliding[0] && !c->sliding[1] && c->sliding_window == 8,
        "config: layers %d, sliding %d%d, window %d", c->num_hidden_layers, c->sliding[0], c->sliding[1],
        c->sliding_window);
  sana_ckpt *fx = sana_fixture_open("gemma/encoder.safetensors");
  const sana_tensor *ids = sana_ckpt_find(fx, "input_ids"), *mask = sana_ckpt_find(fx, "attention_mask");
  int64_t T = ids->ne[1], H = c->hidden_size;
  for (int cap = 0; cap < 2; cap++) {
    sana_gemma_set_softcap(g, cap);
    const sana_tensor *ref = sana_ckpt_find(fx, cap ? "hidden_eager" : "hidden_sdpa");
    const sana_tensor *other = sana_ckpt_find(fx, cap ? "hidden_sdpa" : "hidden_eager");
    for (int row = 0; row < 2; row++) {
      sana_tensor got = run(g, ids, mask, row, (int)T);
      sana_tensor r = sana_tensor_rows(ref, row, 1), o = sana_tensor_rows(other, row, 1);
      char what[96];
      snprintf(what, sizeof what, "%s, %s", cap ? "softcap (eager)" : "no softcap (sdpa)",
               row ? "right-padded 14/20" : "unpadded 20");
      sana_check_close(what, &got, &r, TOL);
      /* the setting must matter on this fixture, or the test above proves nothing */
      CHECK(sana_nmse(&got, &o) > 1e-4, "%s: also matches the other attention (nmse %.3e)", what,
            sana_nmse(&got, &o));
      free(got.data);
    }
  }
  /* the padded sequence cut to its 14 real tokens: same valid rows as a run without padding */
  sana_gemma_set_softcap(g, 1);
  sana_tensor got = run(g, ids, mask, 1, 14);
  const sana_tensor *un = sana_ckpt_find(fx, "hidden_eager_unpadded");
  sana_check_close("softcap, unpadded 14 tokens", &got, un, TOL);
  free(got.data);
  (void)H;
  sana_ckpt_close(fx);
  sana_gemma_free(g);
}

/* The bf16 single-file model with the real vocabulary, on the prompt fixture's token ids. */
static void test_prompt_model(void) {
  sana_gemma *g;
  sana_error err = {0};
  CHECK_OK(sana_gemma_load(&g, be, sana_fixture_path("gemma/prompt"), &err), &err);
  if (!g) return;
  sana_ckpt *fx = sana_fixture_open("gemma/prompt.safetensors");
  for (int p = 0; p < 4; p++) {
    char k[64];
    snprintf(k, sizeof k, "p%d.ids_full", p);
    const sana_tensor *ids = sana_ckpt_find(fx, k);
    snprintf(k, sizeof k, "p%d.mask_full", p);
    const sana_tensor *mask = sana_ckpt_find(fx, k);
    CHECK(ids && mask, "fixture p%d", p);
    if (!ids || !mask) continue;
    int n = (int)ids->ne[0];
    for (int cap = 0; cap < 2; cap++) {
      sana_gemma_set_softcap(g, cap);
      sana_tensor full = run(g, ids, mask, 0, n);
      /* rows [0] + the last 299 (or all 300 for the negative prompt) */
      int64_t H = sana_gemma_config_of(g)->hidden_size, ns = n > 300 ? 300 : n;
      float *sel = malloc(sizeof(float) * (size_t)(ns * H));
      for (int64_t r = 0; r < ns; r++) {
        int64_t src = (n > 300 && r > 0) ? n - 300 + r : r;
        memcpy(sel + r * H, (float *)full.data + src * H, sizeof(float) * (size_t)H);
      }
      sana_tensor got = SANA_T(SANA_F32, sel, ns, H);
      snprintf(k, sizeof k, "p%d.%s", p, cap ? "y_eager" : "y_sdpa");
      const sana_tensor *ref = sana_ckpt_find(fx, k);
      char what[96];
      snprintf(what, sizeof what, "bf16 model, prompt %d (%d tokens), %s", p, n, cap ? "softcap" : "no softcap");
      sana_check_close(what, &got, ref, TOL);
      free(sel);
      free(full.data);
    }
  }
  sana_ckpt_close(fx);
  sana_gemma_free(g);
}

/* ---- malformed directories ---- */

static char tmpdir[64];

static void put(const char *name, const char *text) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  FILE *f = fopen(p, "w");
  fputs(text, f);
  fclose(f);
}

static void link_shards(int upto) {
  for (int i = 1; i <= upto; i++) {
    char src[4096], dst[256], name[64];
    snprintf(name, sizeof name, "model-%05d-of-00009.safetensors", i);
    snprintf(src, sizeof src, "%s", sana_fixture_path("gemma/encoder"));
    strcat(src, "/");
    strcat(src, name);
    snprintf(dst, sizeof dst, "%s/%s", tmpdir, name);
    unlink(dst);
    CHECK(symlink(src, dst) == 0, "symlink %s", dst);
  }
}

/* text with `from` replaced by `to` (first occurrence; from NULL: unchanged); frees text. */
static char *replace(char *text, const char *from, const char *to) {
  char *at = from ? strstr(text, from) : NULL;
  CHECK(!from || at, "fixture text lacks '%s'", from);
  if (!at) return text;
  char *out = malloc(strlen(text) + strlen(to) + 1);
  memcpy(out, text, (size_t)(at - text));
  strcpy(out + (at - text), to);
  strcat(out, at + strlen(from));
  free(text);
  return out;
}

/* the encoder fixture's config.json with up to two replacements */
static void put_config2(const char *f1, const char *t1, const char *f2, const char *t2) {
  char *cfg = sana_test_read(sana_fixture_path("gemma/encoder/config.json"), NULL);
  cfg = replace(replace(cfg, f1, t1), f2, t2);
  put("config.json", cfg);
  free(cfg);
}
static void put_config(const char *from, const char *to) { put_config2(from, to, NULL, NULL); }

static void put_index(const char *from, const char *to) {
  char *ix = replace(sana_test_read(sana_fixture_path("gemma/encoder/model.safetensors.index.json"), NULL), from, to);
  put("model.safetensors.index.json", ix);
  free(ix);
}

static void expect_refused(const char *what, sana_status code, const char *needle, const char *needle2) {
  sana_gemma *g = NULL;
  sana_error err = {0};
  sana_status s = sana_gemma_load(&g, be, tmpdir, &err);
  CHECK(s == code, "%s: status %s (expected %s): %s", what, sana_status_str(s), sana_status_str(code), err.msg);
  CHECK(strstr(err.msg, needle), "%s: message '%s' lacks '%s'", what, err.msg, needle);
  CHECK(!needle2 || strstr(err.msg, needle2), "%s: message '%s' lacks '%s'", what, err.msg, needle2);
  printf("  ok   refused %-30s %s\n", what, err.msg);
  sana_gemma_free(g);
}

static void test_malformed(void) {
  strcpy(tmpdir, "/tmp/sana_gemma_XXXXXX");
  CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
  expect_refused("no config", SANA_ERR_IO, "config.json", NULL);
  put("config.json", "{\"hidden_size\": 64");
  expect_refused("truncated config", SANA_ERR_FORMAT, "config.json", "JSON");
  put_config("\"hidden_size\": 64,", "");
  expect_refused("no hidden_size", SANA_ERR_MISSING, "hidden_size", "config.json");
  put_config("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3");
  expect_refused("heads not multiple", SANA_ERR_FORMAT, "num_key_value_heads", NULL);
  put_config("\"hidden_activation\": \"gelu_pytorch_tanh\"", "\"hidden_activation\": \"silu\"");
  expect_refused("other activation", SANA_ERR_UNSUPPORTED, "silu", NULL);
  put_config("\"sliding_attention\",\n    \"full_attention\",", "");
  expect_refused("short layer_types", SANA_ERR_FORMAT, "layer_types", NULL);
  put_config(NULL, NULL);
  expect_refused("no weights", SANA_ERR_MISSING, "model.safetensors", NULL);
  put_index(NULL, NULL);
  link_shards(8);
  expect_refused("missing shard", SANA_ERR_MISSING, "model-00009-of-00009.safetensors", "index.json");
  link_shards(9);
  put_index("\"model.norm.weight\"", "\"model.norm2.weight\": \"model-00001-of-00009.safetensors\",\n    \"model.norm.weight\"");
  expect_refused("index key not in shard", SANA_ERR_MISSING, "model.norm2.weight", "model-00001-of-00009");
  put_index("\"model-00002-of-00009.safetensors\"", "\"../model-00002-of-00009.safetensors\"");
  expect_refused("shard outside the dir", SANA_ERR_FORMAT, "not a shard file name", NULL);
  put_index(NULL, NULL);
  put_config("\"hidden_size\": 64", "\"hidden_size\": 96");
  expect_refused("hidden disagrees", SANA_ERR_SHAPE, "config.json disagrees", "embed_tokens.weight");
  put_config("\"intermediate_size\": 128", "\"intermediate_size\": 256");
  expect_refused("intermediate disagrees", SANA_ERR_SHAPE, "mlp.gate_proj.weight", "[256, 64]");
  put_config2("\"num_hidden_layers\": 4", "\"num_hidden_layers\": 2", /* layer_types must match too */
              "\"sliding_attention\",\n    \"full_attention\",", "");
  expect_refused("fewer layers", SANA_ERR_FORMAT, "layers.2.", "num_hidden_layers 2");
  put_config("\"num_hidden_layers\": 4", "\"num_hidden_layers\": 5");
  expect_refused("more layers", SANA_ERR_FORMAT, "layer_types", NULL);
  put_config(NULL, NULL);
  sana_gemma *g = NULL;
  sana_error err = {0};
  CHECK_OK(sana_gemma_load(&g, be, tmpdir, &err), &err); /* the repaired copy loads */
  if (g) {
    int32_t bad[2] = {2, 99999};
    sana_tensor y;
    sana_backend_tensor(be, &y, be->act_dtype, 2, (int64_t[]){2, 64}, &err);
    CHECK(sana_gemma_forward(g, bad, NULL, 2, &y, &err) == SANA_ERR_ARG && strstr(err.msg, "99999"),
          "out-of-vocabulary id: %s", err.msg);
    be->free(be, y.data);
    sana_gemma_free(g);
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
  sana_error err = {0};
  be = sana_backend_create("cpu", &err);
  if (!be) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  test_encoder();
  test_prompt_model();
  test_malformed();
  sana_backend_destroy(be);
  return sana_test_done("test_gemma");
}
