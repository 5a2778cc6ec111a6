/* The prompt embedding cache: exact-byte keys, the positive/negative flag, LRU eviction order,
 * replacement, and that entries keep their data (hand-derived expectations). */
#include <string.h>

#include "model/prompt_cache.h"
#include "tests/test_util.h"

/* An embedding whose first value marks where it came from. */
static sana_prompt_embedding make(float marker) {
  sana_prompt_embedding e;
  sana_error err = {0};
  CHECK_OK(sana_prompt_embedding_alloc(&e, 300, 4, &err), &err);
  e.y[0] = marker;
  e.y[300 * 4 - 1] = -marker;
  e.mask[0] = 1;
  e.ids[0] = 2;
  return e;
}

static float marker(sana_prompt_cache *c, const char *k, int positive) {
  const sana_prompt_embedding *e = sana_prompt_cache_get(c, k, strlen(k), positive);
  if (!e) return 0;
  CHECK(e->y[300 * 4 - 1] == -e->y[0] && e->tokens == 300 && e->hidden == 4, "entry '%s' intact", k);
  return e->y[0];
}

static void put(sana_prompt_cache *c, const char *k, int positive, float m) {
  sana_prompt_embedding e = make(m);
  sana_error err = {0};
  const sana_prompt_embedding *s = sana_prompt_cache_put(c, k, strlen(k), positive, &e, &err);
  CHECK(s && s->y[0] == m, "put '%s'", k);
  CHECK(!e.y && !e.ids, "put takes ownership");
}

int main(void) {
  sana_prompt_cache *c = sana_prompt_cache_new(3);
  CHECK(c && sana_prompt_cache_capacity(c) == 3 && sana_prompt_cache_size(c) == 0, "new");
  put(c, "a cat", 1, 1);
  put(c, "a dog", 1, 2);
  put(c, "a cat", 0, 3); /* same text as a negative prompt: another key */
  CHECK(sana_prompt_cache_size(c) == 3, "size 3");
  CHECK(marker(c, "a cat", 1) == 1 && marker(c, "a cat", 0) == 3, "flag is part of the key");
  CHECK(marker(c, "a cat ", 1) == 0 && marker(c, "A cat", 1) == 0 && marker(c, "a ca", 1) == 0,
        "keys are the exact bytes");
  /* recency now (most recent first): cat/neg, cat/pos, dog -> a new key evicts dog */
  put(c, "a bird", 1, 4);
  CHECK(sana_prompt_cache_size(c) == 3, "bounded");
  CHECK(marker(c, "a dog", 1) == 0, "least recently used evicted");
  CHECK(marker(c, "a cat", 1) == 1, "switching back to an earlier prompt hits");
  /* recency: cat/pos, bird, cat/neg -> next eviction is cat/neg */
  put(c, "a fish", 1, 5);
  CHECK(marker(c, "a cat", 0) == 0 && marker(c, "a bird", 1) == 4 && marker(c, "a fish", 1) == 5 &&
            marker(c, "a cat", 1) == 1,
        "eviction follows recency");
  put(c, "a fish", 1, 6); /* same key replaces, no growth */
  CHECK(sana_prompt_cache_size(c) == 3 && marker(c, "a fish", 1) == 6, "replace");
  /* keys with a NUL byte inside and the empty key */
  sana_prompt_embedding e = make(7);
  sana_error err = {0};
  sana_prompt_cache_put(c, "x\0y", 3, 1, &e, &err);
  CHECK(sana_prompt_cache_get(c, "x", 1, 1) == NULL && sana_prompt_cache_get(c, "x\0y", 3, 1) != NULL,
        "length is part of the key");
  e = make(8);
  sana_prompt_cache_put(c, "", 0, 0, &e, &err);
  CHECK(marker(c, "", 0) == 8, "empty negative prompt");
  sana_prompt_cache_free(c);

  sana_prompt_cache *one = sana_prompt_cache_new(0); /* clamped to 1 */
  put(one, "p", 1, 1);
  put(one, "q", 1, 2);
  CHECK(marker(one, "p", 1) == 0 && marker(one, "q", 1) == 2, "capacity 1");
  sana_prompt_cache_free(one);
  return sana_test_done("test_prompt_cache");
}
