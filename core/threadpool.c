#include "core/threadpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 128

static struct {
  pthread_once_t once;
  int n; /* workers including the caller */
  pthread_t tid[MAX_THREADS];
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  pthread_mutex_t submit; /* one parallel_for at a time */
  sana_range_fn fn;
  void *ctx;
  int64_t total;
  int gen, pending;
} P = {.once = PTHREAD_ONCE_INIT};

static __thread int t_in_worker;

static void run_part(int idx) {
  int64_t per = (P.total + P.n - 1) / P.n, i0 = per * idx, i1 = i0 + per;
  if (i1 > P.total) i1 = P.total;
  if (i0 < i1) P.fn(P.ctx, i0, i1);
}

static void *worker(void *arg) {
  int idx = (int)(intptr_t)arg, seen = 0;
  t_in_worker = 1;
  for (;;) {
    pthread_mutex_lock(&P.mu);
    while (P.gen == seen) pthread_cond_wait(&P.go, &P.mu);
    seen = P.gen;
    pthread_mutex_unlock(&P.mu);
    run_part(idx);
    pthread_mutex_lock(&P.mu);
    if (--P.pending == 0) pthread_cond_signal(&P.done);
    pthread_mutex_unlock(&P.mu);
  }
  return NULL;
}

static void init(void) {
  const char *e = getenv("SANA_THREADS");
  long n = e ? atol(e) : sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  P.n = (int)n;
  pthread_mutex_init(&P.mu, NULL);
  pthread_mutex_init(&P.submit, NULL);
  pthread_cond_init(&P.go, NULL);
  pthread_cond_init(&P.done, NULL);
  for (int i = 1; i < P.n; i++) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&P.tid[i], &a, worker, (void *)(intptr_t)i) != 0) { P.n = i; break; }
    pthread_attr_destroy(&a);
  }
}

int sana_num_threads(void) {
  pthread_once(&P.once, init);
  return P.n;
}

void sana_parallel_for(int64_t n, sana_range_fn fn, void *ctx) {
  if (n <= 0) return;
  pthread_once(&P.once, init);
  if (P.n == 1 || n == 1 || t_in_worker) { fn(ctx, 0, n); return; }
  pthread_mutex_lock(&P.submit);
  pthread_mutex_lock(&P.mu);
  P.fn = fn; P.ctx = ctx; P.total = n; P.pending = P.n - 1; P.gen++;
  pthread_cond_broadcast(&P.go);
  pthread_mutex_unlock(&P.mu);
  t_in_worker = 1;
  run_part(0);
  t_in_worker = 0;
  pthread_mutex_lock(&P.mu);
  while (P.pending > 0) pthread_cond_wait(&P.done, &P.mu);
  pthread_mutex_unlock(&P.mu);
  pthread_mutex_unlock(&P.submit);
}
