/* Prompt -> tokens (model/prompt) -> Gemma-2 (model/gemma) -> the selected rows, cached. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tensor.h"
#include "model/prompt.h"
#include "model/text_encoder.h"

struct sana_text_encoder {
  sana_backend *be;
  sana_tokenizer *tok;
  sana_gemma *gemma;
  sana_prompt_cache *cache;
  int capacity;
  long hits, misses;
};

sana_status sana_text_encoder_open(sana_text_encoder **out, sana_backend *be, const char *model_dir,
                                   const char *tokenizer_json, int cache_capacity, sana_error *err) {
  *out = NULL;
  sana_text_encoder *te = calloc(1, sizeof *te);
  if (!te) return sana_err(err, SANA_ERR_NOMEM, "text encoder: out of memory");
  te->be = be;
  te->capacity = cache_capacity > 0 ? cache_capacity : SANA_TEXT_CACHE_DEFAULT;
  char path[4096];
  if (!tokenizer_json) {
    snprintf(path, sizeof path, "%s/tokenizer.json", model_dir);
    tokenizer_json = path;
  }
  sana_status s = sana_tokenizer_load(tokenizer_json, &te->tok, err);
  if (!s) s = sana_gemma_load(&te->gemma, be, model_dir, err);
  if (!s && !(te->cache = sana_prompt_cache_new(te->capacity)))
    s = sana_err(err, SANA_ERR_NOMEM, "text encoder: out of memory");
  if (s) {
    sana_text_encoder_close(te);
    return s;
  }
  *out = te;
  return SANA_OK;
}

void sana_text_encoder_close(sana_text_encoder *te) {
  if (!te) return;
  sana_prompt_cache_free(te->cache);
  sana_gemma_free(te->gemma);
  sana_tokenizer_free(te->tok);
  free(te);
}

sana_gemma *sana_text_encoder_gemma(sana_text_encoder *te) { return te->gemma; }

void sana_text_encoder_set_softcap(sana_text_encoder *te, int on) {
  if ((on != 0) == sana_gemma_softcap(te->gemma)) return;
  sana_gemma_set_softcap(te->gemma, on);
  sana_prompt_cache_free(te->cache); /* its entries were computed the other way */
  te->cache = sana_prompt_cache_new(te->capacity);
}

/* Runs Gemma on the whole padded sequence and keeps the selected rows. */
static sana_status run(sana_text_encoder *te, const sana_prompt_tokens *pt, sana_prompt_embedding *e,
                       sana_error *err) {
  sana_backend *be = te->be;
  int64_t H = sana_gemma_config_of(te->gemma)->hidden_size, n = (int64_t)pt->len;
  sana_tensor y, host = SANA_T(SANA_F32, NULL, n, H);
  sana_status s = sana_backend_tensor(be, &y, be->act_dtype, 2, (int64_t[]){n, H}, err);
  if (s) return s;
  host.data = malloc(sana_nbytes(&host));
  if (!host.data) s = sana_err(err, SANA_ERR_NOMEM, "text encoder: out of memory for %lld tokens", (long long)n);
  if (!s) s = sana_gemma_forward(te->gemma, pt->ids, pt->mask, (int)n, &y, err); /* [n, H] */
  if (!s) {
    be->download(be, &host, &y);
    s = be->sync(be, err);
  }
  if (!s) s = sana_prompt_embedding_alloc(e, SANA_PROMPT_TOKENS, (int)H, err);
  for (int r = 0; !s && r < SANA_PROMPT_TOKENS; r++) { /* y [300, H] = rows pt->select */
    memcpy(e->y + (int64_t)r * H, (float *)host.data + (int64_t)pt->select[r] * H, sizeof(float) * (size_t)H);
    e->ids[r] = pt->sel_ids[r];
    e->mask[r] = pt->sel_mask[r];
  }
  free(host.data);
  be->free(be, y.data);
  return s;
}

sana_status sana_text_encoder_encode(sana_text_encoder *te, const char *text, size_t len, int positive,
                                     const sana_prompt_embedding **out, sana_error *err) {
  *out = sana_prompt_cache_get(te->cache, text, len, positive);
  if (*out) {
    te->hits++;
    return SANA_OK;
  }
  sana_prompt_tokens pt;
  sana_status s = sana_prompt_tokens_make(te->tok, text, len, positive, &pt, err);
  if (s) return sana_err_prefix(err, "encoding the %s prompt: ", positive ? "positive" : "negative");
  sana_prompt_embedding e = {0};
  s = run(te, &pt, &e, err);
  sana_prompt_tokens_free(&pt);
  if (s) {
    sana_prompt_embedding_free(&e);
    return sana_err_prefix(err, "encoding the %s prompt: ", positive ? "positive" : "negative");
  }
  te->misses++;
  *out = sana_prompt_cache_put(te->cache, text, len, positive, &e, err);
  return *out ? SANA_OK : SANA_ERR_NOMEM;
}

void sana_text_encoder_stats(const sana_text_encoder *te, long *hits, long *misses) {
  *hits = te->hits;
  *misses = te->misses;
}
