#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

sana_status sana_err(sana_error *err, sana_status code, const char *fmt, ...) {
  if (!err) return code;
  err->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return code;
}

sana_status sana_err_prefix(sana_error *err, const char *fmt, ...) {
  if (!err) return SANA_ERR_ARG;
  char head[SANA_ERROR_MSG_MAX], old[SANA_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  size_t k = strlen(head);
  if (k >= sizeof err->msg) k = sizeof err->msg - 1;
  memcpy(err->msg, head, k);
  size_t rest = strnlen(old, sizeof old - 1);
  if (rest > sizeof err->msg - 1 - k) rest = sizeof err->msg - 1 - k;
  memcpy(err->msg + k, old, rest);
  err->msg[k + rest] = 0;
  return err->code;
}

const char *sana_status_str(sana_status code) {
  switch (code) {
  case SANA_OK: return "ok";
  case SANA_ERR_ARG: return "invalid argument";
  case SANA_ERR_IO: return "i/o error";
  case SANA_ERR_FORMAT: return "malformed input";
  case SANA_ERR_MISSING: return "missing";
  case SANA_ERR_SHAPE: return "shape mismatch";
  case SANA_ERR_DTYPE: return "unsupported dtype";
  case SANA_ERR_UNSUPPORTED: return "unsupported";
  case SANA_ERR_NOMEM: return "out of memory";
  case SANA_ERR_BACKEND: return "backend error";
  case SANA_ERR_STATE: return "invalid state";
  }
  return "unknown error";
}
