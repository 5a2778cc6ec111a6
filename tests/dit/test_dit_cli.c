/* `sana dit-run` on the fixture: every velocity, chunk result and the latents match the
 * PyTorch reference (NMSE 1e-9, as test_dit_forward), and with --caches --blocks also the caches
 * after each cache pass and the per-block residuals; bad invocations fail with a message and
 * leave no output file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/test_util.h"

static int run(const char *args, char *msg, size_t n) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "%s dit-run %s 2>&1", getenv("SANA_BIN"), args);
  FILE *p = popen(cmd, "r");
  size_t got = p ? fread(msg, 1, n - 1, p) : 0;
  msg[got] = 0;
  return p ? pclose(p) : -1;
}

/* Runs dit-run on a fixture's inputs and compares every output with the reference's. */
static void run_and_compare(const char *inputs, const char *expected, const char *extra, int n_expected) {
  char w[4096], in[4096], out[] = "/tmp/sana_dit_run_XXXXXX", args[12288], msg[4096];
  snprintf(w, sizeof w, "%s", sana_fixture_path("dit/dit_tiny.pth"));
  snprintf(in, sizeof in, "%s", sana_fixture_path(inputs));
  int fd = mkstemp(out);
  close(fd);
  unlink(out);
  snprintf(args, sizeof args, "--weights %s --inputs %s --out %s --backend cpu %s", w, in, out, extra);
  int rc = run(args, msg, sizeof msg);
  CHECK(rc == 0, "dit-run on %s failed: %s", inputs, msg);
  if (rc) return;
  sana_ckpt *got = NULL;
  sana_error err = {0};
  CHECK_OK(sana_ckpt_open(&got, out, &err), &err);
  sana_ckpt *ex = sana_fixture_open(expected);
  int compared = 0;
  for (int i = 0; got && i < sana_ckpt_count(got); i++) {
    const char *name = sana_ckpt_name(got, i);
    const sana_tensor *ref = sana_ckpt_find(ex, name);
    CHECK(ref != NULL, "dit-run wrote '%s', which the reference does not have", name);
    if (!ref) continue;
    CHECK(sana_shape_eq(sana_ckpt_tensor(got, i), ref->nd, ref->ne), "'%s' has the wrong shape", name);
    sana_check_close(name, sana_ckpt_tensor(got, i), ref, 1e-9);
    compared++;
  }
  CHECK(compared == n_expected, "%s: compared %d tensors, expected %d", inputs, compared, n_expected);
  sana_ckpt_close(got);
  sana_ckpt_close(ex);
  unlink(out);
}

int main(void) {
  /* 5 + 3 + 3 frames: 12 velocities, 3 chunk results, the latents, the caches after the 2 cache
   * passes (4 t-conv frames, 3 GDN blocks x 2 states, 1 softmax block x K, V: 12 each) and the 4
   * block residuals of each chunk's first pass */
  run_and_compare("dit/inputs.safetensors", "dit/expected.safetensors", "--caches --blocks",
                  3 * 4 + 3 + 1 + 2 * 12 + 3 * 4);
  /* 4 + 1 + 3 + 3: a chunk longer than the previous one replaces it in the softmax window;
   * without the flags, only velocities, results and latents */
  run_and_compare("dit/inputs_uneven.safetensors", "dit/expected_uneven.safetensors", "", 4 * 4 + 4 + 1);

  char w[4096], in[4096], out[] = "/tmp/sana_dit_run_XXXXXX", args[12288], msg[4096];
  snprintf(w, sizeof w, "%s", sana_fixture_path("dit/dit_tiny.pth"));
  snprintf(in, sizeof in, "%s", sana_fixture_path("dit/inputs.safetensors"));
  int fd = mkstemp(out);
  close(fd);
  unlink(out);
  /* weights that are not a DiT; inputs without the text; unknown backend */
  snprintf(args, sizeof args, "--weights %s --inputs %s --out %s", in, in, out);
  CHECK(run(args, msg, sizeof msg) != 0 && strstr(msg, "x_embedder.proj.weight"), "non-DiT weights: '%s'", msg);
  snprintf(args, sizeof args, "--weights %s --inputs %s --out %s", w, w, out);
  CHECK(run(args, msg, sizeof msg) != 0 && strstr(msg, "missing tensor 'noise'"), "inputs without noise: '%s'", msg);
  snprintf(args, sizeof args, "--weights %s --inputs %s --out %s --backend tpu", w, in, out);
  CHECK(run(args, msg, sizeof msg) != 0 && strstr(msg, "tpu"), "unknown backend: '%s'", msg);
  CHECK(run("--weights x", msg, sizeof msg) != 0 && strstr(msg, "usage"), "missing arguments: '%s'", msg);
  CHECK(access(out, F_OK) != 0, "a failed run left %s behind", out);
  return sana_test_done("test_dit_cli");
}
