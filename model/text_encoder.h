/* Text conditioning end to end: prompt text -> SANA's 300 selected tokens -> Gemma-2 last
 * hidden state, with a cache keyed by the exact text so a prompt seen before costs nothing
 * (model-spec §3.3, §8; docs/text-encoder.md). */
#ifndef SANA_MODEL_TEXT_ENCODER_H
#define SANA_MODEL_TEXT_ENCODER_H

#include <stddef.h>

#include "backend/backend.h"
#include "model/gemma.h"
#include "model/prompt_cache.h"

typedef struct sana_text_encoder sana_text_encoder;

#define SANA_TEXT_CACHE_DEFAULT 8 /* entries; 2.7 MiB each for gemma-2-2b-it */

/* model_dir: config.json and the weights (the gemma-2-2b-it repository layout);
 * tokenizer_json: NULL for model_dir/tokenizer.json. */
sana_status sana_text_encoder_open(sana_text_encoder **out, sana_backend *be, const char *model_dir,
                                   const char *tokenizer_json, int cache_capacity, sana_error *err);
void sana_text_encoder_close(sana_text_encoder *te);

/* The encoder, e.g. for sana_gemma_set_softcap. Changing a setting drops the cache. */
sana_gemma *sana_text_encoder_gemma(sana_text_encoder *te);
void sana_text_encoder_set_softcap(sana_text_encoder *te, int on);

/* positive = 1: chi prefix + stripped prompt, BOS + last 299 positions; positive = 0: the
 * negative prompt, as is, 300 positions. *out (ids, mask [300], y [300, hidden]) stays valid
 * until the entry leaves the cache: at least until the next call. */
sana_status sana_text_encoder_encode(sana_text_encoder *te, const char *text, size_t len, int positive,
                                     const sana_prompt_embedding **out, sana_error *err);

/* Counters since open: encodes served from the cache, and Gemma runs. */
void sana_text_encoder_stats(const sana_text_encoder *te, long *hits, long *misses);

#endif
