#include "backend/backend.h"

#include <string.h>

sana_backend *sana_backend_create(const char *name, sana_error *err) {
  if (!name || !strcmp(name, "cpu")) return sana_backend_cpu_create(err);
  if (!strcmp(name, "cuda")) {
#ifdef SANA_HAVE_CUDA
    return sana_backend_cuda_create(err);
#else
    sana_err(err, SANA_ERR_UNSUPPORTED, "backend 'cuda': this build has no CUDA support");
    return NULL;
#endif
  }
  sana_err(err, SANA_ERR_ARG, "unknown backend '%s' (expected cpu or cuda)", name);
  return NULL;
}

void sana_backend_destroy(sana_backend *be) {
  if (be && be->destroy) be->destroy(be);
}

sana_status sana_backend_tensor(sana_backend *be, sana_tensor *t, sana_dtype dt, int nd,
                                const int64_t *ne, sana_error *err) {
  *t = sana_tensor_make(dt, NULL, nd, ne);
  size_t n = sana_nbytes(t);
  t->data = be->alloc(be, n ? n : 1);
  if (!t->data)
    return sana_err(err, SANA_ERR_NOMEM, "%s: cannot allocate %.1f MiB", be->name,
                    (double)n / (1 << 20));
  return SANA_OK;
}

sana_status sana_backend_weight(sana_backend *be, sana_tensor *dst, const sana_tensor *host_src,
                                const char *name, sana_error *err) {
  sana_dtype sd = host_src->dtype;
  if (sd != SANA_F32 && sd != SANA_BF16 && sd != SANA_F16)
    return sana_err(err, SANA_ERR_DTYPE, "weight '%s' has dtype %s (expected F32, BF16 or F16)",
                    name, sana_dtype_name(sd));
  sana_status s = sana_backend_tensor(be, dst, be->weight_dtype, host_src->nd, host_src->ne, err);
  if (s) return sana_err_prefix(err, "weight '%s': ", name);
  be->upload(be, dst, host_src);
  return SANA_OK;
}
