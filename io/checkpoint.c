#include "io/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct entry {
  char *name;
  sana_tensor t;
  int used;
} entry;

typedef struct mapping {
  void *addr;
  size_t len;
} mapping;

struct sana_ckpt {
  char *label;
  entry *e;
  int n, cap;
  void **owned;
  int n_owned;
  mapping *maps;
  int n_maps;
};

sana_ckpt *sana_ckpt_new(const char *label) {
  sana_ckpt *c = calloc(1, sizeof *c);
  if (c) c->label = strdup(label ? label : "checkpoint");
  return c;
}

void sana_ckpt_close(sana_ckpt *c) {
  if (!c) return;
  for (int i = 0; i < c->n; i++) free(c->e[i].name);
  for (int i = 0; i < c->n_owned; i++) free(c->owned[i]);
  for (int i = 0; i < c->n_maps; i++) munmap(c->maps[i].addr, c->maps[i].len);
  free(c->e);
  free(c->owned);
  free(c->maps);
  free(c->label);
  free(c);
}

sana_status sana_ckpt_push(sana_ckpt *c, const char *name, sana_tensor t, sana_error *err) {
  if (c->n == c->cap) {
    int cap = c->cap ? 2 * c->cap : 256;
    entry *e = realloc(c->e, sizeof *e * (size_t)cap);
    if (!e) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", c->label);
    c->e = e;
    c->cap = cap;
  }
  char *nm = strdup(name);
  if (!nm) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", c->label);
  c->e[c->n++] = (entry){nm, t, 0};
  return SANA_OK;
}

void sana_ckpt_own(sana_ckpt *c, void *p) {
  void **o = realloc(c->owned, sizeof *o * (size_t)(c->n_owned + 1));
  if (!o) { free(p); return; } /* cannot track it; the data was not handed out yet */
  c->owned = o;
  c->owned[c->n_owned++] = p;
}

void sana_ckpt_keep_map(sana_ckpt *c, void *addr, size_t len) {
  mapping *m = realloc(c->maps, sizeof *m * (size_t)(c->n_maps + 1));
  if (!m) return;
  c->maps = m;
  c->maps[c->n_maps++] = (mapping){addr, len};
}

sana_status sana_ckpt_add_file(sana_ckpt *c, const char *path, sana_error *err) {
  unsigned char magic[4] = {0};
  FILE *f = fopen(path, "rb");
  if (!f) return sana_err(err, SANA_ERR_IO, "%s: cannot open", path);
  size_t got = fread(magic, 1, 4, f);
  fclose(f);
  if (got == 4 && !memcmp(magic, "PK\x03\x04", 4)) return sana_ckpt_add_pth(c, path, err);
  return sana_ckpt_add_safetensors(c, path, err);
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

sana_status sana_ckpt_finish(sana_ckpt *c, sana_error *err) {
  if (c->n) qsort(c->e, (size_t)c->n, sizeof *c->e, cmp_entry);
  for (int i = 1; i < c->n; i++)
    if (!strcmp(c->e[i - 1].name, c->e[i].name))
      return sana_err(err, SANA_ERR_FORMAT, "%s: tensor '%s' appears twice", c->label, c->e[i].name);
  return SANA_OK;
}

sana_status sana_ckpt_open(sana_ckpt **out, const char *path, sana_error *err) {
  *out = NULL;
  sana_ckpt *c = sana_ckpt_new(path);
  if (!c) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", path);
  sana_status s = sana_ckpt_add_file(c, path, err);
  if (!s) s = sana_ckpt_finish(c, err);
  if (s) {
    sana_ckpt_close(c);
    return s;
  }
  *out = c;
  return SANA_OK;
}

int sana_ckpt_count(const sana_ckpt *c) { return c->n; }
const char *sana_ckpt_name(const sana_ckpt *c, int i) { return c->e[i].name; }
const sana_tensor *sana_ckpt_tensor(const sana_ckpt *c, int i) { return &c->e[i].t; }
const char *sana_ckpt_label(const sana_ckpt *c) { return c->label; }

static entry *find(const sana_ckpt *c, const char *name) {
  entry key = {.name = (char *)name};
  return c->n ? bsearch(&key, c->e, (size_t)c->n, sizeof *c->e, cmp_entry) : NULL;
}

const sana_tensor *sana_ckpt_find(const sana_ckpt *c, const char *name) {
  entry *e = find(c, name);
  return e ? &e->t : NULL;
}

sana_status sana_ckpt_get(sana_ckpt *c, const char *name, int nd, const int64_t *ne,
                          const sana_tensor **out, sana_error *err) {
  entry *e = find(c, name);
  *out = NULL;
  if (!e) return sana_err(err, SANA_ERR_MISSING, "%s: missing tensor '%s'", c->label, name);
  int ok = e->t.nd == nd;
  for (int i = 0; ok && i < nd; i++) ok = ne[i] < 0 || ne[i] == e->t.ne[i];
  if (!ok) {
    char got[128], want[128];
    sana_tensor w = sana_tensor_make(SANA_F32, NULL, nd, ne);
    return sana_err(err, SANA_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", c->label, name,
                    sana_shape_str(&e->t, got, sizeof got), sana_shape_str(&w, want, sizeof want));
  }
  e->used = 1;
  *out = &e->t;
  return SANA_OK;
}

void sana_ckpt_mark_used(sana_ckpt *c, const char *name) {
  entry *e = find(c, name);
  if (e) e->used = 1;
}

int sana_ckpt_unused(const sana_ckpt *c, sana_error *err) {
  int n = 0;
  for (int i = 0; i < c->n; i++)
    if (!c->e[i].used && n++ == 0)
      sana_err(err, SANA_ERR_FORMAT, "%s: unexpected tensor '%s'", c->label, c->e[i].name);
  return n;
}

void sana_ckpt_strip_prefix(sana_ckpt *c, const char *prefix) {
  size_t k = strlen(prefix);
  for (int i = 0; i < c->n; i++)
    if (!strncmp(c->e[i].name, prefix, k)) memmove(c->e[i].name, c->e[i].name + k, strlen(c->e[i].name + k) + 1);
}
