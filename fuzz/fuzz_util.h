/* Shared by the fuzz targets: a push callback that reads every byte of each tensor it is given
 * (so the sanitizers see any pointer past the input), and a list of buffers to free. */
#ifndef SANA_FUZZ_UTIL_H
#define SANA_FUZZ_UTIL_H

#include <stdlib.h>

#include "core/tensor.h"
#include "io/safetensors.h"

typedef struct fuzz_sink {
  void *owned[64];
  int n_owned;
  unsigned sum;
} fuzz_sink;

static inline sana_status fuzz_push(void *ctx, const char *name, sana_tensor t, sana_error *err) {
  fuzz_sink *s = ctx;
  const unsigned char *p = t.data;
  size_t n = sana_nbytes(&t);
  for (size_t i = 0; i < n; i++) s->sum += p[i];
  while (*name) s->sum += (unsigned char)*name++;
  return SANA_OK;
}

static inline void fuzz_own(void *ctx, void *p) {
  fuzz_sink *s = ctx;
  if (s->n_owned == 64) { /* flush: nothing reads the old ones any more */
    for (int i = 0; i < 64; i++) free(s->owned[i]);
    s->n_owned = 0;
  }
  s->owned[s->n_owned++] = p;
}

static inline void fuzz_sink_free(fuzz_sink *s) {
  for (int i = 0; i < s->n_owned; i++) free(s->owned[i]);
  s->n_owned = 0;
}

#endif
