/* Malformed VAE directories are refused with a message naming the field, key or file:
 * config.json variants (missing field, bad type, unsupported feature, inconsistent ratio, not
 * JSON) and safetensors variants (missing tensor, wrong shape, unexpected extra tensor,
 * truncated file), all derived from the good fixture VAE. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "model/vae.h"
#include "tests/test_util.h"

static char dir[256];
static sana_backend *be;
static char *good_config;

static void write_file(const char *name, const void *data, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(2);
  }
  fclose(f);
}

/* Loading must fail and the message contain `needle`. */
static void expect_refused(const char *what, const char *needle) {
  sana_error err = {0};
  sana_vae *v = NULL;
  sana_status s = sana_vae_load(&v, be, dir, &err);
  CHECK(s != SANA_OK && !v, "%s: loaded anyway", what);
  CHECK(strstr(err.msg, needle) != NULL, "%s: message '%s' does not name '%s'", what, err.msg, needle);
  if (s != SANA_OK) printf("  ok   %-34s -> %s\n", what, err.msg);
  sana_vae_free(v);
}

/* config.json with `from` replaced by `to` (once). */
static void config_variant(const char *from, const char *to) {
  char *p = strstr(good_config, from);
  if (!p) {
    fprintf(stderr, "fixture config lacks %s\n", from);
    exit(2);
  }
  size_t n = strlen(good_config) - strlen(from) + strlen(to);
  char *c = malloc(n + 1);
  memcpy(c, good_config, (size_t)(p - good_config));
  strcpy(c + (p - good_config), to);
  strcat(c, p + strlen(from));
  write_file("config.json", c, strlen(c));
  free(c);
}

/* The fixture's tensors written back with one dropped, reshaped or added. */
static void weights_variant(const char *drop, const char *reshape, const char *add) {
  sana_ckpt *ck = sana_fixture_open("vae/vae/diffusion_pytorch_model.safetensors");
  int n = sana_ckpt_count(ck), k = 0;
  const char **names = calloc((size_t)n + 1, sizeof *names);
  sana_tensor *ts = calloc((size_t)n + 1, sizeof *ts);
  for (int i = 0; i < n; i++) {
    const char *name = sana_ckpt_name(ck, i);
    if (drop && !strcmp(name, drop)) continue;
    names[k] = name;
    ts[k] = *sana_ckpt_tensor(ck, i);
    if (reshape && !strcmp(name, reshape)) ts[k] = sana_tensor_reshape(&ts[k], 2, (int64_t[]){ts[k].ne[0], sana_numel(&ts[k]) / ts[k].ne[0]});
    k++;
  }
  static uint16_t extra[4];
  if (add) names[k] = add, ts[k++] = SANA_T(SANA_BF16, extra, 4);
  char path[512];
  sana_error err = {0};
  snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
  CHECK_OK(sana_safetensors_write(path, k, names, ts, &err), &err);
  free(names);
  free(ts);
  sana_ckpt_close(ck);
}

int main(void) {
  sana_error err = {0};
  be = sana_backend_create("cpu", &err);
  snprintf(dir, sizeof dir, "/tmp/sana_vae_load_XXXXXX");
  if (!be || !mkdtemp(dir)) return 2;
  size_t n;
  char src[512];
  snprintf(src, sizeof src, "%s", sana_fixture_path("vae/vae/config.json"));
  good_config = sana_test_read(src, &n);

  /* a good copy loads (the baseline for every variant below) */
  write_file("config.json", good_config, n);
  weights_variant(NULL, NULL, NULL);
  sana_vae *v = NULL;
  CHECK_OK(sana_vae_load(&v, be, dir, &err), &err);
  sana_vae_free(v);

  config_variant("\"latent_channels\"", "\"latent_channels_renamed\"");
  expect_refused("config: missing field", "'latent_channels'");
  config_variant("\"downsample_type\": [\n    \"spatial\"", "\"downsample_type\": [\n    \"diagonal\"");
  expect_refused("config: bad downsample_type", "'downsample_type'");
  config_variant("\"timestep_conditioning\": false", "\"timestep_conditioning\": true");
  expect_refused("config: timestep conditioning", "'timestep_conditioning'");
  config_variant("\"spatial_compression_ratio\": 32", "\"spatial_compression_ratio\": 64");
  expect_refused("config: inconsistent ratio", "compression_ratio");
  config_variant("\"patch_size\": 4", "\"patch_size\": \"four\"");
  expect_refused("config: wrong type", "'patch_size'");
  config_variant("{", "[");
  expect_refused("config: not JSON", "config.json");
  write_file("config.json", good_config, n);

  weights_variant("decoder.conv_out.conv.bias", NULL, NULL);
  expect_refused("weights: missing tensor", "'decoder.conv_out.conv.bias'");
  weights_variant(NULL, "encoder.down_blocks.2.resnets.3.conv1.conv.weight", NULL);
  expect_refused("weights: wrong shape", "'encoder.down_blocks.2.resnets.3.conv1.conv.weight'");
  weights_variant(NULL, NULL, "encoder.extra.weight");
  expect_refused("weights: unexpected tensor", "'encoder.extra.weight'");

  /* truncated: the good file cut in the middle of its data */
  weights_variant(NULL, NULL, NULL);
  snprintf(src, sizeof src, "%s/diffusion_pytorch_model.safetensors", dir);
  size_t wn;
  char *w = sana_test_read(src, &wn);
  write_file("diffusion_pytorch_model.safetensors", w, wn / 2);
  expect_refused("weights: truncated", "diffusion_pytorch_model.safetensors");
  free(w);

  unlink(src);
  expect_refused("weights: absent", "diffusion_pytorch_model.safetensors");
  snprintf(src, sizeof src, "%s/config.json", dir);
  unlink(src);
  expect_refused("config: absent", "config.json");
  rmdir(dir);
  free(good_config);
  sana_backend_destroy(be);
  return sana_test_done("test_vae_load");
}
