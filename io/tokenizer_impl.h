/* Internal layout of sana_tokenizer, shared by the loader (tokenizer_load.c) and the encoder
 * (tokenizer.c). Not part of the API. */
#ifndef SANA_IO_TOKENIZER_IMPL_H
#define SANA_IO_TOKENIZER_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "io/tokenizer.h"

#define SANA_TOK_MAX_ID (1 << 24)  /* refuse ids beyond this: the id table is dense */
#define SANA_TOK_MAX_TEMPLATE 8    /* special tokens around the sequence in the template */
#define SANA_TOK_MAX_REPLACE 8     /* Replace steps in the normaliser */

typedef struct {
  uint32_t off, len; /* into sana_tokenizer.text */
} sana_tok_str;

/* Merge-pair table entry: (left, right) ids -> rank and the merged id. key 0 marks empty
 * (ids are stored +1 so that the pair (0, 0) has a nonzero key). */
typedef struct {
  uint64_t key;
  int32_t rank, merged;
} sana_tok_merge;

typedef struct {
  sana_tok_str content;
  int32_t id;
} sana_tok_added;

struct sana_tokenizer {
  char *text; /* every token string, back to back */
  size_t text_len;

  sana_tok_str *id_text; /* [n_ids]: text of each id (len 0 and off 0 for unused ids) */
  uint8_t *id_used;      /* [n_ids] */
  int32_t n_ids;

  int32_t *vocab_slots; /* open addressing over BPE vocabulary strings: id or -1 */
  uint32_t vocab_mask;
  size_t vocab_size;

  sana_tok_merge *merge_slots;
  uint64_t merge_mask;
  size_t merge_count;

  /* Added tokens, sorted by first byte then longest first, with the start of each first
   * byte's run, so that matching at a position tries only candidates with that byte. */
  sana_tok_added *added;
  size_t n_added;
  uint32_t added_start[257];

  /* Normaliser: Replace steps applied in order. */
  sana_tok_str repl_from[SANA_TOK_MAX_REPLACE], repl_to[SANA_TOK_MAX_REPLACE];
  int n_repl;

  int32_t unk_id; /* -1 when model.unk_token is null */
  int byte_fallback, fuse_unk, ignore_merges;
  int32_t byte_ids[256]; /* <0xXX> ids, -1 when absent */

  int32_t prefix[SANA_TOK_MAX_TEMPLATE], suffix[SANA_TOK_MAX_TEMPLATE];
  int n_prefix, n_suffix;
};

uint64_t sana_tok_hash(const char *s, size_t len);
/* BPE vocabulary id of a string, or -1. */
int32_t sana_tok_vocab_find(const sana_tokenizer *t, const char *s, size_t len);
/* The merge of (a, b), or NULL. */
const sana_tok_merge *sana_tok_merge_find(const sana_tokenizer *t, int32_t a, int32_t b);

/* Grows *p (an array of elem-byte items) to hold need items, doubling; 0 when out of memory. */
static inline int sana_tok_grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * elem);
  if (!q) return 0;
  *p = q;
  *cap = c;
  return 1;
}

static inline uint64_t sana_tok_pair_key(int32_t a, int32_t b) {
  return ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
}

#endif
