#include "model/weights.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_file(const char *p) {
  struct stat st;
  return !stat(p, &st) && S_ISREG(st.st_mode);
}

static int join(char *out, const char *a, const char *b) {
  return snprintf(out, SANA_PATH_MAX, "%s/%s", a, b) < SANA_PATH_MAX;
}

/* The official DiT file name, else the only .pth/.safetensors in DIR/dit. */
static int find_dit(const char *dir, char *out) {
  char d[SANA_PATH_MAX];
  if (!join(d, dir, "dit")) return 0;
  if (join(out, d, "sana_streaming_ar.pth") && is_file(out)) return 1;
  DIR *dh = opendir(d);
  if (!dh) return 0;
  int found = 0;
  for (struct dirent *e; (e = readdir(dh));) {
    size_t n = strlen(e->d_name);
    int ok = (n > 4 && !strcmp(e->d_name + n - 4, ".pth")) || (n > 12 && !strcmp(e->d_name + n - 12, ".safetensors"));
    if (ok && join(out, d, e->d_name) && is_file(out)) found++;
    if (found > 1) break;
  }
  closedir(dh);
  if (found == 1) return 1;
  out[0] = 0;
  return 0;
}

sana_status sana_weights_locate(const char *dir, sana_weight_paths *p, sana_error *err) {
  memset(p, 0, sizeof *p);
  if (snprintf(p->dir, sizeof p->dir, "%s", dir) >= (int)sizeof p->dir)
    return sana_err(err, SANA_ERR_ARG, "weights directory path is too long");
  char f[SANA_PATH_MAX];
  p->have_dit = find_dit(dir, p->dit);
  join(p->vae_dir, dir, "vae");
  p->have_vae = join(f, p->vae_dir, "config.json") && is_file(f) &&
                join(f, p->vae_dir, "diffusion_pytorch_model.safetensors") && is_file(f);
  join(p->text_dir, dir, "text_encoder");
  p->have_text = join(f, p->text_dir, "config.json") && is_file(f) &&
                 ((join(f, p->text_dir, "model.safetensors") && is_file(f)) ||
                  (join(f, p->text_dir, "model.safetensors.index.json") && is_file(f)));
  p->have_tokenizer = join(p->tokenizer, p->text_dir, "tokenizer.json") && is_file(p->tokenizer);
  if (p->have_dit && p->have_vae && p->have_text && p->have_tokenizer) return SANA_OK;
  return sana_err(err, SANA_ERR_MISSING, "%s: missing%s%s%s%s (run `sana fetch`, or see docs/weights.md)", dir,
                  p->have_dit ? "" : " dit/sana_streaming_ar.pth",
                  p->have_vae ? "" : " vae/{config.json,diffusion_pytorch_model.safetensors}",
                  p->have_text ? "" : " text_encoder/{config.json,model*.safetensors}",
                  p->have_tokenizer ? "" : " text_encoder/tokenizer.json");
}

const char *sana_weights_default_dir(char *buf, size_t n) {
  const char *e = getenv("SANA_WEIGHTS");
  if (e && *e) snprintf(buf, n, "%s", e);
  else if ((e = getenv("XDG_CACHE_HOME")) && *e) snprintf(buf, n, "%s/sana", e);
  else snprintf(buf, n, "%s/.cache/sana", getenv("HOME") ? getenv("HOME") : ".");
  return buf;
}
