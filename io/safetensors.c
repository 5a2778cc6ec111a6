#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"

#define ST_MAX_HEADER (100u << 20) /* the reference implementation's own limit */

static const struct { const char *s; sana_dtype dt; } st_names[] = {
    {"F32", SANA_F32}, {"BF16", SANA_BF16}, {"F16", SANA_F16}, {"F64", SANA_F64}, {"I64", SANA_I64},
    {"I32", SANA_I32}, {"I16", SANA_I16},   {"I8", SANA_I8},   {"U8", SANA_U8},   {"BOOL", SANA_BOOL},
};

int sana_dtype_from_st(const char *s, sana_dtype *out) {
  for (size_t i = 0; i < sizeof st_names / sizeof *st_names; i++)
    if (!strcmp(s, st_names[i].s)) { *out = st_names[i].dt; return 0; }
  return -1;
}

const char *sana_dtype_to_st(sana_dtype dt) {
  for (size_t i = 0; i < sizeof st_names / sizeof *st_names; i++)
    if (st_names[i].dt == dt) return st_names[i].s;
  return NULL;
}

/* A JSON number that is an exact non-negative integer below 2^53. */
static int json_u64(const cJSON *j, uint64_t *out) {
  if (!cJSON_IsNumber(j)) return 0;
  double d = j->valuedouble;
  if (!(d >= 0 && d < 9007199254740992.0) || d != (double)(uint64_t)d) return 0;
  *out = (uint64_t)d;
  return 1;
}

sana_status sana_safetensors_parse(const void *image, size_t len, const char *label,
                                   sana_st_push_fn push, void *ctx, sana_error *err) {
  const unsigned char *p = image;
  if (len < 8) return sana_err(err, SANA_ERR_FORMAT, "%s: too short for a safetensors file (%zu bytes)", label, len);
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = (hl << 8) | p[i];
  if (hl > ST_MAX_HEADER || hl > len - 8)
    return sana_err(err, SANA_ERR_FORMAT, "%s: header length %llu does not fit the file (%zu bytes)%s", label,
                    (unsigned long long)hl, len, hl > len - 8 ? " (truncated?)" : "");
  cJSON *root = cJSON_ParseWithLength((const char *)p + 8, (size_t)hl);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return sana_err(err, SANA_ERR_FORMAT, "%s: header is not a JSON object", label);
  }
  const unsigned char *data = p + 8 + hl;
  uint64_t data_len = len - 8 - hl;
  sana_status s = SANA_OK;
  for (cJSON *it = root->child; it && !s; it = it->next) {
    const char *name = it->string;
    if (!name) { s = sana_err(err, SANA_ERR_FORMAT, "%s: unnamed header entry", label); break; }
    if (!strcmp(name, "__metadata__")) continue;
    cJSON *jd = cJSON_GetObjectItemCaseSensitive(it, "dtype");
    cJSON *js = cJSON_GetObjectItemCaseSensitive(it, "shape");
    cJSON *jo = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
    sana_dtype dt;
    if (!cJSON_IsString(jd) || sana_dtype_from_st(jd->valuestring, &dt)) {
      s = sana_err(err, cJSON_IsString(jd) ? SANA_ERR_DTYPE : SANA_ERR_FORMAT, "%s: tensor '%s': %s dtype%s%s", label,
                   name, cJSON_IsString(jd) ? "unsupported" : "missing", cJSON_IsString(jd) ? " " : "",
                   cJSON_IsString(jd) ? jd->valuestring : "");
      break;
    }
    int nd = cJSON_GetArraySize(js);
    if (!cJSON_IsArray(js) || nd > SANA_MAX_DIMS) {
      s = sana_err(err, SANA_ERR_FORMAT, "%s: tensor '%s': bad shape", label, name);
      break;
    }
    sana_tensor t = {.dtype = dt, .nd = nd};
    uint64_t numel = 1;
    int i = 0;
    for (cJSON *d = js->child; d; d = d->next, i++) {
      uint64_t v;
      if (!json_u64(d, &v) || v > (1ull << 40) || (v && numel > (1ull << 40) / v)) {
        s = sana_err(err, SANA_ERR_FORMAT, "%s: tensor '%s': bad dimension %d", label, name, i);
        break;
      }
      t.ne[i] = (int64_t)v;
      numel *= v;
    }
    if (s) break;
    uint64_t b, e;
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_u64(jo->child, &b) ||
        !json_u64(jo->child->next, &e) || b > e || e > data_len) {
      s = sana_err(err, SANA_ERR_FORMAT, "%s: tensor '%s': data_offsets outside the file's %llu data bytes%s", label,
                   name, (unsigned long long)data_len, " (truncated?)");
      break;
    }
    if (e - b != numel * sana_dtype_size(dt)) {
      s = sana_err(err, SANA_ERR_FORMAT, "%s: tensor '%s': %llu bytes for %llu %s elements", label, name,
                   (unsigned long long)(e - b), (unsigned long long)numel, sana_dtype_name(dt));
      break;
    }
    t.data = (void *)(data + b);
    s = push(ctx, name, t, err);
  }
  cJSON_Delete(root);
  return s;
}

/* Tensors point into the mapping; a writer that did not pad its header leaves data misaligned
 * for its dtype, and such a tensor is copied into aligned memory instead. */
static sana_status push_ckpt(void *ctx, const char *name, sana_tensor t, sana_error *err) {
  size_t al = sana_dtype_size(t.dtype), n = sana_nbytes(&t);
  if (al > 1 && ((uintptr_t)t.data % al) && n) {
    void *copy = malloc(n);
    if (!copy) return sana_err(err, SANA_ERR_NOMEM, "tensor '%s': out of memory", name);
    memcpy(copy, t.data, n);
    sana_ckpt_own(ctx, copy);
    t.data = copy;
  }
  return sana_ckpt_push(ctx, name, t, err);
}

sana_status sana_ckpt_add_safetensors(sana_ckpt *c, const char *path, sana_error *err) {
  void *addr;
  size_t len;
  sana_status s = sana_map_file(path, &addr, &len, err);
  if (s) return s;
  if (addr) sana_ckpt_keep_map(c, addr, len);
  return sana_safetensors_parse(addr, len, path, push_ckpt, c, err);
}

sana_status sana_safetensors_write(const char *path, int n, const char *const *names,
                                   const sana_tensor *tensors, sana_error *err) {
  cJSON *root = cJSON_CreateObject();
  uint64_t off = 0;
  for (int i = 0; i < n; i++) {
    const char *dts = sana_dtype_to_st(tensors[i].dtype);
    if (!dts) { cJSON_Delete(root); return sana_err(err, SANA_ERR_DTYPE, "%s: tensor '%s': bad dtype", path, names[i]); }
    cJSON *e = cJSON_AddObjectToObject(root, names[i]);
    cJSON_AddStringToObject(e, "dtype", dts);
    cJSON *sh = cJSON_AddArrayToObject(e, "shape");
    for (int d = 0; d < tensors[i].nd; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)tensors[i].ne[d]));
    cJSON *o = cJSON_AddArrayToObject(e, "data_offsets");
    uint64_t nb = sana_nbytes(&tensors[i]);
    cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
    cJSON_AddItemToArray(o, cJSON_CreateNumber((double)(off + nb)));
    off += nb;
  }
  char *hdr = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!hdr) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", path);
  size_t hl = strlen(hdr), padded = (hl + 7) & ~(size_t)7; /* data stays 8-byte aligned */
  size_t tl = strlen(path) + 16;
  char *tmp = malloc(tl);
  snprintf(tmp, tl, "%s.tmpXXXXXX", path);
  int fd = mkstemp(tmp);
  FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  sana_status s = SANA_OK;
  if (!f) {
    s = sana_err(err, SANA_ERR_IO, "%s: cannot create", path);
  } else {
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, hl, f) == hl;
    for (size_t i = hl; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    for (int i = 0; ok && i < n; i++) {
      size_t nb = sana_nbytes(&tensors[i]);
      ok = !nb || fwrite(tensors[i].data, 1, nb, f) == nb;
    }
    if (fclose(f) || !ok) s = sana_err(err, SANA_ERR_IO, "%s: write failed", path);
    else if (rename(tmp, path)) s = sana_err(err, SANA_ERR_IO, "%s: cannot rename into place", path);
    if (s) unlink(tmp);
  }
  free(tmp);
  free(hdr);
  return s;
}
