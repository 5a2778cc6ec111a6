#include "backend/arena.h"

sana_status sana_arena_init(sana_arena *a, sana_backend *be, size_t cap, sana_error *err) {
  *a = (sana_arena){.be = be, .cap = cap};
  a->base = be->alloc(be, cap);
  if (!a->base)
    return sana_err(err, SANA_ERR_NOMEM, "%s: cannot allocate an activation arena of %.1f MiB",
                    be->name, (double)cap / (1 << 20));
  return SANA_OK;
}

void sana_arena_release(sana_arena *a) {
  if (a->base) a->be->free(a->be, a->base);
  a->base = NULL;
  a->cap = a->used = 0;
}

sana_tensor sana_arena_tensor(sana_arena *a, sana_dtype dt, int nd, const int64_t *ne) {
  sana_tensor t = sana_tensor_make(dt, NULL, nd, ne);
  size_t bytes = (sana_nbytes(&t) + 255) & ~(size_t)255;
  if (a->used + bytes > a->cap) {
    a->overflow = 1;
    return t;
  }
  t.data = a->base + a->used;
  a->used += bytes;
  if (a->used > a->peak) a->peak = a->used;
  return t;
}
