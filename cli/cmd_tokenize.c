/* `sana tokenize`: Gemma token ids of each stdin line as JSON lines, so any reference can be
 * compared without writing C. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/log.h"
#include "io/json_pull.h"
#include "io/tokenizer.h"
#include "model/prompt.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sana tokenize --tokenizer tokenizer.json [--no-bos] [--json] [--prompt [--negative]] [-v]\n"
          "  Reads lines from stdin and prints one JSON array of token ids per line.\n"
          "  --no-bos     do not add the template's special tokens (<bos>)\n"
          "  --json       each input line is a JSON string literal (for text with newlines)\n"
          "  --prompt     SANA prompt construction: chi prefix + strip, max_len, selection; prints\n"
          "               {\"ids\": [300], \"mask\": [300], \"max_len\", \"n_real\", \"full_ids\": [max_len]}\n"
          "  --negative   with --prompt: the negative prompt (no chi, no strip, 300 tokens)\n"
          "  -v           report the tokenizer load time on stderr\n");
}

static void print_ids(FILE *f, const int32_t *ids, size_t n) {
  fputc('[', f);
  for (size_t i = 0; i < n; i++) fprintf(f, i ? ",%d" : "%d", ids[i]);
  fputc(']', f);
}

/* One input line to text: the raw bytes, or a decoded JSON string. */
static sana_status line_text(char *line, size_t len, int json, sana_jpull *jp, const char **text, size_t *text_len,
                             sana_error *err) {
  if (!json) {
    *text = line;
    *text_len = len;
    return SANA_OK;
  }
  sana_jpull_free(jp);
  sana_jpull_init(jp, line, len, "input line", err);
  sana_status st = sana_jpull_string(jp, text, text_len);
  return st ? st : sana_jpull_finish(jp);
}

static sana_status tokenize_line(const sana_tokenizer *tok, const char *text, size_t len, int add_bos, int prompt,
                                 int negative, int32_t **ids, size_t *cap, sana_error *err) {
  if (prompt) {
    sana_prompt_tokens p;
    sana_status st = sana_prompt_tokens_make(tok, text, len, !negative, &p, err);
    if (st) return st;
    fputs("{\"ids\":", stdout);
    print_ids(stdout, p.sel_ids, SANA_PROMPT_TOKENS);
    fputs(",\"mask\":", stdout);
    print_ids(stdout, p.sel_mask, SANA_PROMPT_TOKENS);
    printf(",\"max_len\":%zu,\"n_real\":%zu,\"full_ids\":", p.len, p.n_real);
    print_ids(stdout, p.ids, p.len);
    fputs("}\n", stdout);
    sana_prompt_tokens_free(&p);
    return SANA_OK;
  }
  size_t n;
  sana_status st = sana_tokenizer_encode(tok, text, len, add_bos, *ids, *cap, &n, err);
  if (st) return st;
  if (n > *cap) { /* measured: grow and encode again */
    int32_t *grown = realloc(*ids, n * sizeof **ids);
    if (!grown) return sana_err(err, SANA_ERR_NOMEM, "out of memory for %zu ids", n);
    *ids = grown;
    *cap = n;
    if ((st = sana_tokenizer_encode(tok, text, len, add_bos, *ids, *cap, &n, err))) return st;
  }
  print_ids(stdout, *ids, n);
  fputc('\n', stdout);
  return SANA_OK;
}

int cmd_tokenize(int argc, char **argv) {
  const char *path = NULL;
  int add_bos = 1, json = 0, prompt = 0, negative = 0, verbose = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) path = argv[++i];
    else if (!strcmp(argv[i], "--no-bos")) add_bos = 0;
    else if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--prompt")) prompt = 1;
    else if (!strcmp(argv[i], "--negative")) negative = 1;
    else if (!strcmp(argv[i], "-v")) verbose = 1;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "sana tokenize: unknown or incomplete option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!path) {
    fprintf(stderr, "sana tokenize: --tokenizer is required\n");
    usage(stderr);
    return 2;
  }
  if (negative && !prompt) {
    fprintf(stderr, "sana tokenize: --negative needs --prompt\n");
    return 2;
  }
  sana_error err = {0};
  sana_tokenizer *tok;
  double t0 = sana_now();
  if (sana_tokenizer_load(path, &tok, &err)) {
    fprintf(stderr, "sana tokenize: %s\n", err.msg);
    return 1;
  }
  if (verbose)
    fprintf(stderr, "sana tokenize: %s: %zu tokens, %zu merges, loaded in %.3f s\n", path,
            sana_tokenizer_vocab_size(tok), sana_tokenizer_merge_count(tok), sana_now() - t0);
  char *line = NULL;
  size_t line_cap = 0, cap = 0, lineno = 0;
  int32_t *ids = NULL;
  sana_jpull jp;
  sana_jpull_init(&jp, "", 0, "input line", &err);
  ssize_t got;
  int rc = 0;
  while ((got = getline(&line, &line_cap, stdin)) >= 0) {
    lineno++;
    size_t len = (size_t)got;
    if (len && line[len - 1] == '\n') len--;
    const char *text;
    size_t text_len;
    if (line_text(line, len, json, &jp, &text, &text_len, &err) ||
        tokenize_line(tok, text, text_len, add_bos, prompt, negative, &ids, &cap, &err)) {
      fprintf(stderr, "sana tokenize: stdin line %zu: %s\n", lineno, err.msg);
      rc = 1;
      break;
    }
  }
  if (fflush(stdout)) {
    fprintf(stderr, "sana tokenize: writing stdout failed\n");
    rc = 1;
  }
  sana_jpull_free(&jp);
  free(line);
  free(ids);
  sana_tokenizer_free(tok);
  return rc;
}
