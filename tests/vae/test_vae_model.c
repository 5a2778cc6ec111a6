/* The C VAE against our PyTorch reference (tools/reference/ltx2_vae.py, fixtures in
 * tests/fixtures/vae/): a reduced-width VAE with the real LTX-2 layer structure.
 *
 * Tolerances (NMSE): the CPU backend and the reference both compute in fp32, so latents agree
 * to accumulation order (stated 1e-9). Decoded videos are stored in bf16 in the fixture to keep
 * it small, which alone gives an NMSE of about 1e-6: stated 1e-5. Chunked vs whole-clip encode
 * in C: the same arithmetic in the same order, stated 1e-12. */
#include <stdlib.h>
#include <string.h>

#include "model/vae.h"
#include "tests/test_util.h"

static sana_backend *be;
static sana_vae *vae;

static sana_tensor upload(const sana_ckpt *c, const char *name) {
  const sana_tensor *h = sana_ckpt_find(c, name);
  sana_tensor t = {0};
  sana_error err = {0};
  if (!h) {
    fprintf(stderr, "fixture lacks %s\n", name);
    exit(2);
  }
  CHECK_OK(sana_backend_tensor(be, &t, SANA_F32, h->nd, h->ne, &err), &err);
  be->upload(be, &t, h);
  return t;
}

/* Fixture tensors carry the batch dimension; ours do not. */
static sana_tensor drop_batch(const sana_tensor *t) {
  return sana_tensor_reshape(t, t->nd - 1, t->ne + 1);
}

/* Encodes `video` in chunks of the given frame counts through one stream. */
static sana_tensor encode_chunks(const sana_tensor *video, const int *sizes, int n, size_t *cache_bytes) {
  sana_error err = {0};
  sana_tensor all = {0};
  CHECK_OK(sana_vae_encode_chunked(vae, video, sizes, n, &all, cache_bytes, &err), &err);
  CHECK(all.data && all.ne[1] == 11, "chunked encode gave 11 latents");
  return all;
}

static void test_encode(void) {
  sana_ckpt *fx = sana_fixture_open("vae/encode.safetensors");
  sana_tensor video5 = upload(fx, "video"), video = drop_batch(&video5), lat = {0};
  sana_error err = {0};
  CHECK_OK(sana_vae_encode(vae, NULL, &video, &lat, &err), &err);
  sana_tensor ref = *sana_ckpt_find(fx, "latents");
  sana_tensor ref4 = drop_batch(&ref);
  CHECK(lat.data && lat.ne[1] == 11 && lat.ne[2] == 2, "whole-clip encode shape");
  if (lat.data) sana_check_close("encode whole clip vs reference", &lat, &ref4, 1e-9);

  /* the streaming schedule: 33 frames, then 24 at a time (5 + 3 + 3 latents) */
  size_t bytes = 0;
  sana_tensor ch = encode_chunks(&video, (int[]){33, 24, 24}, 3, &bytes);
  sana_tensor refc = *sana_ckpt_find(fx, "latents_chunked"), refc4 = drop_batch(&refc);
  if (ch.data) sana_check_close("encode 33+24+24 vs reference", &ch, &refc4, 1e-9);
  if (lat.data && ch.data) sana_check_close("encode 33+24+24 vs whole clip (C)", &ch, &lat, 1e-12);
  CHECK(bytes > 0, "the stream held its caches");
  if (ch.data) be->free(be, ch.data);

  /* odd chunk sizes: frames that do not complete a temporal group wait in the stream */
  sana_tensor odd = encode_chunks(&video, (int[]){1, 8, 5, 3, 16, 48}, 6, &bytes);
  if (lat.data && odd.data) sana_check_close("encode 1+8+5+3+16+48 vs whole clip (C)", &odd, &lat, 1e-12);
  if (odd.data) be->free(be, odd.data);
  if (lat.data) be->free(be, lat.data);
  be->free(be, video5.data);
  sana_ckpt_close(fx);
}

static void test_decode(void) {
  sana_ckpt *fx = sana_fixture_open("vae/decode.safetensors");
  sana_tensor lat5 = upload(fx, "latents"), lat = drop_batch(&lat5);
  static const struct {
    sana_vae_decode_mode mode;
    const char *ref;
  } modes[] = {{SANA_VAE_DECODE_TILE, "video_tile"},
               {SANA_VAE_DECODE_CAUSAL, "video_causal"},
               {SANA_VAE_DECODE_PREPEND, "video_prepend"}};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    sana_error err = {0};
    sana_tensor out = {0};
    CHECK_OK(sana_vae_decode(vae, modes[i].mode, &lat, &out, &err), &err);
    sana_tensor r = *sana_ckpt_find(fx, modes[i].ref), r4 = drop_batch(&r);
    CHECK(out.data && sana_shape_eq(&out, 4, r4.ne), "%s: shape", modes[i].ref);
    if (out.data) sana_check_close(modes[i].ref, &out, &r4, 1e-5);
    if (out.data) be->free(be, out.data);
  }

  /* causal stream by hand: the first latent gives 1 frame, each later one 8 */
  sana_error err = {0};
  sana_vae_stream *s = NULL;
  CHECK_OK(sana_vae_stream_new(&s, vae, &err), &err);
  for (int64_t t = 0; t < lat.ne[1]; t++) {
    sana_tensor one = {0}, out = {0};
    CHECK_OK(sana_backend_tensor(be, &one, SANA_F32, 4, (int64_t[]){lat.ne[0], 1, lat.ne[2], lat.ne[3]}, &err), &err);
    for (int64_t c = 0; c < lat.ne[0]; c++)
      memcpy((float *)one.data + c * lat.ne[2] * lat.ne[3], (float *)lat.data + (c * lat.ne[1] + t) * lat.ne[2] * lat.ne[3],
             (size_t)(lat.ne[2] * lat.ne[3]) * sizeof(float));
    CHECK_OK(sana_vae_decode_chunk(vae, s, SANA_VAE_DECODE_CAUSAL, &one, &out, &err), &err);
    CHECK(out.data && out.ne[1] == (t ? 8 : 1), "causal latent %lld gave %lld frames", (long long)t,
          (long long)(out.data ? out.ne[1] : -1));
    be->free(be, one.data);
    if (out.data) be->free(be, out.data);
  }
  sana_vae_stream_free(s);
  be->free(be, lat5.data);
  sana_ckpt_close(fx);
}

int main(void) {
  sana_error err = {0};
  be = sana_backend_create("cpu", &err);
  CHECK(be != NULL, "cpu backend: %s", err.msg);
  if (!be) return sana_test_done("test_vae_model");
  CHECK_OK(sana_vae_load(&vae, be, sana_fixture_path("vae/vae"), &err), &err);
  if (vae) {
    const sana_vae_config *c = sana_vae_get_config(vae);
    CHECK(c->spatial_compression_ratio == 32 && c->temporal_compression_ratio == 8, "ratios from config.json");
    test_encode();
    test_decode();
    sana_vae_free(vae);
  }
  sana_backend_destroy(be);
  return sana_test_done("test_vae_model");
}
