/* A bump allocator over one backend allocation, for activations: sized once per stream,
 * reset (to a mark) between passes, so nothing in the per-chunk loop calls the allocator. */
#ifndef SANA_BACKEND_ARENA_H
#define SANA_BACKEND_ARENA_H

#include "backend/backend.h"

typedef struct sana_arena {
  sana_backend *be;
  char *base;
  size_t cap, used, peak;
  int overflow; /* set when a request did not fit; data pointers are then NULL */
} sana_arena;

sana_status sana_arena_init(sana_arena *a, sana_backend *be, size_t cap, sana_error *err);
void sana_arena_release(sana_arena *a);

/* A tensor carved from the arena (256-byte aligned). On overflow: data = NULL, a->overflow. */
sana_tensor sana_arena_tensor(sana_arena *a, sana_dtype dt, int nd, const int64_t *ne);
#define SANA_ARENA_T(a, dt, ...) \
  sana_arena_tensor((a), (dt), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static inline size_t sana_arena_mark(const sana_arena *a) { return a->used; }
static inline void sana_arena_reset(sana_arena *a, size_t mark) { a->used = mark; }

#endif
