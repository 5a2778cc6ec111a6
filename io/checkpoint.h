/* A checkpoint is a read-only set of named host tensors, loaded from safetensors files or a
 * PyTorch .pth (zip + pickle) without executing anything. Tensor data points into mmapped
 * files wherever the layout allows (no copy); it stays valid until sana_ckpt_close. */
#ifndef SANA_IO_CHECKPOINT_H
#define SANA_IO_CHECKPOINT_H

#include "core/error.h"
#include "core/tensor.h"
#include "io/file.h"

typedef struct sana_ckpt sana_ckpt;

/* Opens one file, choosing the parser by content (zip magic: .pth; otherwise safetensors). */
sana_status sana_ckpt_open(sana_ckpt **out, const char *path, sana_error *err);

/* Builds a checkpoint from several files (sharded safetensors): new, add each, finish. */
sana_ckpt *sana_ckpt_new(const char *label);
sana_status sana_ckpt_add_file(sana_ckpt *c, const char *path, sana_error *err);
sana_status sana_ckpt_add_safetensors(sana_ckpt *c, const char *path, sana_error *err);
sana_status sana_ckpt_add_pth(sana_ckpt *c, const char *path, sana_error *err); /* io/pth.c */
/* Sorts names for lookup; refuses duplicate names. */
sana_status sana_ckpt_finish(sana_ckpt *c, sana_error *err);
void sana_ckpt_close(sana_ckpt *c);

int sana_ckpt_count(const sana_ckpt *c);
const char *sana_ckpt_name(const sana_ckpt *c, int i);
const sana_tensor *sana_ckpt_tensor(const sana_ckpt *c, int i);
const char *sana_ckpt_label(const sana_ckpt *c); /* the path, or the label given to _new */

/* Lookup without checks; NULL when absent. */
const sana_tensor *sana_ckpt_find(const sana_ckpt *c, const char *name);

/* Lookup for model loading: the tensor must exist and have rank nd and shape ne (an entry of
 * -1 matches any size). Marks it used. Errors name the file and the key. */
sana_status sana_ckpt_get(sana_ckpt *c, const char *name, int nd, const int64_t *ne,
                          const sana_tensor **out, sana_error *err);
#define SANA_CKPT_GET(c, name, out, err, ...)                                                   \
  sana_ckpt_get((c), (name), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),       \
                (int64_t[]){__VA_ARGS__}, (out), (err))

/* Marks a key as knowingly ignored (e.g. unused buffers), so it does not count as unused. */
void sana_ckpt_mark_used(sana_ckpt *c, const char *name);
/* Number of tensors never fetched with sana_ckpt_get / mark_used; names the first in err. */
int sana_ckpt_unused(const sana_ckpt *c, sana_error *err);

/* Renames every key that starts with `prefix` by dropping it (upstream strips "model." and
 * "module."). Call before finish. */
void sana_ckpt_strip_prefix(sana_ckpt *c, const char *prefix);

/* ---- for loaders (the parsers in io/) ---- */
/* Adds a tensor; the name is copied. data must stay valid until close (see _own, _keep_map). */
sana_status sana_ckpt_push(sana_ckpt *c, const char *name, sana_tensor t, sana_error *err);
void sana_ckpt_own(sana_ckpt *c, void *malloced);          /* freed at close */
void sana_ckpt_keep_map(sana_ckpt *c, void *addr, size_t len); /* munmapped at close */

#endif
