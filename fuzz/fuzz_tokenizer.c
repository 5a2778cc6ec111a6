/* libFuzzer target: the tokenizer.json loader and the encoder. The input is a tokenizer.json,
 * optionally followed by a NUL byte and a text to encode with it (plain and with special tokens,
 * truncated and padded, and as a SANA prompt). Seeds: fuzz/corpus/tokenizer. */
#include <stdint.h>
#include <string.h>

#include "io/tokenizer.h"
#include "model/prompt.h"

static const char *const texts[] = {"", "a b  c\n\n<bos>x", "\xc3\xa9\xf0\x9f\x99\x82 <sp>\t"};

static void encode_all(const sana_tokenizer *t, const char *text, size_t len) {
  int32_t ids[64], mask[64];
  size_t n;
  sana_error err;
  for (int special = 0; special < 2; special++) sana_tokenizer_encode(t, text, len, special, ids, 64, &n, &err);
  sana_tokenizer_encode_padded(t, text, len, 1, 0, 7, ids, mask, &n, &err);
  sana_prompt_tokens p;
  for (int chi = 0; chi < 2; chi++)
    if (!sana_prompt_tokens_make(t, text, len, chi, &p, &err)) sana_prompt_tokens_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t json_len = nul ? (size_t)(nul - data) : size;
  sana_tokenizer *t;
  sana_error err;
  if (sana_tokenizer_load_mem(data, json_len, "fuzz.json", &t, &err)) return 0;
  if (nul) {
    encode_all(t, (const char *)nul + 1, size - json_len - 1);
  } else {
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) encode_all(t, texts[i], strlen(texts[i]));
  }
  size_t len;
  for (int32_t id = -1; id < 40; id++) sana_tokenizer_token_text(t, id, &len);
  sana_tokenizer_free(t);
  return 0;
}
