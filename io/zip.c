#include "io/zip.h"

#include <stdlib.h>
#include <string.h>

/* Record signatures and fixed sizes (PKWARE APPNOTE 4.3). */
#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define LOCAL_LEN 30
#define CENTRAL_LEN 46
#define EOCD_LEN 22
#define LOC64_LEN 20
#define EOCD64_LEN 56

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* [off, off + n) lies inside the image. */
static int fits(const sana_zip *z, uint64_t off, uint64_t n) { return off <= z->len && n <= z->len - off; }

static sana_status corrupt(const sana_zip *z, sana_error *err, const char *what) {
  return sana_err(err, SANA_ERR_FORMAT, "%s: corrupt zip archive: %s", z->label, what);
}

/* The zip64 extended-information extra field replaces, in this order, each of usize, csize and
 * the local header offset whose 32-bit field holds 0xFFFFFFFF. */
static int apply_zip64(const unsigned char *x, size_t n, sana_zip_entry *e, int need_u, int need_c, int need_o) {
  while (n >= 4) {
    uint16_t id = rd16(x), sz = rd16(x + 2);
    if (sz > n - 4) return 0;
    if (id == 1) {
      const unsigned char *q = x + 4;
      size_t left = sz;
      uint64_t *dst[3] = {need_u ? &e->usize : NULL, need_c ? &e->csize : NULL, need_o ? &e->local_offset : NULL};
      for (int i = 0; i < 3; i++) {
        if (!dst[i]) continue;
        if (left < 8) return 0;
        *dst[i] = rd64(q);
        q += 8;
        left -= 8;
      }
      return 1;
    }
    x += 4 + sz;
    n -= 4 + sz;
  }
  return !(need_u || need_c || need_o);
}

/* Finds the end-of-central-directory record (it may be followed by a comment of up to 64 KiB)
 * and, through the zip64 locator when present, the central directory's offset and entry count. */
static sana_status find_directory(sana_zip *z, uint64_t *cd_off, uint64_t *cd_size, uint64_t *count, sana_error *err) {
  if (z->len < EOCD_LEN) return corrupt(z, err, "too short for an end-of-directory record (truncated?)");
  size_t lo = z->len > EOCD_LEN + 65535 ? z->len - EOCD_LEN - 65535 : 0, pos = z->len - EOCD_LEN + 1;
  const unsigned char *eocd = NULL;
  while (pos-- > lo) {
    const unsigned char *q = z->p + pos;
    if (rd32(q) == SIG_EOCD && pos + EOCD_LEN + rd16(q + 20) == z->len) { eocd = q; break; }
  }
  if (!eocd) return corrupt(z, err, "no end-of-directory record (truncated?)");
  pos = (size_t)(eocd - z->p);
  *count = rd16(eocd + 10);
  *cd_size = rd32(eocd + 12);
  *cd_off = rd32(eocd + 16);
  if (pos >= LOC64_LEN && rd32(eocd - LOC64_LEN) == SIG_LOC64) {
    uint64_t off64 = rd64(eocd - LOC64_LEN + 8);
    if (!fits(z, off64, EOCD64_LEN) || rd32(z->p + off64) != SIG_EOCD64)
      return corrupt(z, err, "zip64 end-of-directory record missing");
    const unsigned char *r = z->p + off64;
    *count = rd64(r + 32);
    *cd_size = rd64(r + 40);
    *cd_off = rd64(r + 48);
  }
  if (!fits(z, *cd_off, *cd_size)) return corrupt(z, err, "central directory lies outside the file (truncated?)");
  if (*count > *cd_size / CENTRAL_LEN) return corrupt(z, err, "entry count does not fit the central directory");
  return SANA_OK;
}

sana_status sana_zip_open(sana_zip *z, const void *image, size_t len, const char *label, sana_error *err) {
  *z = (sana_zip){.p = image, .len = len, .label = label};
  if (len < 4 || rd32(z->p) != SIG_LOCAL)
    return sana_err(err, SANA_ERR_FORMAT, "%s: not a zip archive (wrong magic)", label);
  uint64_t cd_off = 0, cd_size = 0, count = 0;
  sana_status s = find_directory(z, &cd_off, &cd_size, &count, err);
  if (s) return s;
  z->e = calloc(count ? (size_t)count : 1, sizeof *z->e);
  if (!z->e) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", label);
  const unsigned char *q = z->p + cd_off, *end = q + cd_size;
  for (uint64_t i = 0; i < count; i++) {
    if ((size_t)(end - q) < CENTRAL_LEN || rd32(q) != SIG_CENTRAL) {
      sana_zip_close(z);
      return corrupt(z, err, "bad central directory entry");
    }
    sana_zip_entry *e = &z->e[z->n];
    size_t nl = rd16(q + 28), xl = rd16(q + 30), cl = rd16(q + 32);
    if ((size_t)(end - q) - CENTRAL_LEN < nl + xl + cl) {
      sana_zip_close(z);
      return corrupt(z, err, "central directory entry runs past the directory");
    }
    *e = (sana_zip_entry){.name = (const char *)q + CENTRAL_LEN, .name_len = nl, .flags = rd16(q + 8),
                          .method = rd16(q + 10), .csize = rd32(q + 20), .usize = rd32(q + 24),
                          .local_offset = rd32(q + 42)};
    if (!apply_zip64(q + CENTRAL_LEN + nl, xl, e, e->usize == 0xFFFFFFFFu, e->csize == 0xFFFFFFFFu,
                     e->local_offset == 0xFFFFFFFFu)) {
      sana_zip_close(z);
      return corrupt(z, err, "bad zip64 extra field");
    }
    z->n++;
    q += CENTRAL_LEN + nl + xl + cl;
  }
  return SANA_OK;
}

void sana_zip_close(sana_zip *z) {
  free(z->e);
  z->e = NULL;
  z->n = 0;
}

const sana_zip_entry *sana_zip_find(const sana_zip *z, const char *name) {
  size_t k = strlen(name);
  for (size_t i = 0; i < z->n; i++)
    if (z->e[i].name_len == k && !memcmp(z->e[i].name, name, k)) return &z->e[i];
  return NULL;
}

sana_status sana_zip_data(const sana_zip *z, const sana_zip_entry *e, const unsigned char **data, sana_error *err) {
  int nl = e->name_len > 200 ? 200 : (int)e->name_len;
  if (e->flags & 1)
    return sana_err(err, SANA_ERR_UNSUPPORTED, "%s: zip entry '%.*s' is encrypted", z->label, nl, e->name);
  if (e->method != 0)
    return sana_err(err, SANA_ERR_UNSUPPORTED,
                    "%s: zip entry '%.*s' is compressed (method %d); torch.save stores entries uncompressed, "
                    "so re-save the checkpoint with torch.save", z->label, nl, e->name, e->method);
  if (e->csize != e->usize) return corrupt(z, err, "stored entry with different packed and unpacked sizes");
  if (!fits(z, e->local_offset, LOCAL_LEN) || rd32(z->p + e->local_offset) != SIG_LOCAL)
    return sana_err(err, SANA_ERR_FORMAT, "%s: corrupt zip archive: no local header for '%.*s' (truncated?)",
                    z->label, nl, e->name);
  const unsigned char *h = z->p + e->local_offset;
  uint64_t start = e->local_offset + LOCAL_LEN + rd16(h + 26) + rd16(h + 28);
  if (!fits(z, start, e->csize))
    return sana_err(err, SANA_ERR_FORMAT, "%s: zip entry '%.*s' runs past the end of the file (truncated?)",
                    z->label, nl, e->name);
  *data = z->p + start;
  return SANA_OK;
}
