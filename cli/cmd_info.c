/* sana info [DIR]: what a weights directory holds: components, detected configs, parameter
 * counts, dtypes, and the problems that would stop `sana edit` (checked without running). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "io/checkpoint.h"
#include "model/dit.h"
#include "model/gemma.h"
#include "model/vae.h"
#include "model/weights.h"

typedef struct { int64_t params; int64_t by_dtype[SANA_DTYPE_COUNT]; } ckpt_stats;

static void stats_of(const sana_ckpt *c, ckpt_stats *st) {
  memset(st, 0, sizeof *st);
  for (int i = 0; i < sana_ckpt_count(c); i++) {
    const sana_tensor *t = sana_ckpt_tensor(c, i);
    st->params += sana_numel(t);
    st->by_dtype[t->dtype] += sana_numel(t);
  }
}

static void print_stats(const ckpt_stats *st, int tensors) {
  double n = (double)st->params;
  printf("  tensors     %d, %.*f %s parameters (", tensors, n >= 1e9 ? 3 : 2, n >= 1e9 ? n / 1e9 : n / 1e6, n >= 1e9 ? "B" : "M");
  int first = 1;
  for (int d = 0; d < SANA_DTYPE_COUNT; d++)
    if (st->by_dtype[d]) {
      printf("%s%s %.1f%%", first ? "" : ", ", sana_dtype_name((sana_dtype)d), 100.0 * (double)st->by_dtype[d] / (double)st->params);
      first = 0;
    }
  printf(")\n");
}

static int info_dit(const sana_weight_paths *w, int *problems) {
  printf("dit           %s\n", w->dit);
  sana_ckpt *c;
  sana_error err = {0};
  sana_dit_config cfg;
  if (sana_ckpt_open(&c, w->dit, &err)) { printf("  PROBLEM     %s\n", err.msg); ++*problems; return -1; }
  ckpt_stats st;
  stats_of(c, &st);
  print_stats(&st, sana_ckpt_count(c));
  if (sana_dit_detect_config(c, &cfg, &err)) {
    printf("  PROBLEM     %s\n", err.msg);
    ++*problems;
  } else {
    int ns = 0;
    for (int i = 0; i < cfg.depth; i++) ns += cfg.is_softmax[i];
    printf("  config      depth %d, hidden %d, %d heads x %d, %d GDN + %d softmax blocks (", cfg.depth, cfg.hidden,
           cfg.heads, cfg.head_dim, cfg.depth - ns, ns);
    for (int i = 0, k = 0; i < cfg.depth; i++)
      if (cfg.is_softmax[i]) printf("%s%d", k++ ? ", " : "", i);
    printf("), latent %d, caption %d, %s\n", cfg.in_ch, cfg.cap_ch,
           cfg.softmax_qk_taps == 3 ? "streaming" : "bidirectional");
  }
  sana_ckpt_close(c);
  return 0;
}

static void info_vae(const sana_weight_paths *w, int *problems) {
  printf("vae           %s\n", w->vae_dir);
  char p[SANA_PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/config.json", w->vae_dir);
  char *txt;
  sana_vae_config cfg;
  sana_error err = {0};
  if (sana_read_text(p, 1 << 20, &txt, NULL, &err) || sana_vae_config_parse(&cfg, txt, p, &err)) {
    printf("  PROBLEM     %s\n", err.msg);
    ++*problems;
  } else {
    printf("  config      latent %d, compression %dx spatial %dx temporal, encoder widths", cfg.latent_channels,
           cfg.spatial_compression_ratio, cfg.temporal_compression_ratio);
    for (int i = 0; i < cfg.n_down; i++) printf(" %d", cfg.block_out_channels[i]);
    printf(", decoder %s\n", cfg.decoder_causal ? "causal" : "non-causal");
  }
  free(txt);
  snprintf(p, sizeof p, "%s/diffusion_pytorch_model.safetensors", w->vae_dir);
  sana_ckpt *c;
  if (sana_ckpt_open(&c, p, &err)) { printf("  PROBLEM     %s\n", err.msg); ++*problems; return; }
  ckpt_stats st;
  stats_of(c, &st);
  print_stats(&st, sana_ckpt_count(c));
  sana_ckpt_close(c);
}

static void info_text(const sana_weight_paths *w, int *problems) {
  printf("text encoder  %s\n", w->text_dir);
  char p[SANA_PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/config.json", w->text_dir);
  sana_gemma_config cfg;
  sana_error err = {0};
  if (sana_gemma_config_load(&cfg, p, &err)) {
    printf("  PROBLEM     %s\n", err.msg);
    ++*problems;
  } else {
    printf("  config      Gemma-2, %d layers, hidden %d, %d heads (%d kv) x %d, vocab %d\n", cfg.num_hidden_layers,
           cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim, cfg.vocab_size);
  }
  printf("tokenizer     %s%s\n", w->tokenizer, w->have_tokenizer ? "" : " (missing)");
}

int cmd_info(int argc, char **argv) {
  if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))) {
    printf("usage: sana info [WEIGHTS_DIR]   (default: $SANA_WEIGHTS or ~/.cache/sana)\n");
    return argc > 2 ? 2 : 0;
  }
  char def[SANA_PATH_MAX];
  const char *dir = argc == 2 ? argv[1] : sana_weights_default_dir(def, sizeof def);
  sana_weight_paths w;
  sana_error err = {0};
  int problems = 0;
  printf("weights       %s\n", dir);
  if (sana_weights_locate(dir, &w, &err)) {
    printf("  PROBLEM     %s\n", err.msg);
    problems++;
  }
  if (w.have_dit) info_dit(&w, &problems);
  if (w.have_vae) info_vae(&w, &problems);
  if (w.have_text) info_text(&w, &problems);
  printf("%s\n", problems ? "status        problems found (see above)" : "status        complete");
  return problems ? 1 : 0;
}
