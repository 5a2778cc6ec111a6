#include "io/json_pull.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

void sana_jpull_init(sana_jpull *j, const void *data, size_t len, const char *label, sana_error *err) {
  memset(j, 0, sizeof *j);
  j->begin = j->p = (const char *)data;
  j->end = j->begin + len;
  j->label = label ? label : "json";
  j->err = err;
}

void sana_jpull_free(sana_jpull *j) {
  free(j->buf);
  j->buf = NULL;
  j->cap = 0;
}

sana_status sana_jpull_fail(sana_jpull *j, sana_status code, const char *fmt, ...) {
  char msg[SANA_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sana_err(j->err, code, "%s: byte %zu: %s", j->label, (size_t)(j->p - j->begin), msg);
}

int sana_jpull_eq(const char *s, size_t len, const char *lit) {
  size_t n = strlen(lit);
  return n == len && memcmp(s, lit, n) == 0;
}

static void skip_ws(sana_jpull *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

int sana_jpull_peek(sana_jpull *j) {
  skip_ws(j);
  return j->p < j->end ? (unsigned char)*j->p : -1;
}

static sana_status expect(sana_jpull *j, char c, const char *what) {
  if (sana_jpull_peek(j) != (unsigned char)c)
    return sana_jpull_fail(j, SANA_ERR_FORMAT, j->p < j->end ? "expected %s" : "expected %s, input ends (truncated?)",
                           what);
  j->p++;
  return SANA_OK;
}

static int hex4(const char *p, uint32_t *v) {
  uint32_t x = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    x <<= 4;
    if (c >= '0' && c <= '9') x |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') x |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') x |= (uint32_t)(c - 'A' + 10);
    else return 0;
  }
  *v = x;
  return 1;
}

static sana_status buf_reserve(sana_jpull *j, size_t need) {
  if (need <= j->cap) return SANA_OK;
  size_t cap = j->cap ? j->cap : 256;
  while (cap < need) cap *= 2;
  char *b = realloc(j->buf, cap);
  if (!b) return sana_jpull_fail(j, SANA_ERR_NOMEM, "out of memory for a %zu-byte string", need);
  j->buf = b;
  j->cap = cap;
  return SANA_OK;
}

/* Slow path: the string has escapes; decode it into j->buf. j->p is just after the quote. */
static sana_status string_escaped(sana_jpull *j, const char **s, size_t *len) {
  size_t n = 0;
  while (1) {
    if (j->p >= j->end) return sana_jpull_fail(j, SANA_ERR_FORMAT, "unterminated string (truncated?)");
    sana_status st = buf_reserve(j, n + 4);
    if (st) return st;
    unsigned char c = (unsigned char)*j->p;
    if (c == '"') {
      j->p++;
      break;
    }
    if (c < 0x20) return sana_jpull_fail(j, SANA_ERR_FORMAT, "control byte 0x%02x inside a string", c);
    if (c != '\\') {
      j->buf[n++] = (char)c;
      j->p++;
      continue;
    }
    if (j->end - j->p < 2) return sana_jpull_fail(j, SANA_ERR_FORMAT, "unterminated escape (truncated?)");
    char e = j->p[1];
    j->p += 2;
    switch (e) {
    case '"': j->buf[n++] = '"'; break;
    case '\\': j->buf[n++] = '\\'; break;
    case '/': j->buf[n++] = '/'; break;
    case 'b': j->buf[n++] = '\b'; break;
    case 'f': j->buf[n++] = '\f'; break;
    case 'n': j->buf[n++] = '\n'; break;
    case 'r': j->buf[n++] = '\r'; break;
    case 't': j->buf[n++] = '\t'; break;
    case 'u': {
      uint32_t cp;
      if (j->end - j->p < 4 || !hex4(j->p, &cp)) return sana_jpull_fail(j, SANA_ERR_FORMAT, "bad \\u escape");
      j->p += 4;
      if (cp >= 0xDC00 && cp <= 0xDFFF) return sana_jpull_fail(j, SANA_ERR_FORMAT, "lone low surrogate \\u%04X", cp);
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo;
        if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || !hex4(j->p + 2, &lo) || lo < 0xDC00 ||
            lo > 0xDFFF)
          return sana_jpull_fail(j, SANA_ERR_FORMAT, "high surrogate \\u%04X not followed by a low one", cp);
        j->p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      n += (size_t)sana_utf8_encode(cp, j->buf + n);
      break;
    }
    default: j->p--; return sana_jpull_fail(j, SANA_ERR_FORMAT, "unknown escape '\\%c'", e);
    }
  }
  size_t bad = sana_utf8_check(j->buf, n);
  if (bad != n) return sana_jpull_fail(j, SANA_ERR_FORMAT, "string is not valid UTF-8 (at its byte %zu)", bad);
  *s = j->buf;
  *len = n;
  return SANA_OK;
}

sana_status sana_jpull_string(sana_jpull *j, const char **s, size_t *len) {
  sana_status st = expect(j, '"', "a string");
  if (st) return st;
  const char *q = j->p;
  /* Fast path: no escapes, the string is returned in place. */
  while (q < j->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
  if (q < j->end && *q == '"') {
    size_t n = (size_t)(q - j->p);
    size_t bad = sana_utf8_check(j->p, n);
    if (bad != n) {
      j->p += bad;
      return sana_jpull_fail(j, SANA_ERR_FORMAT, "string is not valid UTF-8");
    }
    *s = j->p;
    *len = n;
    j->p = q + 1;
    return SANA_OK;
  }
  return string_escaped(j, s, len);
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Scans a JSON number; sets *integral when it has no fraction or exponent. */
static sana_status scan_number(sana_jpull *j, const char **start, int *integral) {
  skip_ws(j);
  const char *p = j->p;
  *start = p;
  *integral = 1;
  if (p < j->end && *p == '-') p++;
  if (p >= j->end || !is_digit(*p)) return sana_jpull_fail(j, SANA_ERR_FORMAT, "expected a number");
  if (*p == '0') p++;
  else
    while (p < j->end && is_digit(*p)) p++;
  if (p < j->end && *p == '.') {
    *integral = 0;
    p++;
    if (p >= j->end || !is_digit(*p)) return sana_jpull_fail(j, SANA_ERR_FORMAT, "bad number");
    while (p < j->end && is_digit(*p)) p++;
  }
  if (p < j->end && (*p == 'e' || *p == 'E')) {
    *integral = 0;
    p++;
    if (p < j->end && (*p == '+' || *p == '-')) p++;
    if (p >= j->end || !is_digit(*p)) return sana_jpull_fail(j, SANA_ERR_FORMAT, "bad number");
    while (p < j->end && is_digit(*p)) p++;
  }
  j->p = p;
  return SANA_OK;
}

sana_status sana_jpull_int(sana_jpull *j, long long *v) {
  const char *s;
  int integral;
  sana_status st = scan_number(j, &s, &integral);
  if (st) return st;
  if (!integral) {
    j->p = s;
    return sana_jpull_fail(j, SANA_ERR_FORMAT, "expected an integer");
  }
  int neg = *s == '-';
  long long x = 0;
  for (const char *p = s + neg; p < j->p; p++) {
    if (x > (LLONG_MAX - 9) / 10) {
      j->p = s;
      return sana_jpull_fail(j, SANA_ERR_FORMAT, "integer out of range");
    }
    x = x * 10 + (*p - '0');
  }
  *v = neg ? -x : x;
  return SANA_OK;
}

static int literal(sana_jpull *j, const char *lit) {
  size_t n = strlen(lit);
  skip_ws(j);
  if ((size_t)(j->end - j->p) >= n && memcmp(j->p, lit, n) == 0) {
    j->p += n;
    return 1;
  }
  return 0;
}

sana_status sana_jpull_bool(sana_jpull *j, int *v) {
  if (literal(j, "true")) *v = 1;
  else if (literal(j, "false")) *v = 0;
  else return sana_jpull_fail(j, SANA_ERR_FORMAT, "expected true or false");
  return SANA_OK;
}

int sana_jpull_null(sana_jpull *j) { return literal(j, "null"); }

static sana_status open_container(sana_jpull *j, char c, const char *what) {
  sana_status st = expect(j, c, what);
  if (st) return st;
  if (j->depth >= SANA_JPULL_MAX_DEPTH)
    return sana_jpull_fail(j, SANA_ERR_FORMAT, "nesting deeper than %d", SANA_JPULL_MAX_DEPTH);
  j->first[j->depth++] = 1;
  return SANA_OK;
}

/* Shared by objects and arrays: consumes the closing bracket or the separating comma. */
static sana_status container_next(sana_jpull *j, char close, int *more) {
  if (j->depth == 0) return sana_jpull_fail(j, SANA_ERR_STATE, "no open container");
  int c = sana_jpull_peek(j);
  if (c == close) {
    j->p++;
    j->depth--;
    *more = 0;
    return SANA_OK;
  }
  if (j->first[j->depth - 1]) {
    j->first[j->depth - 1] = 0;
  } else {
    sana_status st = expect(j, ',', close == '}' ? "',' or '}'" : "',' or ']'");
    if (st) return st;
  }
  *more = 1;
  return SANA_OK;
}

sana_status sana_jpull_object_begin(sana_jpull *j) { return open_container(j, '{', "an object"); }
sana_status sana_jpull_array_begin(sana_jpull *j) { return open_container(j, '[', "an array"); }
sana_status sana_jpull_array_next(sana_jpull *j, int *more) { return container_next(j, ']', more); }

sana_status sana_jpull_object_next(sana_jpull *j, int *more, const char **key, size_t *klen) {
  sana_status st = container_next(j, '}', more);
  if (st || !*more) return st;
  if ((st = sana_jpull_string(j, key, klen))) return st;
  return expect(j, ':', "':' after an object key");
}

sana_status sana_jpull_skip(sana_jpull *j) {
  int c = sana_jpull_peek(j), more;
  const char *s;
  size_t n;
  sana_status st;
  switch (c) {
  case '"': return sana_jpull_string(j, &s, &n);
  case '{':
    if ((st = sana_jpull_object_begin(j))) return st;
    while (!(st = sana_jpull_object_next(j, &more, &s, &n)) && more)
      if ((st = sana_jpull_skip(j))) return st;
    return st;
  case '[':
    if ((st = sana_jpull_array_begin(j))) return st;
    while (!(st = sana_jpull_array_next(j, &more)) && more)
      if ((st = sana_jpull_skip(j))) return st;
    return st;
  case 't':
  case 'f': {
    int b;
    return sana_jpull_bool(j, &b);
  }
  case 'n':
    if (sana_jpull_null(j)) return SANA_OK;
    return sana_jpull_fail(j, SANA_ERR_FORMAT, "expected null");
  case -1: return sana_jpull_fail(j, SANA_ERR_FORMAT, "expected a value, input ends (truncated?)");
  default: {
    int integral;
    return scan_number(j, &s, &integral);
  }
  }
}

sana_status sana_jpull_finish(sana_jpull *j) {
  if (sana_jpull_peek(j) != -1) return sana_jpull_fail(j, SANA_ERR_FORMAT, "unexpected bytes after the document");
  return SANA_OK;
}
