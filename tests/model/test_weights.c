/* Weights-directory layout: components found, missing ones named, XDG default. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/weights.h"
#include "tests/test_util.h"

static void touch(const char *dir, const char *rel) {
  char p[SANA_PATH_MAX];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  FILE *f = fopen(p, "w");
  if (f) fclose(f);
}

int main(void) {
  char dir[] = "/tmp/sana_w_XXXXXX", p[SANA_PATH_MAX];
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  sana_weight_paths w;
  sana_error err = {0};
  CHECK(sana_weights_locate(dir, &w, &err) == SANA_ERR_MISSING, "empty dir refused");
  CHECK(strstr(err.msg, "dit/sana_streaming_ar.pth") && strstr(err.msg, "tokenizer.json"), "names all: %s", err.msg);

  const char *sub[] = {"dit", "vae", "text_encoder"};
  for (int i = 0; i < 3; i++) { snprintf(p, sizeof p, "%s/%s", dir, sub[i]); mkdir(p, 0700); }
  touch(dir, "dit/other.pth");
  touch(dir, "vae/config.json");
  touch(dir, "vae/diffusion_pytorch_model.safetensors");
  touch(dir, "text_encoder/config.json");
  touch(dir, "text_encoder/model.safetensors.index.json");
  CHECK(sana_weights_locate(dir, &w, &err) == SANA_ERR_MISSING, "no tokenizer");
  CHECK(strstr(err.msg, "tokenizer.json") && !strstr(err.msg, "dit/"), "only the tokenizer: %s", err.msg);
  CHECK(w.have_dit && strstr(w.dit, "dit/other.pth"), "lone .pth accepted: %s", w.dit);
  touch(dir, "text_encoder/tokenizer.json");
  CHECK_OK(sana_weights_locate(dir, &w, &err), &err);
  touch(dir, "dit/sana_streaming_ar.pth");
  CHECK_OK(sana_weights_locate(dir, &w, &err), &err);
  CHECK(strstr(w.dit, "sana_streaming_ar.pth") != NULL, "official name preferred: %s", w.dit);

  setenv("SANA_WEIGHTS", "", 1);
  setenv("XDG_CACHE_HOME", "/x/cache", 1);
  CHECK(!strcmp(sana_weights_default_dir(p, sizeof p), "/x/cache/sana"), "xdg: %s", p);
  setenv("SANA_WEIGHTS", "/w", 1);
  CHECK(!strcmp(sana_weights_default_dir(p, sizeof p), "/w"), "override: %s", p);
  char cmd[SANA_PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0, "cleanup");
  return sana_test_done("test_weights");
}
