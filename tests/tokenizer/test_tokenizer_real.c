/* The real Gemma tokenizer.json (installed by tokenizer_npm_setup): the load time, the table
 * sizes and special ids documented in docs dependencies.md §10.4, and the prompt length that
 * the chi prefix implies (109 tokens with <bos> per the JS reference: max_len 109 + 298). Token
 * parity on thousands of strings is test_tokenizer_parity. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "io/tokenizer.h"
#include "model/prompt.h"
#include "tests/test_util.h"

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void) {
  const char *path = getenv("SANA_TOKENIZER_JSON");
  if (!path) {
    fprintf(stderr, "SANA_TOKENIZER_JSON is not set (run through ctest)\n");
    return 2;
  }
  sana_error err = {0};
  sana_tokenizer *t;
  double t0 = sana_now(), c0 = cpu_seconds();
  if (sana_tokenizer_load(path, &t, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  double dt = sana_now() - t0, dc = cpu_seconds() - c0;
  printf("loaded %s in %.3f s (%.3f s of CPU)\n", path, dt, dc);
#if !defined(__SANITIZE_ADDRESS__)
  /* CPU time, since wall time on a shared machine says little; with room for a slow runner */
  CHECK(dc < 2.0, "load took %.2f s of CPU", dc);
#endif
  CHECK(sana_tokenizer_vocab_size(t) == 256000, "vocab %zu", sana_tokenizer_vocab_size(t));
  CHECK(sana_tokenizer_merge_count(t) == 580604, "merges %zu", sana_tokenizer_merge_count(t));
  CHECK(sana_tokenizer_token_id(t, "<pad>") == 0 && sana_tokenizer_token_id(t, "<eos>") == 1 &&
            sana_tokenizer_token_id(t, "<bos>") == 2 && sana_tokenizer_token_id(t, "<unk>") == 3 &&
            sana_tokenizer_token_id(t, "<start_of_turn>") == 106 && sana_tokenizer_token_id(t, "<end_of_turn>") == 107,
        "special ids");
  sana_prompt_tokens p;
  const char *prompt = "Transform the entire scene into a breathtaking Sci-Fi Art digital painting.";
  CHECK_OK(sana_prompt_tokens_make(t, prompt, strlen(prompt), 1, &p, &err), &err);
  CHECK(p.len == 407 && p.sel_ids[0] == 2 && p.sel_mask[0] == 1, "max_len %zu", p.len);
  /* a short prompt leaves padding at the end of the window */
  CHECK(p.n_real < p.len && p.sel_ids[299] == 0 && p.sel_mask[299] == 0, "right padding");
  sana_prompt_tokens_free(&p);
  sana_tokenizer_free(t);
  return sana_test_done("test_tokenizer_real");
}
