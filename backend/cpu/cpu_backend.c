/* The CPU backend: host memory, fp32 activations and weights. It is the numerical reference
 * that every other backend is tested against, so it favours plain, checkable loops; GEMMs go
 * through OpenBLAS. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "core/bf16.h"

void cpu_fail(sana_backend *be, const char *op, const char *fmt, ...) {
  cpu_impl *c = be->impl;
  if (c->first.code) return;
  char msg[SANA_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sana_err(&c->first, SANA_ERR_BACKEND, "cpu %s: %s", op, msg);
}

int cpu_check_f32(sana_backend *be, const char *op, int n, const sana_tensor *const *ts) {
  for (int i = 0; i < n; i++) {
    const sana_tensor *t = ts[i];
    if (!t) continue;
    if (t->dtype != SANA_F32 || !t->data) {
      cpu_fail(be, op, "operand %d is %s%s (expected F32 with data)", i, sana_dtype_name(t->dtype),
               t->data ? "" : " without data");
      return 0;
    }
  }
  return 1;
}

void cpu_convert(void *dst, sana_dtype dd, const void *src, sana_dtype sd, int64_t n) {
  if (dd == sd) {
    memmove(dst, src, (size_t)n * sana_dtype_size(sd));
    return;
  }
  float *tmp = NULL;
  const float *f;
  if (sd == SANA_F32) {
    f = src;
  } else {
    tmp = malloc((size_t)n * sizeof(float));
    if (!tmp) abort(); /* conversions are bounded by tensors we already hold */
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) tmp[i] = sd == SANA_BF16 ? sana_bf16_to_f32(h[i]) : sana_f16_to_f32(h[i]);
    f = tmp;
  }
  if (dd == SANA_F32) {
    memmove(dst, f, (size_t)n * sizeof(float));
  } else {
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = dd == SANA_BF16 ? sana_f32_to_bf16(f[i]) : sana_f32_to_f16(f[i]);
  }
  free(tmp);
}

static int convertible(sana_dtype d) { return d == SANA_F32 || d == SANA_BF16 || d == SANA_F16; }

static void cpu_copy_any(sana_backend *be, const char *op, sana_tensor *dst, const sana_tensor *src) {
  if (sana_numel(dst) != sana_numel(src)) {
    cpu_fail(be, op, "element counts differ (%lld vs %lld)", (long long)sana_numel(dst),
             (long long)sana_numel(src));
    return;
  }
  if (dst->dtype == src->dtype) {
    memmove(dst->data, src->data, sana_nbytes(src));
  } else if (convertible(dst->dtype) && convertible(src->dtype)) {
    cpu_convert(dst->data, dst->dtype, src->data, src->dtype, sana_numel(src));
  } else {
    cpu_fail(be, op, "cannot convert %s to %s", sana_dtype_name(src->dtype), sana_dtype_name(dst->dtype));
  }
}

static void *cpu_alloc(sana_backend *be, size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 256, bytes ? bytes : 1)) return NULL;
  return p;
}
static void cpu_free(sana_backend *be, void *p) { free(p); }
static void cpu_upload(sana_backend *be, sana_tensor *d, const sana_tensor *s) { cpu_copy_any(be, "upload", d, s); }
static void cpu_download(sana_backend *be, sana_tensor *d, const sana_tensor *s) { cpu_copy_any(be, "download", d, s); }
static void cpu_copy(sana_backend *be, sana_tensor *d, const sana_tensor *s) { cpu_copy_any(be, "copy", d, s); }

static void cpu_fill(sana_backend *be, sana_tensor *t, float v) {
  int64_t n = sana_numel(t);
  if (t->dtype == SANA_F32) {
    float *p = t->data;
    for (int64_t i = 0; i < n; i++) p[i] = v;
  } else if (t->dtype == SANA_BF16 || t->dtype == SANA_F16) {
    uint16_t h = t->dtype == SANA_BF16 ? sana_f32_to_bf16(v) : sana_f32_to_f16(v), *p = t->data;
    for (int64_t i = 0; i < n; i++) p[i] = h;
  } else {
    cpu_fail(be, "fill", "unsupported dtype %s", sana_dtype_name(t->dtype));
  }
}

static sana_status cpu_sync(sana_backend *be, sana_error *err) {
  cpu_impl *c = be->impl;
  sana_status s = c->first.code;
  if (s && err) *err = c->first;
  c->first.code = SANA_OK;
  return s;
}

static void cpu_destroy(sana_backend *be) {
  free(be->impl);
  free(be);
}

sana_backend *sana_backend_cpu_create(sana_error *err) {
  sana_backend *be = calloc(1, sizeof *be);
  cpu_impl *c = calloc(1, sizeof *c);
  if (!be || !c) {
    free(be);
    free(c);
    sana_err(err, SANA_ERR_NOMEM, "cpu backend: out of memory");
    return NULL;
  }
  be->name = "cpu";
  be->act_dtype = SANA_F32;
  be->weight_dtype = SANA_F32;
  be->alloc = cpu_alloc;
  be->free = cpu_free;
  be->upload = cpu_upload;
  be->download = cpu_download;
  be->sync = cpu_sync;
  be->destroy = cpu_destroy;
  be->copy = cpu_copy;
  be->fill = cpu_fill;
  be->impl = c;
  cpu_install_core_ops(be);
  cpu_install_dit_ops(be);
  cpu_install_vae_ops(be);
  cpu_install_text_ops(be);
  cpu_install_video_ops(be);
  return be;
}
