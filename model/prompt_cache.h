/* A bounded LRU cache of prompt embeddings keyed by the exact prompt bytes (and whether it was
 * encoded as a positive prompt, with the chi prefix, or a negative one), so that switching back
 * to an earlier prompt costs nothing. Not thread-safe: one owner (the text encoder) uses it. */
#ifndef SANA_MODEL_PROMPT_CACHE_H
#define SANA_MODEL_PROMPT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* What the DiT needs of one prompt: y [tokens, hidden] (host, F32) and the mask [tokens]. */
typedef struct sana_prompt_embedding {
  int tokens, hidden;
  int32_t *ids, *mask; /* [tokens]: the selected token ids and their mask */
  float *y;            /* [tokens, hidden] */
} sana_prompt_embedding;

/* Allocates the arrays of an embedding (zeroed); free with sana_prompt_embedding_free. */
sana_status sana_prompt_embedding_alloc(sana_prompt_embedding *e, int tokens, int hidden, sana_error *err);
void sana_prompt_embedding_free(sana_prompt_embedding *e);

typedef struct sana_prompt_cache sana_prompt_cache;

/* capacity >= 1 entries. NULL when out of memory. */
sana_prompt_cache *sana_prompt_cache_new(int capacity);
void sana_prompt_cache_free(sana_prompt_cache *c);

/* The entry for exactly these bytes (made most recent), or NULL. The pointer stays valid until
 * the entry is evicted (by a put of another key when full) or the cache is freed. */
const sana_prompt_embedding *sana_prompt_cache_get(sana_prompt_cache *c, const char *text, size_t len,
                                                   int positive);

/* Stores e under the key, taking ownership of its arrays (e is zeroed); evicts the least
 * recently used entry when full; replaces an entry with the same key. Returns the stored entry
 * (NULL with err set when out of memory, in which case e is freed). */
const sana_prompt_embedding *sana_prompt_cache_put(sana_prompt_cache *c, const char *text, size_t len,
                                                   int positive, sana_prompt_embedding *e, sana_error *err);

int sana_prompt_cache_size(const sana_prompt_cache *c);
int sana_prompt_cache_capacity(const sana_prompt_cache *c);

#endif
