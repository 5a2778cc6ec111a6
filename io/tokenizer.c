/* Encoding with a loaded tokenizer (see tokenizer.h for the pipeline). */
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "io/tokenizer_impl.h"

/* Output ids, counting past max so the caller learns the full length. */
typedef struct {
  int32_t *ids;
  size_t max, n;
} sink;

static void emit(sink *o, int32_t id) {
  if (o->n < o->max) o->ids[o->n] = id;
  o->n++;
}

/* Scratch for one encode call, sized for the whole text. */
typedef struct {
  char *norm; /* normalised piece */
  size_t norm_cap;
  struct sym {
    int32_t id, prev, next;
  } *sym;
  struct cand {
    int32_t rank, pos, merged;
  } *heap;
  size_t sym_cap, heap_cap, heap_n;
} scratch;

/* ---- BPE over one normalised piece ---- */

static int cand_less(const struct cand *a, const struct cand *b) {
  return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(scratch *s, struct cand c) {
  size_t i = s->heap_n++;
  s->heap[i] = c;
  while (i > 0) {
    size_t up = (i - 1) / 2;
    if (!cand_less(&s->heap[i], &s->heap[up])) break;
    struct cand t = s->heap[i];
    s->heap[i] = s->heap[up];
    s->heap[up] = t;
    i = up;
  }
}

static struct cand heap_pop(scratch *s) {
  struct cand top = s->heap[0];
  s->heap[0] = s->heap[--s->heap_n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < s->heap_n && cand_less(&s->heap[l], &s->heap[m])) m = l;
    if (r < s->heap_n && cand_less(&s->heap[r], &s->heap[m])) m = r;
    if (m == i) break;
    struct cand t = s->heap[i];
    s->heap[i] = s->heap[m];
    s->heap[m] = t;
    i = m;
  }
  return top;
}

/* Queues the merge of symbol `left` with its right neighbour, when the pair has one. */
static void queue_pair(const sana_tokenizer *t, scratch *s, int32_t left) {
  int32_t right = s->sym[left].next;
  if (right < 0) return;
  const sana_tok_merge *m = sana_tok_merge_find(t, s->sym[left].id, s->sym[right].id);
  if (m) heap_push(s, (struct cand){m->rank, left, m->merged});
}

static sana_status bpe_piece(const sana_tokenizer *t, scratch *s, const char *p, size_t len, sink *o,
                             sana_error *err) {
  if (t->ignore_merges) {
    int32_t whole = sana_tok_vocab_find(t, p, len);
    if (whole >= 0) {
      emit(o, whole);
      return SANA_OK;
    }
  }
  /* Symbols start as characters; a character outside the vocabulary becomes its bytes'
   * <0xXX> tokens, else <unk> (consecutive unknowns fused into one when fuse_unk). Positions
   * in s->sym follow the text, so the lowest position is the leftmost pair. */
  size_t n = 0;
  int prev_unk = 0;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    int k = sana_utf8_decode(p + i, len - i, &cp);
    if (!k) return sana_err(err, SANA_ERR_ARG, "text is not valid UTF-8");
    int32_t id = sana_tok_vocab_find(t, p + i, (size_t)k);
    int bytes_ok = t->byte_fallback;
    for (int b = 0; id < 0 && bytes_ok && b < k; b++) bytes_ok = t->byte_ids[(unsigned char)p[i + b]] >= 0;
    if (id >= 0) {
      s->sym[n++].id = id;
      prev_unk = 0;
    } else if (bytes_ok) {
      for (int b = 0; b < k; b++) s->sym[n++].id = t->byte_ids[(unsigned char)p[i + b]];
      prev_unk = 0;
    } else if (t->unk_id >= 0) {
      if (!(prev_unk && t->fuse_unk)) s->sym[n++].id = t->unk_id;
      prev_unk = 1;
    } else {
      return sana_err(err, SANA_ERR_UNSUPPORTED,
                      "character U+%04X has no token, no byte fallback and the tokenizer has no unk_token", cp);
    }
    i += (size_t)k;
  }
  for (size_t i = 0; i < n; i++) {
    s->sym[i].prev = (int32_t)i - 1;
    s->sym[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
  }
  s->heap_n = 0;
  for (size_t i = 0; i + 1 < n; i++) queue_pair(t, s, (int32_t)i);
  while (s->heap_n) {
    struct cand c = heap_pop(s);
    struct sym *l = &s->sym[c.pos];
    if (l->id < 0 || l->next < 0) continue; /* stale: the left symbol was absorbed or is last */
    const sana_tok_merge *m = sana_tok_merge_find(t, l->id, s->sym[l->next].id);
    if (!m || m->merged != c.merged) continue; /* stale: a neighbour changed */
    struct sym *r = &s->sym[l->next];
    l->id = c.merged;
    l->next = r->next;
    if (r->next >= 0) s->sym[r->next].prev = c.pos;
    r->id = -1;
    if (l->prev >= 0) queue_pair(t, s, l->prev);
    queue_pair(t, s, c.pos);
  }
  for (int32_t i = n ? 0 : -1; i >= 0; i = s->sym[i].next) emit(o, s->sym[i].id);
  return SANA_OK;
}

/* ---- normaliser ---- */

/* Applies the Replace steps in order; returns the normalised piece in s->norm. */
static sana_status normalize(const sana_tokenizer *t, scratch *s, const char *p, size_t len, const char **out,
                             size_t *out_len, sana_error *err) {
  const char *cur = p;
  size_t cur_len = len;
  char *tmp = NULL;
  size_t tmp_cap = 0;
  for (int r = 0; r < t->n_repl; r++) {
    const char *from = t->text + t->repl_from[r].off, *to = t->text + t->repl_to[r].off;
    size_t fl = t->repl_from[r].len, tl = t->repl_to[r].len;
    /* worst case every byte starts a match */
    size_t need = tl > fl ? cur_len / fl * (tl - fl) + cur_len + 1 : cur_len + 1;
    char **dst = cur == s->norm ? &tmp : &s->norm;
    size_t *cap = cur == s->norm ? &tmp_cap : &s->norm_cap;
    if (!sana_tok_grow((void **)dst, cap, need, 1)) {
      free(tmp);
      return sana_err(err, SANA_ERR_NOMEM, "out of memory normalising %zu bytes", len);
    }
    size_t o = 0;
    for (size_t i = 0; i < cur_len;) {
      if (cur_len - i >= fl && memcmp(cur + i, from, fl) == 0) {
        memcpy(*dst + o, to, tl);
        o += tl;
        i += fl;
      } else {
        (*dst)[o++] = cur[i++];
      }
    }
    if (dst == &tmp) { /* keep the result in s->norm */
      if (!sana_tok_grow((void **)&s->norm, &s->norm_cap, o + 1, 1)) {
        free(tmp);
        return sana_err(err, SANA_ERR_NOMEM, "out of memory normalising %zu bytes", len);
      }
      memcpy(s->norm, tmp, o);
    }
    cur = s->norm;
    cur_len = o;
  }
  free(tmp);
  *out = cur;
  *out_len = cur_len;
  return SANA_OK;
}

static sana_status encode_piece(const sana_tokenizer *t, scratch *s, const char *p, size_t len, sink *o,
                                sana_error *err) {
  if (len == 0) return SANA_OK;
  const char *np = NULL;
  size_t nl = 0;
  sana_status st = normalize(t, s, p, len, &np, &nl, err);
  if (st) return st;
  if (nl == 0) return SANA_OK;
  /* one symbol per byte at most; each merge queues at most two candidates */
  if (!sana_tok_grow((void **)&s->sym, &s->sym_cap, nl, sizeof *s->sym) ||
      !sana_tok_grow((void **)&s->heap, &s->heap_cap, 3 * nl + 1, sizeof *s->heap))
    return sana_err(err, SANA_ERR_NOMEM, "out of memory for a %zu-byte piece", nl);
  return bpe_piece(t, s, np, nl, o, err);
}

/* The longest added token starting at p, or NULL. */
static const sana_tok_added *match_added(const sana_tokenizer *t, const char *p, size_t left) {
  unsigned char c = (unsigned char)*p;
  for (uint32_t k = t->added_start[c]; k < t->added_start[c + 1]; k++) {
    const sana_tok_added *a = &t->added[k];
    if (a->content.len <= left && memcmp(t->text + a->content.off, p, a->content.len) == 0) return a;
  }
  return NULL;
}

sana_status sana_tokenizer_encode(const sana_tokenizer *t, const char *text, size_t len, int add_special,
                                  int32_t *ids, size_t max_ids, size_t *n, sana_error *err) {
  *n = 0;
  if (!text && len) return sana_err(err, SANA_ERR_ARG, "tokenizer: NULL text");
  size_t bad = len ? sana_utf8_check(text, len) : 0;
  if (bad != len) return sana_err(err, SANA_ERR_ARG, "tokenizer: text is not valid UTF-8 at byte %zu", bad);
  sink o = {ids, ids ? max_ids : 0, 0};
  scratch s;
  memset(&s, 0, sizeof s);
  sana_status st = SANA_OK;
  if (add_special)
    for (int i = 0; i < t->n_prefix; i++) emit(&o, t->prefix[i]);
  /* Added tokens are cut from the raw text leftmost-longest; the rest is normalised and BPE'd. */
  size_t piece = 0;
  for (size_t i = 0; i < len && !st;) {
    const sana_tok_added *a = t->n_added ? match_added(t, text + i, len - i) : NULL;
    if (!a) {
      i++;
      continue;
    }
    st = encode_piece(t, &s, text + piece, i - piece, &o, err);
    emit(&o, a->id);
    i += a->content.len;
    piece = i;
  }
  if (!st) st = encode_piece(t, &s, text + piece, len - piece, &o, err);
  if (add_special)
    for (int i = 0; i < t->n_suffix; i++) emit(&o, t->suffix[i]);
  free(s.norm);
  free(s.sym);
  free(s.heap);
  if (st) return st;
  *n = o.n;
  return SANA_OK;
}

sana_status sana_tokenizer_encode_padded(const sana_tokenizer *t, const char *text, size_t len, int add_special,
                                         int32_t pad_id, size_t max_len, int32_t *ids, int32_t *mask,
                                         size_t *n_real, sana_error *err) {
  size_t n;
  sana_status st = sana_tokenizer_encode(t, text, len, add_special, ids, max_len, &n, err);
  if (st) return st;
  if (n > max_len) n = max_len; /* truncation keeps the left part */
  for (size_t i = 0; i < max_len; i++) {
    if (i >= n) ids[i] = pad_id;
    mask[i] = i < n;
  }
  *n_real = n;
  return SANA_OK;
}
