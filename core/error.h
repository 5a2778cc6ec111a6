/* Error codes and messages. Every fallible call returns a sana_status and, when given a
 * sana_error, fills it with a message that names the file, key, field or command at fault. */
#ifndef SANA_CORE_ERROR_H
#define SANA_CORE_ERROR_H

typedef enum sana_status {
  SANA_OK = 0,
  SANA_ERR_ARG,         /* caller passed something invalid */
  SANA_ERR_IO,          /* open/read/write/mmap failed */
  SANA_ERR_FORMAT,      /* bytes do not follow the file format (truncated, corrupt, bad magic) */
  SANA_ERR_MISSING,     /* a required key, tensor, field or file is absent */
  SANA_ERR_SHAPE,       /* a tensor has an unexpected shape */
  SANA_ERR_DTYPE,       /* a tensor has an unsupported dtype */
  SANA_ERR_UNSUPPORTED, /* valid input that this build cannot handle */
  SANA_ERR_NOMEM,       /* allocation failed */
  SANA_ERR_BACKEND,     /* a backend (e.g. CUDA) call failed */
  SANA_ERR_STATE,       /* operation not valid in the current state */
} sana_status;

#define SANA_ERROR_MSG_MAX 512

typedef struct sana_error {
  sana_status code;
  char msg[SANA_ERROR_MSG_MAX];
} sana_error;

/* Sets *err (when non-NULL) and returns code, so callers can `return sana_err(...)`. */
sana_status sana_err(sana_error *err, sana_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context ("loading dit.pth: ") to an error already set. Returns err->code. */
sana_status sana_err_prefix(sana_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *sana_status_str(sana_status code);

#endif
