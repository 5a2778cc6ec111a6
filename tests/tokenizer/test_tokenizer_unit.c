/* The tokenizer on a hand-written tokenizer.json whose encodings are derived by hand from the
 * BPE rules (lowest rank first, leftmost on ties, byte fallback, fused <unk>, added tokens
 * leftmost-longest before normalisation), the JSON reader, and the refusals of bad files. The
 * real Gemma file is covered by test_tokenizer_parity and test_tokenizer_real. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_pull.h"
#include "io/tokenizer.h"
#include "model/prompt.h"
#include "tests/test_util.h"

/* vocab: specials 0-3, byte tokens for 'A', 0xC3, 0xA9; merges in rank order:
 *   0 "a b" -> ab   1 "b c" -> bc   2 "ab c" -> abc   3 "▁ a" -> ▁a   4 "a a" -> aa */
#define VOCAB                                                                                                  \
  "\"<pad>\":0,\"<eos>\":1,\"<bos>\":2,\"<unk>\":3,\"<0x41>\":4,\"a\":5,\"b\":6,\"c\":7,\"▁\":8,\"ab\":9,"    \
  "\"bc\":10,\"abc\":11,\"▁a\":12,\"<0xC3>\":13,\"<0xA9>\":14,\"<sp>\":15,\"aa\":16,\"<s\":17"
#define MERGES "\"a b\",\"b c\",\"ab c\",\"▁ a\",\"a a\""
#define ADDED                                                                                                  \
  "[{\"id\":2,\"content\":\"<bos>\",\"special\":true,\"normalized\":false,\"lstrip\":false,\"rstrip\":false," \
  "\"single_word\":false},{\"id\":15,\"content\":\"<sp>\",\"special\":false,\"normalized\":false},"           \
  "{\"id\":17,\"content\":\"<s\",\"special\":false,\"normalized\":false}]"
#define NORM "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"▁\"}"
#define POST                                                                                                   \
  "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<bos>\",\"type_id\":0}},"        \
  "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"<bos>\":{\"id\":\"<bos>\",\"ids\":[2]}}}"

static char json_buf[8192];

/* A tokenizer.json with the given pieces (model keys after the type). */
static const char *doc(const char *model_type, const char *vocab, const char *merges, const char *added,
                       const char *extra) {
  snprintf(json_buf, sizeof json_buf,
           "{\"version\":\"1.0\",\"truncation\":null,\"added_tokens\":%s,\"normalizer\":%s,\"pre_tokenizer\":null,"
           "\"post_processor\":%s,\"decoder\":{\"type\":\"Fuse\"}%s,\"model\":{\"type\":\"%s\",\"dropout\":null,"
           "\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"byte_fallback\":true,\"vocab\":{%s},\"merges\":[%s]}}",
           added, NORM, POST, extra, model_type, vocab, merges);
  return json_buf;
}

static sana_tokenizer *load(const char *json, sana_error *err) {
  sana_tokenizer *t = NULL;
  sana_status st = sana_tokenizer_load_mem(json, strlen(json), "test.json", &t, err);
  return st ? NULL : t;
}

static void check_ids(const sana_tokenizer *t, const char *text, int bos, int n_want, ...) {
  int32_t ids[64], want[64];
  size_t n = 0;
  sana_error err = {0};
  va_list ap;
  va_start(ap, n_want);
  for (int i = 0; i < n_want; i++) want[i] = va_arg(ap, int);
  va_end(ap);
  CHECK_OK(sana_tokenizer_encode(t, text, strlen(text), bos, ids, 64, &n, &err), &err);
  int same = n == (size_t)n_want;
  for (int i = 0; same && i < n_want; i++) same = ids[i] == want[i];
  CHECK(same, "encode(\"%s\") gave %zu ids, first %d", text, n, n ? ids[0] : -1);
}

static void check_refused(const char *json, sana_status code, const char *needle) {
  sana_error err = {0};
  sana_tokenizer *t = load(json, &err);
  CHECK(!t, "loaded although it should fail with '%s'", needle);
  sana_tokenizer_free(t);
  CHECK(err.code == code && strstr(err.msg, needle), "want %s with '%s', got %s: %s", sana_status_str(code), needle,
        sana_status_str(err.code), err.msg);
}

static void test_encode(void) {
  sana_error err = {0};
  sana_tokenizer *t = load(doc("BPE", VOCAB, MERGES, ADDED, ""), &err);
  CHECK(t, "load: %s", err.msg);
  if (!t) return;
  CHECK(sana_tokenizer_vocab_size(t) == 18 && sana_tokenizer_merge_count(t) == 5, "counts");
  check_ids(t, "abc", 0, 1, 11);          /* a b c -> ab c (rank 0) -> abc (rank 2) */
  check_ids(t, "abc", 1, 2, 2, 11);       /* template adds <bos> */
  check_ids(t, "bc a", 0, 2, 10, 12);     /* " " -> "▁": b c ▁ a -> bc ▁a */
  check_ids(t, "aaa", 0, 2, 16, 5);       /* one rank for both pairs: the leftmost merges */
  check_ids(t, "cab", 0, 2, 7, 9);        /* c ab */
  check_ids(t, "é", 0, 2, 13, 14);        /* not in vocab: UTF-8 bytes C3 A9 as <0xXX> */
  check_ids(t, "A", 0, 1, 4);             /* byte fallback for ASCII too */
  check_ids(t, "zz", 0, 1, 3);            /* no byte token for 'z': <unk>, fused */
  check_ids(t, "zéz", 0, 4, 3, 13, 14, 3);
  check_ids(t, "a<sp>b", 0, 3, 5, 15, 6); /* added tokens are cut out first */
  check_ids(t, "<sp", 0, 2, 17, 3);       /* longest match "<s", then 'p' is unknown */
  check_ids(t, "ab<bos>c", 1, 4, 2, 9, 2, 7);
  check_ids(t, "", 1, 1, 2);
  check_ids(t, "", 0, 0);
  CHECK(sana_tokenizer_token_id(t, "<sp>") == 15 && sana_tokenizer_token_id(t, "nope") == -1, "token_id");
  size_t len;
  const char *s = sana_tokenizer_token_text(t, 12, &len);
  CHECK(s && len == 4 && !memcmp(s, "▁a", 4), "token_text");

  /* measuring call, truncation, padding */
  int32_t ids[8], mask[8];
  size_t n;
  CHECK_OK(sana_tokenizer_encode(t, "abc bc", 6, 1, NULL, 0, &n, &err), &err);
  CHECK(n == 4, "measured %zu (bos abc ▁ bc)", n);
  CHECK_OK(sana_tokenizer_encode_padded(t, "abc", 3, 1, 0, 5, ids, mask, &n, &err), &err);
  CHECK(n == 2 && ids[0] == 2 && ids[1] == 11 && ids[2] == 0 && ids[4] == 0 && mask[1] == 1 && mask[2] == 0,
        "padded");
  CHECK_OK(sana_tokenizer_encode_padded(t, "abc bc", 6, 1, 0, 2, ids, mask, &n, &err), &err);
  CHECK(n == 2 && ids[0] == 2 && ids[1] == 11 && mask[1] == 1, "truncated keeps the left part");

  /* invalid UTF-8 is refused with its offset */
  CHECK(sana_tokenizer_encode(t, "a\xff", 2, 0, ids, 8, &n, &err) == SANA_ERR_ARG && strstr(err.msg, "byte 1"),
        "bad utf-8: %s", err.msg);
  CHECK(sana_tokenizer_encode(t, "\xed\xa0\x80", 3, 0, ids, 8, &n, &err) == SANA_ERR_ARG, "surrogate in UTF-8");

  /* the negative prompt: no chi, 300 tokens, <bos> then padding */
  sana_prompt_tokens p;
  CHECK_OK(sana_prompt_tokens_make(t, "", 0, 0, &p, &err), &err);
  CHECK(p.len == 300 && p.n_real == 1 && p.sel_ids[0] == 2 && p.sel_mask[0] == 1 && p.sel_ids[299] == 0 &&
            p.sel_mask[1] == 0,
        "negative prompt");
  sana_prompt_tokens_free(&p);
  sana_tokenizer_free(t);

  /* merges in the [a, b] form of tokenizers >= 0.20 give the same result */
  t = load(doc("BPE", VOCAB, "[\"a\",\"b\"],[\"b\",\"c\"],[\"ab\",\"c\"],[\"▁\",\"a\"],[\"a\",\"a\"]", ADDED, ""),
           &err);
  CHECK(t, "pair merges: %s", err.msg);
  /* b c ▁ a b c: a+b (rank 0) beats ▁+a (rank 3), then b+c, ab+c: bc ▁ abc */
  if (t) check_ids(t, "bc abc", 0, 3, 10, 8, 11);
  sana_tokenizer_free(t);
}

static void test_refusals(void) {
  check_refused(doc("WordPiece", VOCAB, MERGES, ADDED, ""), SANA_ERR_UNSUPPORTED, "model.type is 'WordPiece'");
  check_refused(doc("BPE", VOCAB, MERGES ",\"a q\"", ADDED, ""), SANA_ERR_FORMAT,
                "model.merges[5]: token 'q' is not in model.vocab");
  check_refused(doc("BPE", VOCAB, MERGES ",\"b a\"", ADDED, ""), SANA_ERR_FORMAT,
                "the merged token 'ba' is not in model.vocab");
  check_refused(doc("BPE", VOCAB, MERGES ",\"abc\"", ADDED, ""), SANA_ERR_FORMAT, "not two tokens");
  check_refused(doc("BPE", VOCAB ",\"d\":5", MERGES, ADDED, ""), SANA_ERR_FORMAT, "id 5 is given to both 'a' and 'd'");
  check_refused(doc("BPE", VOCAB ",\"big\":99999999", MERGES, ADDED, ""), SANA_ERR_FORMAT, "outside");
  check_refused(doc("BPE", VOCAB, MERGES, "[{\"id\":7,\"content\":\"<bos>\"}]", ""), SANA_ERR_FORMAT,
                "added token '<bos>' has id 7 but model.vocab gives it 2");
  check_refused(doc("BPE", VOCAB, MERGES, "[{\"id\":15,\"content\":\"<sp>\",\"lstrip\":true}]", ""),
                SANA_ERR_UNSUPPORTED, "sets lstrip");
  check_refused(doc("BPE", VOCAB, MERGES, ADDED, ",\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"x\"}"),
                SANA_ERR_UNSUPPORTED, "pre_tokenizer 'Metaspace'");
  check_refused(doc("BPE", VOCAB, MERGES, ADDED, ",\"normalizer\":{\"type\":\"NFKC\"}"), SANA_ERR_UNSUPPORTED,
                "normalizer type 'NFKC'");
  check_refused("{\"version\":\"1.0\",\"added_tokens\":[]}", SANA_ERR_MISSING, "no \"model\"");
  check_refused("{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}", SANA_ERR_MISSING, "model.merges is missing");
  check_refused("[1,2]", SANA_ERR_FORMAT, "expected an object");
  check_refused("{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"vocab\":{\"a\":0},\"merges\":[]}}",
                SANA_ERR_FORMAT, "unk_token '<unk>' is not in model.vocab");
  /* truncated anywhere: always refused, never a crash */
  const char *full = doc("BPE", VOCAB, MERGES, ADDED, "");
  char cut[8192];
  size_t len = strlen(full);
  int all_refused = 1;
  for (size_t k = 0; k < len; k += 7) {
    memcpy(cut, full, k);
    sana_error err = {0};
    sana_tokenizer *t = NULL;
    if (!sana_tokenizer_load_mem(cut, k, "cut.json", &t, &err)) all_refused = 0;
    sana_tokenizer_free(t);
  }
  CHECK(all_refused, "every truncation refused");
  memcpy(cut, full, len / 2);
  sana_error err = {0};
  sana_tokenizer *t = NULL;
  sana_tokenizer_load_mem(cut, len / 2, "cut.json", &t, &err);
  CHECK(strstr(err.msg, "cut.json: byte") && strstr(err.msg, "truncated"), "truncation message: %s", err.msg);
  CHECK(sana_tokenizer_load("/nonexistent/tokenizer.json", &t, &err) == SANA_ERR_IO &&
            strstr(err.msg, "/nonexistent/tokenizer.json"),
        "missing file: %s", err.msg);
}

static void test_json_pull(void) {
  const char *src = "{\"k\\u00e9y\": [\"\\ud83d\\ude00\", \"a\\u0000b\", -12, true, null, {\"x\": 1.5e3}]}";
  sana_error err = {0};
  sana_jpull j;
  sana_jpull_init(&j, src, strlen(src), "mem", &err);
  int more;
  const char *s;
  size_t n;
  long long v;
  CHECK_OK(sana_jpull_object_begin(&j), &err);
  CHECK_OK(sana_jpull_object_next(&j, &more, &s, &n), &err);
  CHECK(more && n == 4 && !memcmp(s, "k\xc3\xa9y", 4), "escaped key");
  CHECK_OK(sana_jpull_array_begin(&j), &err);
  CHECK_OK(sana_jpull_array_next(&j, &more), &err);
  CHECK_OK(sana_jpull_string(&j, &s, &n), &err);
  CHECK(n == 4 && !memcmp(s, "\xf0\x9f\x98\x80", 4), "surrogate pair -> U+1F600");
  CHECK_OK(sana_jpull_array_next(&j, &more), &err);
  CHECK_OK(sana_jpull_string(&j, &s, &n), &err);
  CHECK(n == 3 && s[1] == 0, "NUL inside a string");
  CHECK_OK(sana_jpull_array_next(&j, &more), &err);
  CHECK_OK(sana_jpull_int(&j, &v), &err);
  CHECK(v == -12, "int");
  CHECK_OK(sana_jpull_array_next(&j, &more), &err);
  CHECK_OK(sana_jpull_skip(&j), &err);
  CHECK_OK(sana_jpull_array_next(&j, &more), &err);
  CHECK(sana_jpull_null(&j), "null");
  CHECK_OK(sana_jpull_array_next(&j, &more), &err);
  CHECK_OK(sana_jpull_skip(&j), &err);
  CHECK_OK(sana_jpull_array_next(&j, &more), &err);
  CHECK(!more, "array end");
  CHECK_OK(sana_jpull_object_next(&j, &more, &s, &n), &err);
  CHECK(!more, "object end");
  CHECK_OK(sana_jpull_finish(&j), &err);
  sana_jpull_free(&j);

  const char *bad[] = {"\"\\ud83d\"", "\"\\ude00\"", "\"a\nb\"", "[1,]", "[1 2]", "{\"a\" 1}", "\"\xc3\"", "01x",
                       "[1] x", "1.5"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    sana_jpull_init(&j, bad[i], strlen(bad[i]), "mem", &err);
    sana_status st;
    if (i == 9) st = sana_jpull_int(&j, &v);
    else if ((st = sana_jpull_skip(&j)) == SANA_OK) st = sana_jpull_finish(&j);
    CHECK(st == SANA_ERR_FORMAT && strstr(err.msg, "mem: byte"), "bad json #%zu refused: %s", i, err.msg);
    sana_jpull_free(&j);
  }
  char deep[200];
  memset(deep, '[', sizeof deep);
  sana_jpull_init(&j, deep, sizeof deep, "mem", &err);
  CHECK(sana_jpull_skip(&j) == SANA_ERR_FORMAT && strstr(err.msg, "nesting"), "depth limit: %s", err.msg);
  sana_jpull_free(&j);
}

static void test_strip(void) {
  /* Python: "\x1c\u3000 cat  dog \x85\n".strip() == "cat  dog"; "\ufeffcat".strip() keeps the BOM */
  const char *a = "\x1c\xe3\x80\x80 cat  dog \xc2\x85\n";
  size_t n, off = sana_prompt_strip(a, strlen(a), &n);
  CHECK(n == 8 && !memcmp(a + off, "cat  dog", 8), "strip python whitespace");
  const char *b = "\xef\xbb\xbf" "cat";
  off = sana_prompt_strip(b, strlen(b), &n);
  CHECK(off == 0 && n == 6, "U+FEFF is not whitespace to Python");
  off = sana_prompt_strip(" \t\n ", 4, &n);
  CHECK(n == 0, "all whitespace");
  const char *chi = sana_prompt_chi();
  CHECK(!strncmp(chi, "Given a user prompt,", 20) && !strcmp(chi + strlen(chi) - 15, ":\nUser Prompt: "),
        "chi ends with the 'User Prompt: ' line");
}

int main(void) {
  test_encode();
  test_refusals();
  test_json_pull();
  test_strip();
  return sana_test_done("test_tokenizer_unit");
}
