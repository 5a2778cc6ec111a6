/* SANA's prompt token construction (model-spec §8.2-8.4; upstream `encode_prompt` in
 * inference_video_scripts/v2v/inference_sana_streaming.py with the streaming config):
 *
 * positive prompt:
 *   text    = chi + prompt.strip()            (Python str.strip(): Unicode whitespace)
 *   max_len = len(encode(chi)) + 300 - 2      (encode adds <bos>; 298 + 70 = 368 for Gemma-2)
 *   ids, mask = encode(text) with <bos>, truncated to max_len, right-padded with <pad> / 0
 *   Gemma runs on all max_len positions; the DiT gets positions [0] + [max_len-299, max_len).
 * negative prompt (streaming: ""): no chi, no strip, max_len = 300, all positions selected. */
#ifndef SANA_MODEL_PROMPT_H
#define SANA_MODEL_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "io/tokenizer.h"

#define SANA_PROMPT_TOKENS 300 /* config text_encoder.model_max_length */

typedef struct sana_prompt_tokens {
  int32_t *ids, *mask; /* [len]: what Gemma runs on */
  size_t len;          /* max_len */
  size_t n_real;       /* tokens before padding, <bos> included */
  /* Positions of ids/mask whose hidden states go to the DiT, and their ids and mask. */
  int32_t select[SANA_PROMPT_TOKENS];
  int32_t sel_ids[SANA_PROMPT_TOKENS], sel_mask[SANA_PROMPT_TOKENS];
} sana_prompt_tokens;

/* The chi instruction prefix, verbatim from the config (5 lines joined by "\n"). */
const char *sana_prompt_chi(void);

/* Python str.strip() of UTF-8 text: returns the start offset and sets *out_len. */
size_t sana_prompt_strip(const char *text, size_t len, size_t *out_len);

/* use_chi = 1 for the positive prompt, 0 for the negative one. Free with sana_prompt_tokens_free. */
sana_status sana_prompt_tokens_make(const sana_tokenizer *tok, const char *prompt, size_t len, int use_chi,
                                    sana_prompt_tokens *out, sana_error *err);
void sana_prompt_tokens_free(sana_prompt_tokens *p);

#endif
