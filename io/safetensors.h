/* safetensors: 8-byte little-endian header length, a JSON header
 * {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ...}, then data. */
#ifndef SANA_IO_SAFETENSORS_H
#define SANA_IO_SAFETENSORS_H

#include "core/error.h"
#include "core/tensor.h"

/* Parses a header from a memory image of a whole file and calls push for every tensor (data
 * pointing into the image). Used by the checkpoint loader and the fuzz target. */
typedef sana_status (*sana_st_push_fn)(void *ctx, const char *name, sana_tensor t, sana_error *err);
sana_status sana_safetensors_parse(const void *image, size_t len, const char *label,
                                   sana_st_push_fn push, void *ctx, sana_error *err);

/* Writes host tensors to `path` atomically (a temporary file renamed at the end).
 * Supported dtypes: all of sana_dtype. */
sana_status sana_safetensors_write(const char *path, int n, const char *const *names,
                                   const sana_tensor *tensors, sana_error *err);

int sana_dtype_from_st(const char *s, sana_dtype *out); /* 0 on success */
const char *sana_dtype_to_st(sana_dtype dt);

#endif
