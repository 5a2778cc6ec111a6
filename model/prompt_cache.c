/* Prompt embedding cache: a handful of entries (a user flips between a few edits), so a linear
 * scan over an array kept in recency order is both simplest and fast enough; each entry of the
 * real model is 300 × 2304 floats (2.7 MiB), which is what bounds the capacity. */
#include <stdlib.h>
#include <string.h>

#include "model/prompt_cache.h"

typedef struct entry {
  char *key;
  size_t len;
  int positive;
  sana_prompt_embedding e;
} entry;

struct sana_prompt_cache {
  int cap, n;
  entry *v; /* v[0] is the most recent */
};

sana_status sana_prompt_embedding_alloc(sana_prompt_embedding *e, int tokens, int hidden, sana_error *err) {
  memset(e, 0, sizeof *e);
  e->tokens = tokens;
  e->hidden = hidden;
  e->ids = calloc((size_t)tokens, sizeof *e->ids);
  e->mask = calloc((size_t)tokens, sizeof *e->mask);
  e->y = calloc((size_t)tokens * (size_t)hidden, sizeof *e->y);
  if (!e->ids || !e->mask || !e->y) {
    sana_prompt_embedding_free(e);
    return sana_err(err, SANA_ERR_NOMEM, "prompt embedding: out of memory for %d x %d", tokens, hidden);
  }
  return SANA_OK;
}

void sana_prompt_embedding_free(sana_prompt_embedding *e) {
  free(e->ids);
  free(e->mask);
  free(e->y);
  memset(e, 0, sizeof *e);
}

sana_prompt_cache *sana_prompt_cache_new(int capacity) {
  if (capacity < 1) capacity = 1;
  sana_prompt_cache *c = calloc(1, sizeof *c);
  if (c) c->v = calloc((size_t)capacity, sizeof *c->v);
  if (!c || !c->v) {
    free(c);
    return NULL;
  }
  c->cap = capacity;
  return c;
}

static void drop(entry *x) {
  free(x->key);
  sana_prompt_embedding_free(&x->e);
}

void sana_prompt_cache_free(sana_prompt_cache *c) {
  if (!c) return;
  for (int i = 0; i < c->n; i++) drop(&c->v[i]);
  free(c->v);
  free(c);
}

static int find(const sana_prompt_cache *c, const char *text, size_t len, int positive) {
  for (int i = 0; i < c->n; i++)
    if (c->v[i].len == len && c->v[i].positive == (positive != 0) && !memcmp(c->v[i].key, text, len))
      return i;
  return -1;
}

/* Moves v[i] to the front, shifting the more recent ones back by one. */
static void to_front(sana_prompt_cache *c, int i) {
  entry x = c->v[i];
  memmove(c->v + 1, c->v, (size_t)i * sizeof *c->v);
  c->v[0] = x;
}

const sana_prompt_embedding *sana_prompt_cache_get(sana_prompt_cache *c, const char *text, size_t len,
                                                   int positive) {
  int i = find(c, text, len, positive);
  if (i < 0) return NULL;
  to_front(c, i);
  return &c->v[0].e;
}

const sana_prompt_embedding *sana_prompt_cache_put(sana_prompt_cache *c, const char *text, size_t len,
                                                   int positive, sana_prompt_embedding *e, sana_error *err) {
  char *key = malloc(len ? len : 1);
  if (!key) {
    sana_prompt_embedding_free(e);
    sana_err(err, SANA_ERR_NOMEM, "prompt cache: out of memory");
    return NULL;
  }
  if (len) memcpy(key, text, len);
  int i = find(c, text, len, positive);
  if (i < 0 && c->n == c->cap) i = c->n - 1; /* evict the least recently used */
  if (i >= 0) drop(&c->v[i]);
  else i = c->n++;
  c->v[i] = (entry){.key = key, .len = len, .positive = positive != 0, .e = *e};
  memset(e, 0, sizeof *e);
  to_front(c, i);
  return &c->v[0].e;
}

int sana_prompt_cache_size(const sana_prompt_cache *c) { return c->n; }
int sana_prompt_cache_capacity(const sana_prompt_cache *c) { return c->cap; }
