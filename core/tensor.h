/* A tensor is a plain descriptor: dtype, shape in PyTorch order (outermost first), and a
 * pointer to contiguous row-major data. It does not own its data: the checkpoint, an arena or
 * a backend allocation does. `data` lives in the memory of the backend that made it. */
#ifndef SANA_CORE_TENSOR_H
#define SANA_CORE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

typedef enum sana_dtype {
  SANA_F32,
  SANA_BF16,
  SANA_F16,
  SANA_F64,
  SANA_I64,
  SANA_I32,
  SANA_I16,
  SANA_I8,
  SANA_U8,
  SANA_BOOL,
  SANA_DTYPE_COUNT
} sana_dtype;

#define SANA_MAX_DIMS 8

typedef struct sana_tensor {
  sana_dtype dtype;
  int nd;
  int64_t ne[SANA_MAX_DIMS];
  void *data;
} sana_tensor;

size_t sana_dtype_size(sana_dtype dt);
const char *sana_dtype_name(sana_dtype dt);

int64_t sana_numel(const sana_tensor *t);
size_t sana_nbytes(const sana_tensor *t);

/* Builds a descriptor: sana_tensor_make(SANA_F32, ptr, 3, (int64_t[]){2, 3, 4}). */
sana_tensor sana_tensor_make(sana_dtype dt, void *data, int nd, const int64_t *ne);
#define SANA_T(dt, data, ...) \
  sana_tensor_make((dt), (data), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

/* Rows [r0, r0+n) along dimension 0, sharing data. */
sana_tensor sana_tensor_rows(const sana_tensor *t, int64_t r0, int64_t n);

/* Same data, new shape with the same element count (returns nd = 0 on mismatch). */
sana_tensor sana_tensor_reshape(const sana_tensor *t, int nd, const int64_t *ne);

int sana_shape_eq(const sana_tensor *t, int nd, const int64_t *ne);

/* "[2240, 256, 1, 1, 1]" into buf; returns buf. */
char *sana_shape_str(const sana_tensor *t, char *buf, size_t n);

#endif
