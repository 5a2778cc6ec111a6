#define _GNU_SOURCE /* qsort_r */
/* Loading a Hugging Face tokenizer.json: one pass of the pull reader collects the vocabulary,
 * merges, added tokens, normaliser and template into staging arrays (the keys may come in any
 * order), then resolve() checks them against each other and builds the hash tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/json_pull.h"
#include "io/tokenizer_impl.h"

typedef struct {
  sana_tok_str text;
  long long id;
} staged_token;

typedef struct {
  sana_tok_str content;
  long long id;
  int normalized, lstrip, rstrip, single_word;
} staged_added;

typedef struct {
  sana_tok_str name;
  int32_t ids[SANA_TOK_MAX_TEMPLATE];
  int n;
} staged_special;

typedef struct {
  sana_tokenizer *t;
  sana_jpull j;
  const char *label;
  sana_error *err;

  size_t text_cap;
  char *tmp; /* merge strings, freed after resolving */
  size_t tmp_len, tmp_cap;

  staged_token *vocab;
  size_t n_vocab, cap_vocab;
  sana_tok_str (*merges)[2];
  size_t n_merges, cap_merges;
  staged_added *added;
  size_t n_added, cap_added;

  int have_model, have_type, have_vocab, have_merges;
  int has_unk;
  sana_tok_str unk;

  sana_tok_str tmpl_prefix[SANA_TOK_MAX_TEMPLATE], tmpl_suffix[SANA_TOK_MAX_TEMPLATE];
  int n_tmpl_prefix, n_tmpl_suffix, has_template;
  staged_special specials[SANA_TOK_MAX_TEMPLATE];
  int n_specials;
} loader;

/* ---- helpers ---- */

static sana_status nomem(loader *L) { return sana_err(L->err, SANA_ERR_NOMEM, "%s: out of memory", L->label); }

static sana_status arena_add(loader *L, char **buf, size_t *len, size_t *cap, const char *s, size_t n,
                             sana_tok_str *out) {
  if (*len + n >= UINT32_MAX) return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: token text over 4 GB", L->label);
  if (!sana_tok_grow((void **)buf, cap, *len + n + 1, 1)) return nomem(L);
  memcpy(*buf + *len, s, n);
  out->off = (uint32_t)*len;
  out->len = (uint32_t)n;
  *len += n;
  return SANA_OK;
}

/* Token text kept in the tokenizer / merge text kept until resolve. */
static sana_status keep(loader *L, const char *s, size_t n, sana_tok_str *out) {
  return arena_add(L, &L->t->text, &L->t->text_len, &L->text_cap, s, n, out);
}
static sana_status keep_tmp(loader *L, const char *s, size_t n, sana_tok_str *out) {
  return arena_add(L, &L->tmp, &L->tmp_len, &L->tmp_cap, s, n, out);
}

/* A token for messages: at most 40 bytes, control bytes escaped. */
static const char *show(char out[200], const char *s, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n && o < 180; i++) {
    unsigned char c = (unsigned char)s[i];
    if (i >= 40) {
      o += (size_t)snprintf(out + o, 200 - o, "...");
      break;
    }
    if (c < 0x20 || c == 0x7f) o += (size_t)snprintf(out + o, 200 - o, "\\x%02x", c);
    else out[o++] = (char)c;
  }
  out[o] = 0;
  return out;
}

static const char *show_str(loader *L, char out[200], const char *base, sana_tok_str s) {
  (void)L;
  return show(out, base + s.off, s.len);
}

/* Reads a string value into the token arena. */
static sana_status read_kept_string(loader *L, sana_tok_str *out) {
  const char *s;
  size_t n;
  sana_status st = sana_jpull_string(&L->j, &s, &n);
  return st ? st : keep(L, s, n, out);
}

/* Reads `"type": ...` style objects' "type" when all we want is to name an unsupported one. */
static sana_status object_type(loader *L, char out[64]) {
  int more;
  const char *k, *s;
  size_t kl, n;
  sana_status st;
  strcpy(out, "?");
  if ((st = sana_jpull_object_begin(&L->j))) return st;
  while (!(st = sana_jpull_object_next(&L->j, &more, &k, &kl)) && more) {
    if (sana_jpull_eq(k, kl, "type") && sana_jpull_peek(&L->j) == '"') {
      if ((st = sana_jpull_string(&L->j, &s, &n))) return st;
      snprintf(out, 64, "%.*s", (int)(n < 60 ? n : 60), s);
    } else if ((st = sana_jpull_skip(&L->j))) {
      return st;
    }
  }
  return st;
}

static sana_status read_bool_field(loader *L, const char *what, int *v) {
  sana_status st = sana_jpull_bool(&L->j, v);
  return st ? sana_err_prefix(L->err, "%s: ", what) : SANA_OK;
}

/* ---- model ---- */

static sana_status parse_vocab(loader *L) {
  int more;
  const char *k;
  size_t kl;
  sana_status st;
  if ((st = sana_jpull_object_begin(&L->j))) return sana_err_prefix(L->err, "model.vocab: ");
  while (!(st = sana_jpull_object_next(&L->j, &more, &k, &kl)) && more) {
    if (!sana_tok_grow((void **)&L->vocab, &L->cap_vocab, L->n_vocab + 1, sizeof *L->vocab)) return nomem(L);
    staged_token *v = &L->vocab[L->n_vocab];
    if ((st = keep(L, k, kl, &v->text))) return st;
    if ((st = sana_jpull_int(&L->j, &v->id))) return sana_err_prefix(L->err, "model.vocab: ");
    L->n_vocab++;
  }
  L->have_vocab = 1;
  return st;
}

static sana_status parse_merges(loader *L) {
  int more, more2;
  sana_status st;
  if ((st = sana_jpull_array_begin(&L->j))) return sana_err_prefix(L->err, "model.merges: ");
  while (!(st = sana_jpull_array_next(&L->j, &more)) && more) {
    if (!sana_tok_grow((void **)&L->merges, &L->cap_merges, L->n_merges + 1, sizeof *L->merges)) return nomem(L);
    sana_tok_str *m = L->merges[L->n_merges];
    const char *s;
    size_t n;
    if (sana_jpull_peek(&L->j) == '[') { /* tokenizers >= 0.20: ["a", "b"] */
      if ((st = sana_jpull_array_begin(&L->j))) return st;
      int got = 0;
      while (!(st = sana_jpull_array_next(&L->j, &more2)) && more2) {
        if (got == 2)
          return sana_jpull_fail(&L->j, SANA_ERR_FORMAT, "model.merges[%zu] has more than two tokens", L->n_merges);
        if ((st = sana_jpull_string(&L->j, &s, &n)) || (st = keep_tmp(L, s, n, &m[got]))) return st;
        got++;
      }
      if (st) return st;
      if (got != 2) return sana_jpull_fail(&L->j, SANA_ERR_FORMAT, "model.merges[%zu] has %d tokens, not two",
                                           L->n_merges, got);
    } else { /* "a b": exactly one space, as tokenizers requires */
      if ((st = sana_jpull_string(&L->j, &s, &n))) return sana_err_prefix(L->err, "model.merges: ");
      const char *sp = memchr(s, ' ', n);
      char shown[200];
      if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s)))
        return sana_jpull_fail(&L->j, SANA_ERR_FORMAT, "model.merges[%zu] '%s' is not two tokens separated by one space",
                               L->n_merges, show(shown, s, n));
      /* kept back to back: resolve_merges reads a+b in place */
      if ((st = keep_tmp(L, s, (size_t)(sp - s), &m[0])) || (st = keep_tmp(L, sp + 1, n - (size_t)(sp + 1 - s), &m[1])))
        return st;
    }
    L->n_merges++;
  }
  L->have_merges = 1;
  return st;
}

static sana_status expect_null_or_empty(loader *L, const char *field) {
  if (sana_jpull_null(&L->j)) return SANA_OK;
  const char *s;
  size_t n;
  if (sana_jpull_peek(&L->j) == '"') {
    sana_status st = sana_jpull_string(&L->j, &s, &n);
    if (st) return st;
    if (n == 0) return SANA_OK;
  }
  return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: model.%s is set; only null is supported", L->label, field);
}

static sana_status parse_model(loader *L) {
  int more, b;
  const char *k, *s;
  size_t kl, n;
  sana_status st;
  L->t->fuse_unk = 0;
  if ((st = sana_jpull_object_begin(&L->j))) return sana_err_prefix(L->err, "\"model\": ");
  while (!(st = sana_jpull_object_next(&L->j, &more, &k, &kl)) && more) {
    if (sana_jpull_eq(k, kl, "type")) {
      if ((st = sana_jpull_string(&L->j, &s, &n))) return st;
      char shown[200];
      if (!sana_jpull_eq(s, n, "BPE"))
        return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: model.type is '%s'; only BPE is supported", L->label,
                        show(shown, s, n));
      L->have_type = 1;
    } else if (sana_jpull_eq(k, kl, "vocab")) {
      if ((st = parse_vocab(L))) return st;
    } else if (sana_jpull_eq(k, kl, "merges")) {
      if ((st = parse_merges(L))) return st;
    } else if (sana_jpull_eq(k, kl, "unk_token")) {
      if (!sana_jpull_null(&L->j)) {
        if ((st = read_kept_string(L, &L->unk))) return st;
        L->has_unk = 1;
      }
    } else if (sana_jpull_eq(k, kl, "byte_fallback")) {
      if ((st = read_bool_field(L, "model.byte_fallback", &b))) return st;
      L->t->byte_fallback = b;
    } else if (sana_jpull_eq(k, kl, "fuse_unk")) {
      if ((st = read_bool_field(L, "model.fuse_unk", &b))) return st;
      L->t->fuse_unk = b;
    } else if (sana_jpull_eq(k, kl, "ignore_merges")) {
      if ((st = read_bool_field(L, "model.ignore_merges", &b))) return st;
      L->t->ignore_merges = b;
    } else if (sana_jpull_eq(k, kl, "dropout")) {
      if (!sana_jpull_null(&L->j))
        return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: model.dropout is set; only null is supported", L->label);
    } else if (sana_jpull_eq(k, kl, "continuing_subword_prefix") || sana_jpull_eq(k, kl, "end_of_word_suffix")) {
      char field[64];
      snprintf(field, sizeof field, "%.*s", (int)kl, k);
      if ((st = expect_null_or_empty(L, field))) return st;
    } else if ((st = sana_jpull_skip(&L->j))) {
      return st;
    }
  }
  L->have_model = 1;
  return st;
}

/* ---- added tokens ---- */

static sana_status parse_added(loader *L) {
  int more, more2;
  const char *k;
  size_t kl;
  sana_status st;
  if (sana_jpull_null(&L->j)) return SANA_OK;
  if ((st = sana_jpull_array_begin(&L->j))) return sana_err_prefix(L->err, "added_tokens: ");
  while (!(st = sana_jpull_array_next(&L->j, &more)) && more) {
    if (!sana_tok_grow((void **)&L->added, &L->cap_added, L->n_added + 1, sizeof *L->added)) return nomem(L);
    staged_added *a = &L->added[L->n_added];
    memset(a, 0, sizeof *a);
    a->id = -1;
    int have_content = 0, have_id = 0;
    if ((st = sana_jpull_object_begin(&L->j))) return sana_err_prefix(L->err, "added_tokens[%zu]: ", L->n_added);
    while (!(st = sana_jpull_object_next(&L->j, &more2, &k, &kl)) && more2) {
      if (sana_jpull_eq(k, kl, "id")) st = sana_jpull_int(&L->j, &a->id), have_id = 1;
      else if (sana_jpull_eq(k, kl, "content")) st = read_kept_string(L, &a->content), have_content = 1;
      else if (sana_jpull_eq(k, kl, "normalized")) st = sana_jpull_bool(&L->j, &a->normalized);
      else if (sana_jpull_eq(k, kl, "lstrip")) st = sana_jpull_bool(&L->j, &a->lstrip);
      else if (sana_jpull_eq(k, kl, "rstrip")) st = sana_jpull_bool(&L->j, &a->rstrip);
      else if (sana_jpull_eq(k, kl, "single_word")) st = sana_jpull_bool(&L->j, &a->single_word);
      else st = sana_jpull_skip(&L->j);
      if (st) return sana_err_prefix(L->err, "added_tokens[%zu]: ", L->n_added);
    }
    if (st) return st;
    if (!have_content || !have_id)
      return sana_err(L->err, SANA_ERR_MISSING, "%s: added_tokens[%zu] lacks \"%s\"", L->label, L->n_added,
                      have_id ? "content" : "id");
    L->n_added++;
  }
  return st;
}

/* ---- normaliser ---- */

static sana_status parse_normalizer(loader *L, int depth) {
  int more;
  const char *k, *s;
  size_t kl, n;
  sana_status st;
  if (sana_jpull_null(&L->j)) return SANA_OK;
  char type[64] = "";
  sana_tok_str from = {0, 0}, to = {0, 0};
  int have_from = 0, have_to = 0, regex = 0;
  if (depth > 4) return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: normalizer nested too deep", L->label);
  if ((st = sana_jpull_object_begin(&L->j))) return sana_err_prefix(L->err, "normalizer: ");
  while (!(st = sana_jpull_object_next(&L->j, &more, &k, &kl)) && more) {
    if (sana_jpull_eq(k, kl, "type")) {
      if ((st = sana_jpull_string(&L->j, &s, &n))) return st;
      snprintf(type, sizeof type, "%.*s", (int)(n < 60 ? n : 60), s);
    } else if (sana_jpull_eq(k, kl, "normalizers")) {
      int more2;
      if ((st = sana_jpull_array_begin(&L->j))) return sana_err_prefix(L->err, "normalizer.normalizers: ");
      while (!(st = sana_jpull_array_next(&L->j, &more2)) && more2)
        if ((st = parse_normalizer(L, depth + 1))) return st;
      if (st) return st;
    } else if (sana_jpull_eq(k, kl, "pattern")) {
      int more2;
      if ((st = sana_jpull_object_begin(&L->j))) return sana_err_prefix(L->err, "normalizer.pattern: ");
      while (!(st = sana_jpull_object_next(&L->j, &more2, &k, &kl)) && more2) {
        if (sana_jpull_eq(k, kl, "String")) {
          if ((st = read_kept_string(L, &from))) return st;
          have_from = 1;
        } else {
          regex = 1;
          if ((st = sana_jpull_skip(&L->j))) return st;
        }
      }
      if (st) return st;
    } else if (sana_jpull_eq(k, kl, "content")) {
      if ((st = read_kept_string(L, &to))) return st;
      have_to = 1;
    } else if ((st = sana_jpull_skip(&L->j))) {
      return st;
    }
  }
  if (st) return st;
  if (!strcmp(type, "Sequence")) return SANA_OK; /* its members were added as they were read */
  if (strcmp(type, "Replace"))
    return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: normalizer type '%s' is not supported (only Replace)",
                    L->label, type[0] ? type : "(missing)");
  if (regex || !have_from || !have_to || from.len == 0)
    return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: normalizer Replace needs a non-empty \"String\" pattern and a content",
                    L->label);
  if (L->t->n_repl == SANA_TOK_MAX_REPLACE)
    return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: more than %d Replace normalizers", L->label, SANA_TOK_MAX_REPLACE);
  L->t->repl_from[L->t->n_repl] = from;
  L->t->repl_to[L->t->n_repl] = to;
  L->t->n_repl++;
  return SANA_OK;
}

/* ---- post-processor ---- */

static sana_status parse_template_single(loader *L) {
  int more, more2, more3;
  const char *k;
  size_t kl;
  sana_status st;
  int seen_sequence = 0;
  if ((st = sana_jpull_array_begin(&L->j))) return sana_err_prefix(L->err, "post_processor.single: ");
  while (!(st = sana_jpull_array_next(&L->j, &more)) && more) {
    if ((st = sana_jpull_object_begin(&L->j))) return sana_err_prefix(L->err, "post_processor.single: ");
    while (!(st = sana_jpull_object_next(&L->j, &more2, &k, &kl)) && more2) {
      if (sana_jpull_eq(k, kl, "Sequence")) {
        seen_sequence = 1;
        if ((st = sana_jpull_skip(&L->j))) return st;
      } else if (sana_jpull_eq(k, kl, "SpecialToken")) {
        int *count = seen_sequence ? &L->n_tmpl_suffix : &L->n_tmpl_prefix;
        sana_tok_str *list = seen_sequence ? L->tmpl_suffix : L->tmpl_prefix;
        if (*count == SANA_TOK_MAX_TEMPLATE)
          return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: post_processor template too long", L->label);
        int have = 0;
        if ((st = sana_jpull_object_begin(&L->j))) return st;
        while (!(st = sana_jpull_object_next(&L->j, &more3, &k, &kl)) && more3) {
          if (sana_jpull_eq(k, kl, "id")) st = read_kept_string(L, &list[*count]), have = 1;
          else st = sana_jpull_skip(&L->j);
          if (st) return st;
        }
        if (st) return st;
        if (!have) return sana_err(L->err, SANA_ERR_MISSING, "%s: post_processor SpecialToken lacks \"id\"", L->label);
        (*count)++;
      } else if ((st = sana_jpull_skip(&L->j))) {
        return st;
      }
    }
    if (st) return st;
  }
  return st;
}

static sana_status parse_special_map(loader *L) {
  int more, more2, more3;
  const char *k;
  size_t kl;
  sana_status st;
  if ((st = sana_jpull_object_begin(&L->j))) return sana_err_prefix(L->err, "post_processor.special_tokens: ");
  while (!(st = sana_jpull_object_next(&L->j, &more, &k, &kl)) && more) {
    if (L->n_specials == SANA_TOK_MAX_TEMPLATE)
      return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: more than %d post_processor special tokens", L->label,
                      SANA_TOK_MAX_TEMPLATE);
    staged_special *sp = &L->specials[L->n_specials++];
    sp->n = 0;
    if ((st = keep(L, k, kl, &sp->name))) return st;
    if ((st = sana_jpull_object_begin(&L->j))) return st;
    while (!(st = sana_jpull_object_next(&L->j, &more2, &k, &kl)) && more2) {
      if (!sana_jpull_eq(k, kl, "ids")) {
        if ((st = sana_jpull_skip(&L->j))) return st;
        continue;
      }
      if ((st = sana_jpull_array_begin(&L->j))) return st;
      while (!(st = sana_jpull_array_next(&L->j, &more3)) && more3) {
        long long id;
        if ((st = sana_jpull_int(&L->j, &id))) return st;
        if (sp->n == SANA_TOK_MAX_TEMPLATE || id < 0 || id >= SANA_TOK_MAX_ID)
          return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: post_processor special token ids out of range", L->label);
        sp->ids[sp->n++] = (int32_t)id;
      }
      if (st) return st;
    }
    if (st) return st;
  }
  return st;
}

static sana_status parse_post_processor(loader *L) {
  int more;
  const char *k, *s;
  size_t kl, n;
  sana_status st;
  char type[64] = "";
  if (sana_jpull_null(&L->j)) return SANA_OK;
  if ((st = sana_jpull_object_begin(&L->j))) return sana_err_prefix(L->err, "post_processor: ");
  while (!(st = sana_jpull_object_next(&L->j, &more, &k, &kl)) && more) {
    if (sana_jpull_eq(k, kl, "type")) {
      if ((st = sana_jpull_string(&L->j, &s, &n))) return st;
      snprintf(type, sizeof type, "%.*s", (int)(n < 60 ? n : 60), s);
    } else if (sana_jpull_eq(k, kl, "single")) {
      st = parse_template_single(L);
    } else if (sana_jpull_eq(k, kl, "special_tokens")) {
      st = parse_special_map(L);
    } else {
      st = sana_jpull_skip(&L->j);
    }
    if (st) return st;
  }
  if (st) return st;
  if (strcmp(type, "TemplateProcessing"))
    return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: post_processor type '%s' is not supported (only TemplateProcessing)",
                    L->label, type[0] ? type : "(missing)");
  L->has_template = 1;
  return SANA_OK;
}

/* ---- top level ---- */

static sana_status parse_document(loader *L) {
  int more;
  const char *k;
  size_t kl;
  sana_status st;
  char type[64];
  if ((st = sana_jpull_object_begin(&L->j))) return st;
  while (!(st = sana_jpull_object_next(&L->j, &more, &k, &kl)) && more) {
    if (sana_jpull_eq(k, kl, "model")) st = parse_model(L);
    else if (sana_jpull_eq(k, kl, "added_tokens")) st = parse_added(L);
    else if (sana_jpull_eq(k, kl, "normalizer")) st = parse_normalizer(L, 0);
    else if (sana_jpull_eq(k, kl, "post_processor")) st = parse_post_processor(L);
    else if (sana_jpull_eq(k, kl, "pre_tokenizer")) {
      if (!sana_jpull_null(&L->j)) {
        if (sana_jpull_peek(&L->j) != '{') return sana_jpull_fail(&L->j, SANA_ERR_FORMAT, "pre_tokenizer: expected an object or null");
        if ((st = object_type(L, type))) return st;
        return sana_err(L->err, SANA_ERR_UNSUPPORTED, "%s: pre_tokenizer '%s' is not supported (Gemma has none)",
                        L->label, type);
      }
    } else st = sana_jpull_skip(&L->j);
    if (st) return st;
  }
  if (st) return st;
  return sana_jpull_finish(&L->j);
}

/* ---- resolve ---- */

/* MurmurHash3's 64-bit finaliser: linear probing needs every output bit to depend on every
 * input bit (a plain multiply leaves the low bits, which index the table, poorly mixed). */
static uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

uint64_t sana_tok_hash(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return mix64(h);
}

static uint64_t pair_hash(uint64_t key) { return mix64(key); }

/* Looks s up from its home slot i (its hash & vocab_mask). */
static int32_t vocab_find_at(const sana_tokenizer *t, const char *s, size_t len, uint32_t i) {
  for (;; i = (i + 1) & t->vocab_mask) {
    int32_t id = t->vocab_slots[i];
    if (id < 0) return -1;
    const sana_tok_str *e = &t->id_text[id];
    if (e->len == len && memcmp(t->text + e->off, s, len) == 0) return id;
  }
}

int32_t sana_tok_vocab_find(const sana_tokenizer *t, const char *s, size_t len) {
  if (!t->vocab_slots) return -1;
  return vocab_find_at(t, s, len, (uint32_t)sana_tok_hash(s, len) & t->vocab_mask);
}

const sana_tok_merge *sana_tok_merge_find(const sana_tokenizer *t, int32_t a, int32_t b) {
  uint64_t key = sana_tok_pair_key(a, b);
  for (uint64_t i = pair_hash(key) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
    const sana_tok_merge *m = &t->merge_slots[i];
    if (m->key == key) return m;
    if (m->key == 0) return NULL;
  }
}

static uint64_t pow2_at_least(uint64_t n) {
  uint64_t p = 16;
  while (p < n) p *= 2;
  return p;
}

static sana_status resolve_ids(loader *L) {
  sana_tokenizer *t = L->t;
  char a[200], b[200];
  long long max_id = -1;
  for (size_t i = 0; i < L->n_vocab; i++) {
    long long id = L->vocab[i].id;
    if (id < 0 || id >= SANA_TOK_MAX_ID)
      return sana_err(L->err, SANA_ERR_FORMAT, "%s: model.vocab: token '%s' has id %lld, outside [0, %d)", L->label,
                      show_str(L, a, t->text, L->vocab[i].text), id, SANA_TOK_MAX_ID);
    if (id > max_id) max_id = id;
  }
  for (size_t i = 0; i < L->n_added; i++) {
    long long id = L->added[i].id;
    if (id < 0 || id >= SANA_TOK_MAX_ID)
      return sana_err(L->err, SANA_ERR_FORMAT, "%s: added_tokens[%zu] has id %lld, outside [0, %d)", L->label, i, id,
                      SANA_TOK_MAX_ID);
    if (id > max_id) max_id = id;
  }
  t->n_ids = (int32_t)(max_id + 1);
  t->id_text = calloc((size_t)t->n_ids + 1, sizeof *t->id_text);
  t->id_used = calloc((size_t)t->n_ids + 1, 1);
  uint64_t slots = pow2_at_least(2 * (uint64_t)L->n_vocab + 2);
  t->vocab_slots = malloc(slots * sizeof *t->vocab_slots);
  if (!t->id_text || !t->id_used || !t->vocab_slots) return nomem(L);
  memset(t->vocab_slots, 0xff, slots * sizeof *t->vocab_slots);
  t->vocab_mask = (uint32_t)(slots - 1);

  for (size_t i = 0; i < L->n_vocab; i++) {
    int32_t id = (int32_t)L->vocab[i].id;
    sana_tok_str s = L->vocab[i].text;
    if (t->id_used[id])
      return sana_err(L->err, SANA_ERR_FORMAT, "%s: model.vocab: id %d is given to both '%s' and '%s'", L->label, id,
                      show_str(L, a, t->text, t->id_text[id]), show_str(L, b, t->text, s));
    int32_t dup = sana_tok_vocab_find(t, t->text + s.off, s.len);
    if (dup >= 0)
      return sana_err(L->err, SANA_ERR_FORMAT, "%s: model.vocab: token '%s' appears twice", L->label,
                      show_str(L, a, t->text, s));
    t->id_used[id] = 1;
    t->id_text[id] = s;
    uint32_t h = (uint32_t)sana_tok_hash(t->text + s.off, s.len) & t->vocab_mask;
    while (t->vocab_slots[h] >= 0) h = (h + 1) & t->vocab_mask;
    t->vocab_slots[h] = id;
  }
  t->vocab_size = L->n_vocab;
  return SANA_OK;
}

static int cmp_added(const void *pa, const void *pb, void *ctx) {
  const sana_tokenizer *t = ctx;
  const sana_tok_added *x = pa, *y = pb;
  unsigned char fx = (unsigned char)t->text[x->content.off], fy = (unsigned char)t->text[y->content.off];
  if (fx != fy) return fx < fy ? -1 : 1;
  if (x->content.len != y->content.len) return x->content.len > y->content.len ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static sana_status resolve_added(loader *L) {
  sana_tokenizer *t = L->t;
  char a[200], b[200];
  t->added = calloc(L->n_added + 1, sizeof *t->added);
  if (!t->added) return nomem(L);
  for (size_t i = 0; i < L->n_added; i++) {
    staged_added *s = &L->added[i];
    const char *txt = t->text + s->content.off;
    if (s->content.len == 0) continue; /* tokenizers ignores empty added tokens */
    if (s->normalized || s->lstrip || s->rstrip || s->single_word)
      return sana_err(L->err, SANA_ERR_UNSUPPORTED,
                      "%s: added token '%s' sets %s; only normalized/lstrip/rstrip/single_word false are supported",
                      L->label, show(a, txt, s->content.len),
                      s->normalized ? "normalized" : s->lstrip ? "lstrip" : s->rstrip ? "rstrip" : "single_word");
    int32_t id = (int32_t)s->id, in_vocab = sana_tok_vocab_find(t, txt, s->content.len);
    if (in_vocab >= 0 && in_vocab != id)
      return sana_err(L->err, SANA_ERR_FORMAT, "%s: added token '%s' has id %d but model.vocab gives it %d", L->label,
                      show(a, txt, s->content.len), id, in_vocab);
    if (in_vocab < 0 && t->id_used[id])
      return sana_err(L->err, SANA_ERR_FORMAT, "%s: added token '%s' takes id %d, already '%s'", L->label,
                      show(a, txt, s->content.len), id, show_str(L, b, t->text, t->id_text[id]));
    for (size_t k = 0; k < t->n_added; k++)
      if (t->added[k].content.len == s->content.len && !memcmp(t->text + t->added[k].content.off, txt, s->content.len))
        return sana_err(L->err, SANA_ERR_FORMAT, "%s: added token '%s' is listed twice", L->label,
                        show(a, txt, s->content.len));
    t->id_used[id] = 1;
    t->id_text[id] = s->content;
    t->added[t->n_added].content = s->content;
    t->added[t->n_added].id = id;
    t->n_added++;
  }
  qsort_r(t->added, t->n_added, sizeof *t->added, cmp_added, t);
  size_t k = 0;
  for (int c = 0; c <= 256; c++) {
    while (k < t->n_added && (unsigned char)t->text[t->added[k].content.off] < c) k++;
    t->added_start[c] = (uint32_t)k;
  }
  return SANA_OK;
}

/* The merges are resolved in batches whose hash-table reads are prefetched a stage ahead: the
 * three lookups per merge (a, b, a+b) are each a chain of dependent cache misses (slot, id_text,
 * text), which would otherwise dominate the load time. */
#define MERGE_BATCH 32

static sana_status resolve_merges(loader *L) {
  sana_tokenizer *t = L->t;
  char shown[200];
  uint64_t slots = pow2_at_least(L->n_merges + L->n_merges / 2 + 2);
  t->merge_slots = calloc(slots, sizeof *t->merge_slots);
  if (!t->merge_slots) return nomem(L);
  t->merge_mask = slots - 1;
  for (size_t base = 0; base < L->n_merges; base += MERGE_BATCH) {
    size_t m = L->n_merges - base < MERGE_BATCH ? L->n_merges - base : MERGE_BATCH;
    const char *str[MERGE_BATCH][3];
    size_t len[MERGE_BATCH][3];
    uint32_t slot[MERGE_BATCH][3];
    int32_t id[MERGE_BATCH][3];
    uint64_t key[MERGE_BATCH], mslot[MERGE_BATCH];
    for (size_t k = 0; k < m; k++) {
      sana_tok_str ma = L->merges[base + k][0], mb = L->merges[base + k][1];
      /* parse_merges keeps a and b back to back, so a+b is read in place */
      str[k][0] = str[k][2] = L->tmp + ma.off;
      str[k][1] = L->tmp + mb.off;
      len[k][0] = ma.len;
      len[k][1] = mb.len;
      len[k][2] = (size_t)ma.len + mb.len;
      for (int j = 0; j < 3; j++) {
        slot[k][j] = (uint32_t)sana_tok_hash(str[k][j], len[k][j]) & t->vocab_mask;
        __builtin_prefetch(&t->vocab_slots[slot[k][j]]);
      }
    }
    for (size_t k = 0; k < m; k++)
      for (int j = 0; j < 3; j++)
        if (t->vocab_slots[slot[k][j]] >= 0) __builtin_prefetch(&t->id_text[t->vocab_slots[slot[k][j]]]);
    for (size_t k = 0; k < m; k++)
      for (int j = 0; j < 3; j++)
        if (t->vocab_slots[slot[k][j]] >= 0) __builtin_prefetch(t->text + t->id_text[t->vocab_slots[slot[k][j]]].off);
    for (size_t k = 0; k < m; k++) {
      for (int j = 0; j < 3; j++) {
        id[k][j] = vocab_find_at(t, str[k][j], len[k][j], slot[k][j]);
        if (id[k][j] < 0)
          return sana_err(L->err, SANA_ERR_FORMAT, "%s: model.merges[%zu]: %s '%s' is not in model.vocab", L->label,
                          base + k, j == 2 ? "the merged token" : "token", show(shown, str[k][j], len[k][j]));
      }
      key[k] = sana_tok_pair_key(id[k][0], id[k][1]);
      mslot[k] = pair_hash(key[k]) & t->merge_mask;
      __builtin_prefetch(&t->merge_slots[mslot[k]], 1);
    }
    for (size_t k = 0; k < m; k++) {
      uint64_t h = mslot[k];
      while (t->merge_slots[h].key && t->merge_slots[h].key != key[k]) h = (h + 1) & t->merge_mask;
      if (!t->merge_slots[h].key) t->merge_count++;
      /* a repeated pair keeps its last rank, as tokenizers' HashMap collect does */
      t->merge_slots[h] = (sana_tok_merge){key[k], (int32_t)(base + k), id[k][2]};
    }
  }
  return SANA_OK;
}

int32_t sana_tokenizer_token_id(const sana_tokenizer *t, const char *token) {
  size_t n = strlen(token);
  for (size_t i = 0; i < t->n_added; i++)
    if (t->added[i].content.len == n && !memcmp(t->text + t->added[i].content.off, token, n)) return t->added[i].id;
  return sana_tok_vocab_find(t, token, n);
}

static sana_status resolve_template(loader *L, sana_tok_str *names, int n_names, int32_t *out, int *n_out) {
  char shown[200];
  for (int i = 0; i < n_names; i++) {
    const char *name = L->t->text + names[i].off;
    const staged_special *sp = NULL;
    for (int k = 0; k < L->n_specials; k++)
      if (L->specials[k].name.len == names[i].len && !memcmp(L->t->text + L->specials[k].name.off, name, names[i].len))
        sp = &L->specials[k];
    if (!sp)
      return sana_err(L->err, SANA_ERR_FORMAT, "%s: post_processor template names '%s', absent from its special_tokens",
                      L->label, show(shown, name, names[i].len));
    for (int k = 0; k < sp->n; k++) {
      if (*n_out == SANA_TOK_MAX_TEMPLATE || sp->ids[k] >= L->t->n_ids || !L->t->id_used[sp->ids[k]])
        return sana_err(L->err, SANA_ERR_FORMAT, "%s: post_processor special token '%s' has an id that no token has",
                        L->label, show(shown, name, names[i].len));
      out[(*n_out)++] = sp->ids[k];
    }
  }
  return SANA_OK;
}

static sana_status resolve(loader *L) {
  sana_tokenizer *t = L->t;
  char shown[200];
  if (!L->have_model) return sana_err(L->err, SANA_ERR_MISSING, "%s: no \"model\" object", L->label);
  if (!L->have_type) return sana_err(L->err, SANA_ERR_MISSING, "%s: model.type is missing", L->label);
  if (!L->have_vocab) return sana_err(L->err, SANA_ERR_MISSING, "%s: model.vocab is missing", L->label);
  if (!L->have_merges) return sana_err(L->err, SANA_ERR_MISSING, "%s: model.merges is missing", L->label);
  sana_status st;
  if ((st = resolve_ids(L)) || (st = resolve_added(L)) || (st = resolve_merges(L))) return st;
  t->unk_id = -1;
  if (L->has_unk) {
    t->unk_id = sana_tok_vocab_find(t, t->text + L->unk.off, L->unk.len);
    if (t->unk_id < 0)
      return sana_err(L->err, SANA_ERR_FORMAT, "%s: model.unk_token '%s' is not in model.vocab", L->label,
                      show_str(L, shown, t->text, L->unk));
  }
  for (int b = 0; b < 256; b++) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    t->byte_ids[b] = sana_tok_vocab_find(t, name, 6);
  }
  if (L->has_template) {
    if ((st = resolve_template(L, L->tmpl_prefix, L->n_tmpl_prefix, t->prefix, &t->n_prefix)) ||
        (st = resolve_template(L, L->tmpl_suffix, L->n_tmpl_suffix, t->suffix, &t->n_suffix)))
      return st;
  }
  return SANA_OK;
}

static void loader_free(loader *L) {
  sana_jpull_free(&L->j);
  free(L->tmp);
  free(L->vocab);
  free(L->merges);
  free(L->added);
}

sana_status sana_tokenizer_load_mem(const void *json, size_t len, const char *label, sana_tokenizer **out,
                                    sana_error *err) {
  *out = NULL;
  loader L;
  memset(&L, 0, sizeof L);
  L.label = label ? label : "tokenizer.json";
  L.err = err;
  L.t = calloc(1, sizeof *L.t);
  if (!L.t) return nomem(&L);
  sana_jpull_init(&L.j, json, len, L.label, err);
  sana_status st = parse_document(&L);
  if (!st) st = resolve(&L);
  loader_free(&L);
  if (st) {
    sana_tokenizer_free(L.t);
    return st;
  }
  *out = L.t;
  return SANA_OK;
}

sana_status sana_tokenizer_load(const char *path, sana_tokenizer **out, sana_error *err) {
  *out = NULL;
  char *buf;
  size_t len;
  /* the real Gemma file is 17 MB; a file far larger is not a tokenizer */
  sana_status st = sana_read_text(path, (size_t)512 << 20, &buf, &len, err);
  if (st) return st;
  st = sana_tokenizer_load_mem(buf, len, path, out, err);
  free(buf);
  return st;
}

void sana_tokenizer_free(sana_tokenizer *t) {
  if (!t) return;
  free(t->text);
  free(t->id_text);
  free(t->id_used);
  free(t->vocab_slots);
  free(t->merge_slots);
  free(t->added);
  free(t);
}

size_t sana_tokenizer_vocab_size(const sana_tokenizer *t) { return t->vocab_size; }
size_t sana_tokenizer_merge_count(const sana_tokenizer *t) { return t->merge_count; }

const char *sana_tokenizer_token_text(const sana_tokenizer *t, int32_t id, size_t *len) {
  if (id < 0 || id >= t->n_ids || !t->id_used[id]) return NULL;
  *len = t->id_text[id].len;
  return t->text + t->id_text[id].off;
}
