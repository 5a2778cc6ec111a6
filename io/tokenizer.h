/* The Gemma tokenizer, read from a Hugging Face `tokenizer.json` and applied the way the
 * `tokenizers` library applies it (GemmaTokenizerFast, which the upstream pipeline runs):
 *
 *   1. added tokens (special or not, e.g. <bos>, <start_of_turn>, "\n", "<table>") are cut out of
 *      the raw text first, leftmost-longest, and map straight to their ids;
 *   2. every other piece goes through the normaliser (Gemma: " " -> "▁"), then BPE over its
 *      Unicode characters: the lowest-ranked adjacent merge first, leftmost on ties;
 *   3. a character with no token becomes its UTF-8 bytes as <0xXX> tokens (byte fallback),
 *      else <unk>;
 *   4. with add_special the post-processor template tokens are added (Gemma: <bos> in front).
 *
 * Supported tokenizer.json: model.type "BPE" (merges as "a b" strings or [a, b] pairs), a
 * normaliser that is null, Replace of a literal string, or a Sequence of those; no
 * pre-tokenizer; post_processor null or TemplateProcessing. Added tokens must have
 * normalized/lstrip/rstrip/single_word false (Gemma's 217 do). Anything else is refused with a
 * message naming the field. The loaded tokenizer is read-only: encode may run from many threads. */
#ifndef SANA_IO_TOKENIZER_H
#define SANA_IO_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sana_tokenizer sana_tokenizer;

sana_status sana_tokenizer_load(const char *path, sana_tokenizer **out, sana_error *err);
/* Same, from the bytes of a tokenizer.json; label names it in messages. */
sana_status sana_tokenizer_load_mem(const void *json, size_t len, const char *label, sana_tokenizer **out,
                                    sana_error *err);
void sana_tokenizer_free(sana_tokenizer *tok);

/* Encodes len bytes of UTF-8 text. *n receives the full token count; the first min(*n, max_ids)
 * ids are written (so max_ids truncates on the right, as HF truncation does, and a call with
 * max_ids = 0 measures). Invalid UTF-8 is refused with the byte offset. */
sana_status sana_tokenizer_encode(const sana_tokenizer *tok, const char *text, size_t len, int add_special,
                                  int32_t *ids, size_t max_ids, size_t *n, sana_error *err);

/* HF `padding="max_length", truncation=True, max_length=max_len` on the right: ids and mask get
 * exactly max_len entries (pad_id and 0 after the *n_real real tokens). */
sana_status sana_tokenizer_encode_padded(const sana_tokenizer *tok, const char *text, size_t len, int add_special,
                                         int32_t pad_id, size_t max_len, int32_t *ids, int32_t *mask,
                                         size_t *n_real, sana_error *err);

/* The id of a token by its text (added tokens first, then the BPE vocabulary), or -1. */
int32_t sana_tokenizer_token_id(const sana_tokenizer *tok, const char *token);
/* The text of an id (not NUL-terminated, *len bytes), or NULL for an unused id. */
const char *sana_tokenizer_token_text(const sana_tokenizer *tok, int32_t id, size_t *len);

size_t sana_tokenizer_vocab_size(const sana_tokenizer *tok); /* BPE vocabulary entries */
size_t sana_tokenizer_merge_count(const sana_tokenizer *tok);

#endif
