#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_level = -1;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

int sana_log_parse_level(const char *s, sana_log_level *out) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < 4; i++)
    if (s && !strcmp(s, names[i])) { *out = (sana_log_level)i; return 0; }
  return -1;
}

void sana_log_set_level(sana_log_level lvl) { g_level = (int)lvl; }

static int level(void) {
  if (g_level < 0) {
    sana_log_level l = SANA_LOG_INFO;
    sana_log_parse_level(getenv("SANA_LOG"), &l);
    g_level = (int)l;
  }
  return g_level;
}

void sana_log(sana_log_level lvl, const char *fmt, ...) {
  if ((int)lvl > level()) return;
  static const char *tag[] = {"error", "warn", "info", "debug"};
  va_list ap;
  va_start(ap, fmt);
  pthread_mutex_lock(&g_lock);
  fprintf(stderr, "[sana %s] ", tag[lvl]);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  pthread_mutex_unlock(&g_lock);
  va_end(ap);
}

double sana_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
