#include "io/pth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/pickle.h"
#include "io/zip.h"

#define MAX_DIM (1ull << 40)

typedef struct pth {
  sana_zip zip;
  const char *label;
  char prefix[128]; /* the archive folder, e.g. "sana_streaming_ar" */
  const sana_zip_entry *pkl; /* <prefix>/data.pkl */
  size_t copy_budget;
  sana_st_push_fn push;
  sana_pth_own_fn own;
  void *ctx;
} pth;

/* Row-major contiguity, ignoring strides of size-1 dimensions (torch leaves them arbitrary). */
static int is_contiguous(const sana_pk *t) {
  int64_t expect = 1;
  for (int d = t->nd - 1; d >= 0; d--) {
    if (t->ne[d] != 1 && t->st[d] != expect) return 0;
    expect *= t->ne[d];
  }
  return 1;
}

/* Gathers a strided view into dst, one innermost row at a time. */
static void gather(unsigned char *dst, const unsigned char *base, const sana_pk *t, size_t es) {
  int nd = t->nd;
  int64_t idx[SANA_MAX_DIMS] = {0}, rows = 1, inner = nd ? t->ne[nd - 1] : 1;
  for (int d = 0; d + 1 < nd; d++) rows *= t->ne[d];
  for (int64_t r = 0; r < rows; r++) {
    int64_t off = 0;
    for (int d = 0; d + 1 < nd; d++) off += idx[d] * t->st[d];
    const unsigned char *src = base + (size_t)off * es;
    if (nd == 0 || t->st[nd - 1] == 1) {
      memcpy(dst, src, (size_t)inner * es);
      dst += (size_t)inner * es;
    } else {
      for (int64_t i = 0; i < inner; i++, dst += es) memcpy(dst, src + (size_t)(i * t->st[nd - 1]) * es, es);
    }
    for (int d = nd - 2; d >= 0 && ++idx[d] == t->ne[d]; d--) idx[d] = 0;
  }
}

static sana_status materialize(pth *P, const char *name, const sana_pk *t, sana_error *err) {
  const sana_pk *sto = t->storage;
  size_t es = sana_dtype_size(sto->dtype);
  char rec[256];
  snprintf(rec, sizeof rec, "%s/data/%.*s", P->prefix, (int)sto->len, sto->s);
  const sana_zip_entry *e = sana_zip_find(&P->zip, rec);
  if (!e)
    return sana_err(err, SANA_ERR_MISSING, "%s: tensor '%s': storage '%s' is missing from the archive", P->label, name,
                    rec);
  const unsigned char *data;
  sana_status s = sana_zip_data(&P->zip, e, &data, err);
  if (s) return sana_err_prefix(err, "tensor '%s': ", name);
  if (sto->numel > (UINT64_MAX >> 4) || e->usize < sto->numel * es)
    return sana_err(err, SANA_ERR_FORMAT, "%s: tensor '%s': storage '%s' holds %llu bytes, less than %llu %s elements",
                    P->label, name, rec, (unsigned long long)e->usize, (unsigned long long)sto->numel,
                    sana_dtype_name(sto->dtype));
  uint64_t numel = 1, last = (uint64_t)t->offset;
  for (int d = 0; d < t->nd; d++) {
    if ((uint64_t)t->ne[d] > MAX_DIM || (t->ne[d] && numel > (UINT64_MAX >> 2) / (uint64_t)t->ne[d]))
      return sana_err(err, SANA_ERR_FORMAT, "%s: tensor '%s': dimension %d is too large", P->label, name, d);
    numel *= (uint64_t)t->ne[d];
  }
  for (int d = 0; numel && d < t->nd; d++) {
    uint64_t reach;
    if (__builtin_mul_overflow((uint64_t)(t->ne[d] - 1), (uint64_t)t->st[d], &reach) ||
        __builtin_add_overflow(last, reach, &last))
      last = UINT64_MAX;
  }
  if (numel && last >= sto->numel)
    return sana_err(err, SANA_ERR_FORMAT,
                    "%s: tensor '%s': its view (offset %lld) reaches element %llu of storage '%s', which has %llu",
                    P->label, name, (long long)t->offset, (unsigned long long)last, rec,
                    (unsigned long long)sto->numel);
  sana_tensor out = {.dtype = sto->dtype, .nd = t->nd};
  memcpy(out.ne, t->ne, sizeof out.ne);
  if (!numel) { /* an empty view: its offset may lie anywhere, nothing is read */
    out.data = (void *)data;
    return P->push(P->ctx, name, out, err);
  }
  const unsigned char *base = data + (size_t)t->offset * es;
  if (is_contiguous(t) && (uintptr_t)base % es == 0) {
    out.data = (void *)base; /* no copy: the bytes in the mapped file are the tensor */
  } else {
    size_t bytes = (size_t)numel * es;
    if (bytes > P->copy_budget)
      return sana_err(err, SANA_ERR_FORMAT, "%s: tensor '%s': a strided view of %llu elements is too large to copy",
                      P->label, name, (unsigned long long)numel);
    P->copy_budget -= bytes;
    unsigned char *buf = malloc(bytes);
    if (!buf) return sana_err(err, SANA_ERR_NOMEM, "%s: tensor '%s': out of memory", P->label, name);
    gather(buf, base, t, es);
    P->own(P->ctx, buf);
    out.data = buf;
  }
  return P->push(P->ctx, name, out, err);
}

/* Upstream's normalize_state_dict, then every tensor entry. */
static sana_status walk(pth *P, const sana_pk *root, sana_error *err) {
  if (root->kind != SANA_PK_DICT)
    return sana_err(err, SANA_ERR_FORMAT, "%s: the pickled object is not a dict of tensors", P->label);
  const sana_pk *sd = root, *g = sana_pk_dict_get(root, "generator");
  if (g) sd = g;
  if (sd->kind != SANA_PK_DICT)
    return sana_err(err, SANA_ERR_FORMAT, "%s: key 'generator' does not hold a dict", P->label);
  const sana_pk *w = sana_pk_dict_get(sd, "state_dict");
  int strip = !w;
  if (w) sd = w;
  if (sd->kind != SANA_PK_DICT)
    return sana_err(err, SANA_ERR_FORMAT, "%s: key 'state_dict' does not hold a dict", P->label);
  for (size_t i = 0; i < sd->n; i++) {
    const sana_pk *key = sd->items[2 * i], *val = sd->items[2 * i + 1];
    if (key->kind != SANA_PK_STR || val->kind != SANA_PK_TENSOR) continue;
    char name[1024];
    if (key->len >= sizeof name || memchr(key->s, 0, key->len))
      return sana_err(err, SANA_ERR_FORMAT, "%s: a tensor name is too long or holds a NUL byte", P->label);
    memcpy(name, key->s, key->len);
    name[key->len] = 0;
    char *n = name;
    if (strip && !strncmp(n, "model.", 6)) n += 6;
    if (strip && !strncmp(n, "module.", 7)) n += 7;
    sana_status s = materialize(P, n, val, err);
    if (s) return s;
  }
  return SANA_OK;
}

/* The archive folder: torch names it after the file (or "archive"); data.pkl sits right in it. */
static int find_prefix(pth *P) {
  for (size_t i = 0; i < P->zip.n; i++) {
    const sana_zip_entry *e = &P->zip.e[i];
    const char *slash = memchr(e->name, '/', e->name_len);
    size_t k = slash ? (size_t)(slash - e->name) : 0;
    if (slash && k > 0 && k < sizeof P->prefix - 16 && e->name_len == k + 9 && !memcmp(slash, "/data.pkl", 9) &&
        !memchr(e->name, 0, k)) {
      memcpy(P->prefix, e->name, k);
      P->prefix[k] = 0;
      P->pkl = e;
      return 1;
    }
  }
  return 0;
}

static sana_status parse(pth *P, sana_error *err) {
  if (!find_prefix(P))
    return sana_err(err, SANA_ERR_FORMAT, "%s: not a torch.save archive (no '<archive>/data.pkl')", P->label);
  char rec[160];
  const unsigned char *data;
  snprintf(rec, sizeof rec, "%s/byteorder", P->prefix);
  const sana_zip_entry *e = sana_zip_find(&P->zip, rec);
  if (e) { /* absent before torch 2.1: those files are little-endian in practice */
    sana_status s = sana_zip_data(&P->zip, e, &data, err);
    if (s) return s;
    if (e->usize != 6 || memcmp(data, "little", 6))
      return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: '%s' is not \"little\": big-endian checkpoints are not supported",
                      P->label, rec);
  }
  snprintf(rec, sizeof rec, "%s/data.pkl", P->prefix);
  e = P->pkl;
  sana_status s = sana_zip_data(&P->zip, e, &data, err);
  if (s) return s;
  char label[600];
  snprintf(label, sizeof label, "%s: %s", P->label, rec);
  sana_pickle *pk;
  sana_pk *root;
  s = sana_pickle_load(&pk, data, (size_t)e->usize, label, &root, err);
  if (!s) s = walk(P, root, err);
  sana_pickle_free(pk);
  return s;
}

sana_status sana_pth_parse(const void *image, size_t len, const char *label, sana_st_push_fn push,
                           sana_pth_own_fn own, void *ctx, sana_error *err) {
  static const unsigned char legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8};
  if (len >= sizeof legacy && !memcmp(image, legacy, sizeof legacy))
    return sana_err(err, SANA_ERR_UNSUPPORTED,
                    "%s: legacy (pre-1.6, non-zip) torch.save format; re-save it with a newer torch", label);
  /* copies of strided views are bounded by the file's size, so hostile strides cannot ask for
   * terabytes */
  pth P = {.label = label, .push = push, .own = own, .ctx = ctx,
           .copy_budget = len > SIZE_MAX / 16 ? SIZE_MAX : 16 * len + (1u << 20)};
  sana_status s = sana_zip_open(&P.zip, image, len, label, err);
  if (!s) s = parse(&P, err);
  sana_zip_close(&P.zip);
  return s;
}

static sana_status push_ckpt(void *ctx, const char *name, sana_tensor t, sana_error *err) {
  return sana_ckpt_push(ctx, name, t, err);
}

static void own_ckpt(void *ctx, void *p) { sana_ckpt_own(ctx, p); }

sana_status sana_ckpt_add_pth(sana_ckpt *c, const char *path, sana_error *err) {
  void *addr;
  size_t len;
  sana_status s = sana_map_file(path, &addr, &len, err);
  if (s) return s;
  if (!addr) return sana_err(err, SANA_ERR_FORMAT, "%s: empty file", path);
  sana_ckpt_keep_map(c, addr, len);
  return sana_pth_parse(addr, len, path, push_ckpt, own_ckpt, c, err);
}
