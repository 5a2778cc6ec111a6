#include "core/tensor.h"

#include <stdio.h>
#include <string.h>

size_t sana_dtype_size(sana_dtype dt) {
  switch (dt) {
  case SANA_F64: case SANA_I64: return 8;
  case SANA_F32: case SANA_I32: return 4;
  case SANA_BF16: case SANA_F16: case SANA_I16: return 2;
  case SANA_I8: case SANA_U8: case SANA_BOOL: return 1;
  default: return 0;
  }
}

const char *sana_dtype_name(sana_dtype dt) {
  static const char *names[SANA_DTYPE_COUNT] = {"F32", "BF16", "F16", "F64", "I64",
                                                "I32", "I16",  "I8",  "U8",  "BOOL"};
  return (unsigned)dt < SANA_DTYPE_COUNT ? names[dt] : "?";
}

int64_t sana_numel(const sana_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->nd; i++) n *= t->ne[i];
  return n;
}

size_t sana_nbytes(const sana_tensor *t) { return (size_t)sana_numel(t) * sana_dtype_size(t->dtype); }

sana_tensor sana_tensor_make(sana_dtype dt, void *data, int nd, const int64_t *ne) {
  sana_tensor t = {.dtype = dt, .nd = nd, .data = data};
  for (int i = 0; i < nd && i < SANA_MAX_DIMS; i++) t.ne[i] = ne[i];
  return t;
}

sana_tensor sana_tensor_rows(const sana_tensor *t, int64_t r0, int64_t n) {
  sana_tensor v = *t;
  int64_t row = t->ne[0] ? sana_numel(t) / t->ne[0] : 0;
  v.ne[0] = n;
  v.data = (char *)t->data + (size_t)(r0 * row) * sana_dtype_size(t->dtype);
  return v;
}

sana_tensor sana_tensor_reshape(const sana_tensor *t, int nd, const int64_t *ne) {
  sana_tensor v = sana_tensor_make(t->dtype, t->data, nd, ne);
  if (sana_numel(&v) != sana_numel(t)) v.nd = 0;
  return v;
}

int sana_shape_eq(const sana_tensor *t, int nd, const int64_t *ne) {
  if (t->nd != nd) return 0;
  for (int i = 0; i < nd; i++)
    if (t->ne[i] != ne[i]) return 0;
  return 1;
}

char *sana_shape_str(const sana_tensor *t, char *buf, size_t n) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, n - k, "[");
  for (int i = 0; i < t->nd && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)t->ne[i]);
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}
