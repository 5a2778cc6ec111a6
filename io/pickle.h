/* A pickle interpreter for the subset torch.save writes (protocol 2, tolerating 0-5), which
 * never executes anything: a GLOBAL resolves only against an allowlist (OrderedDict, torch's
 * tensor/parameter rebuild functions, storage classes, a few inert builtins) and anything else is
 * refused with its name. Tensors come out as descriptions (storage, offset, size, stride);
 * storages as their persistent ids. Values live in a pool freed at once. */
#ifndef SANA_IO_PICKLE_H
#define SANA_IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

typedef enum sana_pk_kind {
  SANA_PK_NONE,
  SANA_PK_BOOL,
  SANA_PK_INT,
  SANA_PK_FLOAT,
  SANA_PK_STR,    /* text, bytes or bytearray: s/len */
  SANA_PK_TUPLE,  /* items[0..n) */
  SANA_PK_LIST,   /* items[0..n); sets too */
  SANA_PK_DICT,   /* n pairs: items[2i] -> items[2i+1]; dict and OrderedDict */
  SANA_PK_GLOBAL, /* an allowlisted global, not yet called */
  SANA_PK_STORAGE,
  SANA_PK_TENSOR,
  SANA_PK_OBJECT, /* an inert allowlisted object whose contents do not matter to us */
} sana_pk_kind;

typedef struct sana_pk sana_pk;
struct sana_pk {
  sana_pk_kind kind;
  int64_t i;     /* BOOL, INT; GLOBAL: which allowlist entry */
  double f;      /* FLOAT */
  const char *s; /* STR (not NUL-terminated); STORAGE: its key */
  size_t len;
  sana_pk **items;
  size_t n, cap;
  sana_dtype dtype; /* STORAGE, and a storage-class GLOBAL */
  uint64_t numel;   /* STORAGE: elements, as its persistent id says */
  /* TENSOR: a view of `storage` */
  sana_pk *storage;
  int64_t offset;
  int nd;
  int64_t ne[SANA_MAX_DIMS], st[SANA_MAX_DIMS];
};

typedef struct sana_pickle sana_pickle;

/* Runs the pickle in p[0..len) to its STOP; *root is the result. label names the stream in
 * messages ("x.pth: data.pkl"). Free with sana_pickle_free even on failure. */
sana_status sana_pickle_load(sana_pickle **pk, const unsigned char *p, size_t len, const char *label,
                             sana_pk **root, sana_error *err);
void sana_pickle_free(sana_pickle *pk);

/* The value of a dict's last entry whose key is the string `key`; NULL when absent. */
sana_pk *sana_pk_dict_get(const sana_pk *d, const char *key);

#endif
