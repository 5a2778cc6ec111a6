#include "model/prompt.h"

#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

/* configs/sana_streaming/sana_streaming_2b_720p.yaml, text_encoder.chi_prompt, joined by "\n";
 * the last line keeps its trailing space. */
static const char chi_prompt[] =
    "Given a user prompt, generate an \"Enhanced prompt\" that provides detailed visual descriptions suitable for "
    "image generation. Evaluate the level of detail in the user prompt:\n"
    "- If the prompt is simple, focus on adding specifics about colors, shapes, sizes, textures, and spatial "
    "relationships to create vivid and concrete scenes.\n"
    "- If the prompt is already detailed, refine and enhance the existing details slightly without "
    "overcomplicating.\n"
    "Please generate only the enhanced description for the prompt below and avoid including any additional "
    "commentary or evaluations:\n"
    "User Prompt: ";

const char *sana_prompt_chi(void) { return chi_prompt; }

/* Python's str.isspace(): bidirectional class WS, B or S, or category Zs (listed from CPython). */
static int py_isspace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

size_t sana_prompt_strip(const char *text, size_t len, size_t *out_len) {
  size_t start = 0, end = len;
  uint32_t cp;
  int k;
  while (start < end && (k = sana_utf8_decode(text + start, end - start, &cp)) && py_isspace(cp)) start += (size_t)k;
  while (end > start) {
    size_t b = end - 1; /* back to the lead byte of the last character */
    while (b > start && ((unsigned char)text[b] & 0xC0) == 0x80) b--;
    k = sana_utf8_decode(text + b, end - b, &cp);
    if (!k || (size_t)k != end - b || !py_isspace(cp)) break;
    end = b;
  }
  *out_len = end - start;
  return start;
}

void sana_prompt_tokens_free(sana_prompt_tokens *p) {
  free(p->ids);
  free(p->mask);
  p->ids = p->mask = NULL;
}

sana_status sana_prompt_tokens_make(const sana_tokenizer *tok, const char *prompt, size_t len, int use_chi,
                                    sana_prompt_tokens *out, sana_error *err) {
  memset(out, 0, sizeof *out);
  int32_t pad = sana_tokenizer_token_id(tok, "<pad>");
  if (pad < 0) return sana_err(err, SANA_ERR_MISSING, "prompt: the tokenizer has no <pad> token");
  const char *text = prompt;
  size_t text_len = len, max_len = SANA_PROMPT_TOKENS;
  char *joined = NULL;
  sana_status st;
  if (use_chi) {
    size_t chi_len = strlen(chi_prompt), n_chi, p_len;
    if ((st = sana_tokenizer_encode(tok, chi_prompt, chi_len, 1, NULL, 0, &n_chi, err)))
      return sana_err_prefix(err, "prompt: ");
    max_len = n_chi + SANA_PROMPT_TOKENS - 2;
    if (max_len < SANA_PROMPT_TOKENS)
      return sana_err(err, SANA_ERR_UNSUPPORTED, "prompt: the chi prefix encodes to %zu tokens, fewer than 2", n_chi);
    size_t p_off = sana_prompt_strip(prompt, len, &p_len);
    joined = malloc(chi_len + p_len + 1);
    if (!joined) return sana_err(err, SANA_ERR_NOMEM, "prompt: out of memory");
    memcpy(joined, chi_prompt, chi_len);
    if (p_len) memcpy(joined + chi_len, prompt + p_off, p_len);
    text = joined;
    text_len = chi_len + p_len;
  }
  out->len = max_len;
  out->ids = malloc(max_len * sizeof *out->ids);
  out->mask = malloc(max_len * sizeof *out->mask);
  if (!out->ids || !out->mask) {
    free(joined);
    sana_prompt_tokens_free(out);
    return sana_err(err, SANA_ERR_NOMEM, "prompt: out of memory");
  }
  st = sana_tokenizer_encode_padded(tok, text, text_len, 1, pad, max_len, out->ids, out->mask, &out->n_real, err);
  free(joined);
  if (st) {
    sana_prompt_tokens_free(out);
    return sana_err_prefix(err, "prompt: ");
  }
  /* select_index = [0] + range(-299, 0); without chi max_len is 300 and this is every position */
  out->select[0] = 0;
  for (int i = 1; i < SANA_PROMPT_TOKENS; i++) out->select[i] = (int32_t)(max_len - SANA_PROMPT_TOKENS + i);
  for (int i = 0; i < SANA_PROMPT_TOKENS; i++) {
    out->sel_ids[i] = out->ids[out->select[i]];
    out->sel_mask[i] = out->mask[out->select[i]];
  }
  return SANA_OK;
}
