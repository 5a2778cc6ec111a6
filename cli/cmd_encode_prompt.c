/* `sana encode-prompt`: a prompt through SANA's text conditioning (chi prefix, 300-token
 * selection, Gemma-2), written to safetensors so any reference can be compared without C:
 *   "ids" I32 [300], "mask" I32 [300], "y" F32 [300, hidden]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "model/text_encoder.h"

static int usage(FILE *f) {
  fprintf(f,
          "usage: sana encode-prompt --text-encoder DIR (--prompt TEXT | --prompt-file PATH) --out OUT.safetensors\n"
          "                          [--tokenizer tokenizer.json] [--negative] [--softcap on|off] [--backend cpu]\n"
          "  DIR holds config.json and the Gemma-2 weights (and tokenizer.json unless --tokenizer).\n"
          "  --prompt-file   the prompt's exact bytes from a file (for text with newlines)\n"
          "  --negative      encode as the negative prompt (no chi prefix, no strip, 300 tokens)\n"
          "  --softcap       attention logit softcap: off (default, what upstream ran: sdpa) or on (eager)\n"
          "  Writes ids I32 [300], mask I32 [300] and y F32 [300, hidden].\n");
  return f == stdout ? 0 : 2;
}

static sana_status write_out(const char *path, const sana_prompt_embedding *e, sana_error *err) {
  const char *names[3] = {"ids", "mask", "y"};
  sana_tensor ts[3] = {
      SANA_T(SANA_I32, e->ids, e->tokens),
      SANA_T(SANA_I32, e->mask, e->tokens),
      SANA_T(SANA_F32, e->y, e->tokens, e->hidden),
  };
  return sana_safetensors_write(path, 3, names, ts, err);
}

int cmd_encode_prompt(int argc, char **argv) {
  const char *dir = NULL, *tok = NULL, *prompt = NULL, *prompt_file = NULL, *out = NULL, *backend = "cpu";
  int negative = 0, softcap = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout);
    if (!strcmp(a, "--negative")) { negative = 1; continue; }
    if (!v) {
      fprintf(stderr, "sana encode-prompt: unknown option or missing value: %s\n", a);
      return usage(stderr);
    }
    if (!strcmp(a, "--text-encoder")) dir = v;
    else if (!strcmp(a, "--tokenizer")) tok = v;
    else if (!strcmp(a, "--prompt")) prompt = v;
    else if (!strcmp(a, "--prompt-file")) prompt_file = v;
    else if (!strcmp(a, "--out")) out = v;
    else if (!strcmp(a, "--backend")) backend = v;
    else if (!strcmp(a, "--softcap") && (!strcmp(v, "on") || !strcmp(v, "off"))) softcap = !strcmp(v, "on");
    else {
      fprintf(stderr, "sana encode-prompt: unknown option %s %s\n", a, v);
      return usage(stderr);
    }
    i++;
  }
  if (!dir || !out || !prompt == !prompt_file) {
    fprintf(stderr, "sana encode-prompt: --text-encoder, --out and one of --prompt / --prompt-file are required\n");
    return usage(stderr);
  }
  size_t len = prompt ? strlen(prompt) : 0;
  char *text = NULL;
  sana_error err = {0};
  if (prompt_file && sana_read_text(prompt_file, (size_t)1 << 20, &text, &len, &err)) {
    fprintf(stderr, "sana encode-prompt: %s\n", err.msg);
    return 1;
  }
  sana_backend *be = sana_backend_create(backend, &err);
  sana_text_encoder *te = NULL;
  const sana_prompt_embedding *e = NULL;
  sana_status s = be ? SANA_OK : err.code;
  if (!s) s = sana_text_encoder_open(&te, be, dir, tok, 1, &err);
  if (!s) {
    sana_text_encoder_set_softcap(te, softcap);
    s = sana_text_encoder_encode(te, text ? text : prompt, len, !negative, &e, &err);
  }
  if (!s) s = write_out(out, e, &err);
  if (s) fprintf(stderr, "sana encode-prompt: %s\n", err.msg);
  else {
    int real = 0;
    for (int i = 0; i < e->tokens; i++) real += e->mask[i] != 0;
    fprintf(stderr, "sana encode-prompt: %d of %d selected tokens are real, hidden %d -> %s\n", real,
            e->tokens, e->hidden, out);
  }
  sana_text_encoder_close(te);
  sana_backend_destroy(be);
  free(text);
  return s ? 1 : 0;
}
