/* A fixed pool of worker threads for the CPU backend's loops. One process-wide pool; its size
 * comes from SANA_THREADS or the number of online cores. */
#ifndef SANA_CORE_THREADPOOL_H
#define SANA_CORE_THREADPOOL_H

#include <stdint.h>

/* fn(ctx, i0, i1) processes items [i0, i1). Blocks until all n items are done. Nested calls
 * from inside a worker run serially on the caller. */
typedef void (*sana_range_fn)(void *ctx, int64_t i0, int64_t i1);
void sana_parallel_for(int64_t n, sana_range_fn fn, void *ctx);

int sana_num_threads(void);

#endif
