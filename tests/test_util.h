/* A small test harness: checks that count failures, fixture loading, and tensor comparison by
 * NMSE = Σ(a − b)² / Σb² (the llm.c / test-backend-ops habit), printing the first values and
 * the worst element when a comparison fails. */
#ifndef SANA_TEST_UTIL_H
#define SANA_TEST_UTIL_H

#include <stdio.h>

#include "backend/backend.h"
#include "io/checkpoint.h"

extern int sana_test_failures;
extern int sana_test_checks;

#define CHECK(cond, ...)                                                         \
  do {                                                                           \
    sana_test_checks++;                                                          \
    if (!(cond)) {                                                               \
      sana_test_failures++;                                                      \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);   \
      fprintf(stderr, __VA_ARGS__);                                              \
      fputc('\n', stderr);                                                       \
    }                                                                            \
  } while (0)

/* Asserts a sana_status is SANA_OK and prints the error message otherwise. */
#define CHECK_OK(expr, errp)                                                                  \
  do {                                                                                        \
    sana_status s_ = (expr);                                                                  \
    const sana_error *e_ = (errp);                                                            \
    CHECK(s_ == SANA_OK, "%s -> %s: %s", #expr, sana_status_str(s_), e_ ? e_->msg : ""); \
  } while (0)

/* Prints "N passed, M failed" and returns the exit code. */
int sana_test_done(const char *name);

/* $SANA_FIXTURES/rel; exits with a message when SANA_FIXTURES is unset. */
const char *sana_fixture_path(const char *rel);

/* Opens a fixture checkpoint or aborts the test with the error. */
sana_ckpt *sana_fixture_open(const char *rel);

/* A whole file, NUL-terminated (*n its size, optional), or aborts the test with the error. */
char *sana_test_read(const char *path, size_t *n);

/* NMSE of got against ref (both host tensors of any float dtype, same numel). Returns the NMSE,
 * or INFINITY when the counts differ or a value is not finite. */
double sana_nmse(const sana_tensor *got, const sana_tensor *ref);

/* CHECKs that nmse(got, ref) <= tol; prints a diagnosis labelled `what` on failure. */
void sana_check_close(const char *what, const sana_tensor *got, const sana_tensor *ref, double tol);

/* Downloads a backend tensor into a new host F32 tensor (caller frees .data). */
sana_tensor sana_test_download(sana_backend *be, const sana_tensor *t);

#endif
