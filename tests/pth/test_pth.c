/* .pth loading: archives written by torch.save (tools/reference/make_pth_fixtures.py) give
 * exactly the tensors the script also wrote to safetensors; malformed archives are refused with
 * a message naming the file and the key. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/pth.h"
#include "tests/test_util.h"

static char *path_of(const char *rel) { return strdup(sana_fixture_path(rel)); }

/* Every expected tensor is present with the same dtype, shape and bytes, and nothing else is. */
static void compare(const char *pth_rel, const char *expected_rel) {
  char *pp = path_of(pth_rel);
  sana_ckpt *got = NULL, *want = sana_fixture_open(expected_rel);
  sana_error err = {0};
  CHECK_OK(sana_ckpt_open(&got, pp, &err), &err);
  if (got) {
    CHECK(sana_ckpt_count(got) == sana_ckpt_count(want), "%s: %d tensors, expected %d", pth_rel,
          sana_ckpt_count(got), sana_ckpt_count(want));
    for (int i = 0; i < sana_ckpt_count(want); i++) {
      const char *name = sana_ckpt_name(want, i);
      const sana_tensor *w = sana_ckpt_tensor(want, i), *g = sana_ckpt_find(got, name);
      CHECK(g != NULL, "%s: missing '%s'", pth_rel, name);
      if (!g) continue;
      char gs[96], ws[96];
      CHECK(g->dtype == w->dtype && sana_shape_eq(g, w->nd, w->ne), "%s: '%s' is %s %s, expected %s %s", pth_rel, name,
            sana_dtype_name(g->dtype), sana_shape_str(g, gs, sizeof gs), sana_dtype_name(w->dtype),
            sana_shape_str(w, ws, sizeof ws));
      CHECK(sana_nbytes(g) == sana_nbytes(w) && !memcmp(g->data, w->data, sana_nbytes(w)), "%s: '%s' values differ",
            pth_rel, name);
    }
    sana_ckpt_close(got);
  }
  sana_ckpt_close(want);
  free(pp);
}

typedef struct image {
  const char *p;
  size_t len;
  int copies, in_file;
} image;

static sana_status count_push(void *ctx, const char *name, sana_tensor t, sana_error *err) {
  image *im = ctx;
  im->in_file += (const char *)t.data >= im->p && (const char *)t.data < im->p + im->len;
  return SANA_OK;
}

static void count_own(void *ctx, void *p) {
  ((image *)ctx)->copies++;
  free(p);
}

/* Contiguous tensors point into the mapped file; only the two strided views are copied. */
static void check_zero_copy(void) {
  char *pp = path_of("pth/plain.pth");
  void *img;
  size_t len;
  sana_error err = {0};
  CHECK_OK(sana_map_file(pp, &img, &len, &err), &err);
  image im = {img, len, 0, 0};
  CHECK_OK(sana_pth_parse(img, len, pp, count_push, count_own, &im, &err), &err);
  CHECK(im.copies == 2, "copied %d tensors, expected 2 (transposed, strided_offset)", im.copies);
  CHECK(im.in_file == 15, "%d tensors point into the file, expected 15", im.in_file);
  munmap(img, len);
  free(pp);
}

static void expect_refused(const char *path, int direct, const char *needle1, const char *needle2) {
  sana_ckpt *c = sana_ckpt_new(path);
  sana_error err = {0};
  sana_status s = direct ? sana_ckpt_add_pth(c, path, &err) : sana_ckpt_add_file(c, path, &err);
  if (!s) s = sana_ckpt_finish(c, &err);
  CHECK(s != SANA_OK, "%s: accepted", path);
  CHECK(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
  CHECK(strstr(err.msg, needle1) != NULL, "message '%s' lacks '%s'", err.msg, needle1);
  CHECK(!needle2 || strstr(err.msg, needle2) != NULL, "message '%s' lacks '%s'", err.msg, needle2);
  printf("  refused: %s\n", err.msg);
  sana_ckpt_close(c);
}

/* A copy of plain.pth, cut to `len` bytes (or with its first byte replaced). */
static void write_variant(const char *dst, long cut, int bad_magic) {
  void *img;
  size_t len;
  sana_error err = {0};
  char *pp = path_of("pth/plain.pth");
  if (sana_map_file(pp, &img, &len, &err)) { CHECK(0, "%s", err.msg); free(pp); return; }
  FILE *f = fopen(dst, "wb");
  size_t n = cut >= 0 && (size_t)cut < len ? (size_t)cut : len;
  if (bad_magic) fputc('Q', f);
  fwrite((const char *)img + !!bad_magic, 1, n - !!bad_magic, f);
  fclose(f);
  free(pp);
}

/* The 4.4 GB checkpoint of make_pth_fixtures.py --big, when SANA_BIG_PTH names it: torch's own
 * zip64 records, a storage larger than 4 GB and one that starts past 4 GB, all without a copy. */
static void check_big(void) {
  const char *path = getenv("SANA_BIG_PTH");
  if (!path) return;
  sana_ckpt *c = NULL;
  sana_error err = {0};
  CHECK_OK(sana_ckpt_open(&c, path, &err), &err);
  if (!c) return;
  const sana_tensor *b = sana_ckpt_find(c, "big"), *a = sana_ckpt_find(c, "after");
  CHECK(b && b->dtype == SANA_U8 && b->ne[0] == 4400000000, "big tensor");
  if (b) {
    const unsigned char *p = b->data;
    CHECK(p[0] == 7 && p[1] == 8 && p[2] == 0 && p[4400000000 - 1] == 9, "big tensor's end marks");
  }
  CHECK(a && a->dtype == SANA_F32 && ((const float *)a->data)[3] == 4.0f, "tensor stored past 4 GB");
  printf("  ok   %s: 4.4 GB storage and a tensor past 4 GB\n", path);
  sana_ckpt_close(c);
}

int main(void) {
  check_big();
  const char *cases[] = {"plain", "wrapped", "generator", "prefixed", "params"};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char a[64], b[64];
    snprintf(a, sizeof a, "pth/%s.pth", cases[i]);
    snprintf(b, sizeof b, "pth/%s.expected.safetensors", cases[i]);
    compare(a, b);
  }
  compare("pth/zip64.pth", "pth/plain.expected.safetensors"); /* zip64 records, unaligned data */
  compare("pth/torch2_layout.pth", "pth/plain.expected.safetensors"); /* byteorder, .data/ records */
  check_zero_copy();
  sana_ckpt *c = sana_fixture_open("pth/empty_far_offset.pth");
  const sana_tensor *e = sana_ckpt_find(c, "e");
  CHECK(e && e->nd == 2 && e->ne[0] == 0 && e->ne[1] == 3, "empty view with a far offset loads as [0, 3]");
  sana_ckpt_close(c);

  char *p;
  expect_refused(p = path_of("pth/bad_global.pth"), 0, "os.system", NULL), free(p);
  expect_refused(p = path_of("pth/bad_missing_storage.pth"), 0, "data/2", "missing"), free(p);
  expect_refused(p = path_of("pth/bad_bounds.pth"), 0, "'w'", "reaches element 7"), free(p);
  expect_refused(p = path_of("pth/bad_deflated.pth"), 0, "compressed", NULL), free(p);
  expect_refused(p = path_of("pth/bad_big_endian.pth"), 0, "big-endian", "byteorder"), free(p);

  char tmp[] = "/tmp/sana_pth_XXXXXX";
  close(mkstemp(tmp));
  long cuts[] = {0, 3, 21, 100, 2000, 4000, 4800};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    write_variant(tmp, cuts[i], 0);
    expect_refused(tmp, 1, cuts[i] == 0 ? "empty" : cuts[i] < 4 ? "magic" : "truncated", NULL);
  }
  write_variant(tmp, -1, 1);
  expect_refused(tmp, 1, "wrong magic", NULL);
  FILE *f = fopen(tmp, "wb");
  fwrite("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 1, 15, f);
  fclose(f);
  expect_refused(tmp, 1, "legacy", NULL);
  unlink(tmp);
  return sana_test_done("test_io_pth");
}
