/* A pull reader for JSON held in memory: the caller walks the values in document order and no
 * tree is built. The Gemma tokenizer.json is 17.5 MB with ~840,000 strings; cJSON takes ~0.7 s
 * and ~100 MB of nodes to parse it, this reader a few tens of milliseconds and no allocation
 * for strings without escapes.
 *
 * Strings come back decoded (escapes, surrogate pairs) as (pointer, length); they may contain
 * NUL bytes and stay valid only until the next call on the reader. Every error names the label
 * (the file) and the byte offset. Nesting is limited to SANA_JPULL_MAX_DEPTH. */
#ifndef SANA_IO_JSON_PULL_H
#define SANA_IO_JSON_PULL_H

#include <stddef.h>

#include "core/error.h"

#define SANA_JPULL_MAX_DEPTH 64

typedef struct sana_jpull {
  const char *begin, *p, *end;
  const char *label;
  sana_error *err;
  char *buf; /* decoded strings with escapes */
  size_t cap;
  int depth;
  unsigned char first[SANA_JPULL_MAX_DEPTH]; /* per open container: no element read yet */
} sana_jpull;

void sana_jpull_init(sana_jpull *j, const void *data, size_t len, const char *label, sana_error *err);
void sana_jpull_free(sana_jpull *j);

/* The next significant byte without consuming it, or -1 at the end of input. */
int sana_jpull_peek(sana_jpull *j);

sana_status sana_jpull_string(sana_jpull *j, const char **s, size_t *len);
sana_status sana_jpull_int(sana_jpull *j, long long *v);
sana_status sana_jpull_bool(sana_jpull *j, int *v);
/* Consumes `null` and returns 1 when it comes next; otherwise returns 0 and consumes nothing. */
int sana_jpull_null(sana_jpull *j);
/* Skips one value of any kind. */
sana_status sana_jpull_skip(sana_jpull *j);

/* Containers: begin consumes the opening bracket; next sets *more to 0 after consuming the
 * closing bracket, else 1 (for objects the key is returned and its ':' consumed). */
sana_status sana_jpull_object_begin(sana_jpull *j);
sana_status sana_jpull_object_next(sana_jpull *j, int *more, const char **key, size_t *klen);
sana_status sana_jpull_array_begin(sana_jpull *j);
sana_status sana_jpull_array_next(sana_jpull *j, int *more);

/* Checks that nothing but whitespace follows. */
sana_status sana_jpull_finish(sana_jpull *j);

/* An error at the current position: "<label>: byte N: <message>". */
sana_status sana_jpull_fail(sana_jpull *j, sana_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1 when (s, len) equals the NUL-terminated lit. */
int sana_jpull_eq(const char *s, size_t len, const char *lit);

#endif
