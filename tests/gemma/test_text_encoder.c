/* The full prompt path (chi prefix, strip, max_len, truncation, padding, BOS + last 299, Gemma)
 * against the reference made with transformers and the real tokenizer.json
 * (tests/fixtures/gemma/prompt.safetensors); the prompt cache; `sana encode-prompt`. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/prompt.h"
#include "model/text_encoder.h"
#include "tests/test_util.h"

#define TOL 1e-9

static sana_backend *be;
static const char *tokjson;

/* The prompt of fixture case p: its text is chi + prompt.strip() for the positive cases. */
static const char *prompt_of(sana_ckpt *fx, int p, size_t *len, int *positive) {
  char k[32];
  snprintf(k, sizeof k, "p%d.text_utf8", p);
  const sana_tensor *t = sana_ckpt_find(fx, k);
  const char *text = t ? t->data : "", *chi = sana_prompt_chi();
  size_t n = t ? (size_t)sana_numel(t) : 0, c = strlen(chi);
  *positive = n >= c && !memcmp(text, chi, c);
  *len = *positive ? n - c : n;
  return *positive ? text + c : text;
}

static void check_ids(const char *what, const int32_t *got, const sana_tensor *ref) {
  int bad = -1;
  for (int i = 0; i < 300 && bad < 0; i++)
    if (got[i] != ((const int64_t *)ref->data)[i]) bad = i;
  CHECK(ref->ne[0] == 300 && bad < 0, "%s differs at %d: %d vs %lld", what, bad, bad >= 0 ? got[bad] : 0,
        bad >= 0 ? (long long)((const int64_t *)ref->data)[bad] : 0LL);
}

static void compare(sana_ckpt *fx, int p, const sana_prompt_embedding *e, int softcap) {
  char k[32], what[80];
  snprintf(k, sizeof k, "p%d.ids", p);
  snprintf(what, sizeof what, "prompt %d ids", p);
  check_ids(what, e->ids, sana_ckpt_find(fx, k));
  snprintf(k, sizeof k, "p%d.mask", p);
  snprintf(what, sizeof what, "prompt %d mask", p);
  check_ids(what, e->mask, sana_ckpt_find(fx, k));
  snprintf(k, sizeof k, "p%d.%s", p, softcap ? "y_eager" : "y_sdpa");
  sana_tensor y = SANA_T(SANA_F32, e->y, e->tokens, e->hidden);
  snprintf(what, sizeof what, "prompt %d y [300, %d], %s", p, e->hidden, softcap ? "softcap" : "default");
  sana_check_close(what, &y, sana_ckpt_find(fx, k), TOL);
}

static void test_path_and_cache(void) {
  sana_text_encoder *te;
  sana_error err = {0};
  CHECK_OK(sana_text_encoder_open(&te, be, sana_fixture_path("gemma/prompt"), tokjson, 3, &err), &err);
  if (!te) return;
  sana_ckpt *fx = sana_fixture_open("gemma/prompt.safetensors");
  const sana_prompt_embedding *first[4] = {0};
  for (int p = 0; p < 4; p++) {
    size_t len;
    int positive;
    const char *text = prompt_of(fx, p, &len, &positive);
    CHECK(positive == (p < 3), "case %d positive", p);
    CHECK_OK(sana_text_encoder_encode(te, text, len, positive, &first[p], &err), &err);
    if (first[p]) compare(fx, p, first[p], 0);
  }
  long hits, misses;
  sana_text_encoder_stats(te, &hits, &misses);
  CHECK(hits == 0 && misses == 4, "4 misses (%ld, %ld)", hits, misses);
  /* capacity 3: cases 1..3 are cached, 0 was evicted; switching back to 2 costs no Gemma run */
  size_t len;
  int positive;
  const char *text = prompt_of(fx, 2, &len, &positive);
  const sana_prompt_embedding *again;
  CHECK_OK(sana_text_encoder_encode(te, text, len, positive, &again, &err), &err);
  sana_text_encoder_stats(te, &hits, &misses);
  CHECK(again == first[2] && hits == 1 && misses == 4, "cache hit (%ld, %ld)", hits, misses);
  if (again) compare(fx, 2, again, 0);
  /* the same bytes as a negative prompt are another key */
  CHECK_OK(sana_text_encoder_encode(te, text, len, 0, &again, &err), &err);
  sana_text_encoder_stats(te, &hits, &misses);
  CHECK(misses == 5, "negative of the same text is a miss");
  /* the softcap setting drops the cache and gives the eager reference */
  sana_text_encoder_set_softcap(te, 1);
  text = prompt_of(fx, 1, &len, &positive);
  CHECK_OK(sana_text_encoder_encode(te, text, len, positive, &again, &err), &err);
  sana_text_encoder_stats(te, &hits, &misses);
  CHECK(misses == 6, "softcap change recomputes");
  if (again) compare(fx, 1, again, 1);
  /* invalid UTF-8 is refused, naming the prompt */
  CHECK(sana_text_encoder_encode(te, "\xff\xfe", 2, 1, &again, &err) != SANA_OK &&
            strstr(err.msg, "positive prompt"),
        "invalid UTF-8: %s", err.msg);
  sana_ckpt_close(fx);
  sana_text_encoder_close(te);
}

static void test_cli(void) {
  const char *bin = getenv("SANA_BIN");
  CHECK(bin != NULL, "SANA_BIN");
  if (!bin) return;
  sana_ckpt *fx = sana_fixture_open("gemma/prompt.safetensors");
  size_t len;
  int positive;
  const char *text = prompt_of(fx, 1, &len, &positive); /* has spaces, CJK and an emoji */
  char pf[] = "/tmp/sana_prompt_XXXXXX", out[64], cmd[8192];
  int fd = mkstemp(pf);
  CHECK(fd >= 0 && write(fd, text, len) == (ssize_t)len, "prompt file");
  close(fd);
  snprintf(out, sizeof out, "%s.safetensors", pf);
  snprintf(cmd, sizeof cmd, "%s encode-prompt --text-encoder %s --tokenizer %s --prompt-file %s --out %s", bin,
           sana_fixture_path("gemma/prompt"), tokjson, pf, out);
  CHECK(system(cmd) == 0, "%s", cmd);
  sana_ckpt *o;
  sana_error err = {0};
  CHECK_OK(sana_ckpt_open(&o, out, &err), &err);
  if (o) {
    const sana_tensor *ids, *mask, *y;
    CHECK_OK(SANA_CKPT_GET(o, "ids", &ids, &err, 300), &err);
    CHECK_OK(SANA_CKPT_GET(o, "mask", &mask, &err, 300), &err);
    CHECK_OK(SANA_CKPT_GET(o, "y", &y, &err, 300, 4), &err);
    if (ids && mask && y) {
      check_ids("cli ids", ids->data, sana_ckpt_find(fx, "p1.ids"));
      check_ids("cli mask", mask->data, sana_ckpt_find(fx, "p1.mask"));
      sana_check_close("cli y (default: no softcap)", y, sana_ckpt_find(fx, "p1.y_sdpa"), TOL);
    }
    sana_ckpt_close(o);
  }
  unlink(out);
  /* a missing weights directory: non-zero exit, no output file */
  snprintf(cmd, sizeof cmd, "%s encode-prompt --text-encoder /nonexistent --tokenizer %s --prompt x --out %s 2>/dev/null",
           bin, tokjson, out);
  CHECK(system(cmd) != 0 && access(out, F_OK) != 0, "missing dir refused without output");
  snprintf(cmd, sizeof cmd, "%s encode-prompt --text-encoder %s --prompt x 2>/dev/null", bin,
           sana_fixture_path("gemma/prompt"));
  CHECK(system(cmd) != 0, "missing --out refused");
  unlink(pf);
  sana_ckpt_close(fx);
}

int main(void) {
  tokjson = getenv("SANA_TOKENIZER_JSON");
  if (!tokjson || access(tokjson, R_OK)) {
    fprintf(stderr, "SANA_TOKENIZER_JSON (%s) is not readable: the tokenizer_npm fixture installs it\n",
            tokjson ? tokjson : "unset");
    return 1;
  }
  sana_error err = {0};
  be = sana_backend_create("cpu", &err);
  if (!be) return 1;
  test_path_and_cache();
  test_cli();
  sana_backend_destroy(be);
  return sana_test_done("test_text_encoder");
}
