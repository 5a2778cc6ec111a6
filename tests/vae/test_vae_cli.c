/* `sana vae-run` end to end on the fixture VAE: encode with --chunks 33,24,24 and decode with
 * --mode prepend against the PyTorch reference (tolerances as in test_vae_model.c), and bad
 * invocations refused without leaving an output file. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/test_util.h"

static char cmd[4096];

static int run(const char *args) {
  const char *bin = getenv("SANA_BIN");
  if (!bin) {
    fprintf(stderr, "SANA_BIN is unset\n");
    exit(2);
  }
  snprintf(cmd, sizeof cmd, "%s vae-run %s", bin, args);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void compare(const char *out, const char *name, const char *fixture, const char *ref, double tol) {
  sana_ckpt *got = NULL, *fx = sana_fixture_open(fixture);
  sana_error err = {0};
  CHECK_OK(sana_ckpt_open(&got, out, &err), &err);
  const sana_tensor *g = got ? sana_ckpt_find(got, name) : NULL, *r = sana_ckpt_find(fx, ref);
  CHECK(g && r && sana_shape_eq(g, r->nd, r->ne), "%s: output '%s' missing or misshapen", out, name);
  if (g && r) sana_check_close(ref, g, r, tol);
  if (got) sana_ckpt_close(got);
  sana_ckpt_close(fx);
}

int main(void) {
  char dir[] = "/tmp/sana_vae_cli_XXXXXX", args[4096], out[256];
  if (!mkdtemp(dir)) return 2;
  char vae[1024], enc[1024], dec[1024];
  snprintf(vae, sizeof vae, "%s", sana_fixture_path("vae/vae"));
  snprintf(enc, sizeof enc, "%s", sana_fixture_path("vae/encode.safetensors"));
  snprintf(dec, sizeof dec, "%s", sana_fixture_path("vae/decode.safetensors"));

  snprintf(out, sizeof out, "%s/lat.safetensors", dir);
  snprintf(args, sizeof args, "encode --vae %s --inputs %s --out %s --chunks 33,24,24", vae, enc, out);
  CHECK(run(args) == 0, "%s", cmd);
  compare(out, "latents", "vae/encode.safetensors", "latents_chunked", 1e-9);
  unlink(out);

  snprintf(out, sizeof out, "%s/video.safetensors", dir);
  snprintf(args, sizeof args, "decode --vae %s --inputs %s --out %s --mode prepend", vae, dec, out);
  CHECK(run(args) == 0, "%s", cmd);
  compare(out, "video", "vae/decode.safetensors", "video_prepend", 1e-5);
  unlink(out);

  /* refused: unknown mode (usage error), wrong chunk sum, missing input tensor; no output left */
  snprintf(args, sizeof args, "decode --vae %s --inputs %s --out %s --mode sideways 2>/dev/null", vae, dec, out);
  CHECK(run(args) == 2, "unknown mode: %s", cmd);
  snprintf(args, sizeof args, "encode --vae %s --inputs %s --out %s --chunks 33,24 2>/dev/null", vae, enc, out);
  CHECK(run(args) == 1, "chunks not adding up: %s", cmd);
  snprintf(args, sizeof args, "encode --vae %s --inputs %s --out %s 2>/dev/null", vae, dec, out);
  CHECK(run(args) == 1, "no 'video' tensor: %s", cmd);
  CHECK(access(out, F_OK) != 0, "a failed run left %s behind", out);
  rmdir(dir);
  return sana_test_done("test_vae_cli");
}
