#include "io/pickle.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the allowlist: the only names a GLOBAL may resolve to ---- */
enum {
  G_ORDERED_DICT,
  G_REBUILD_TENSOR,   /* torch._utils._rebuild_tensor_v2 and its v1 */
  G_REBUILD_PARAM,    /* torch._utils._rebuild_parameter(data, requires_grad, hooks) */
  G_REBUILD_PARAM_ST, /* ..._with_state(data, requires_grad, hooks, state) */
  G_SIZE,             /* torch.Size(tuple) */
  G_STORAGE,          /* torch.FloatStorage etc.: names a dtype in persistent ids */
  G_INERT,            /* dtypes, devices, sets, bytes: values we keep opaque */
};

static const struct {
  const char *module, *name;
  int id;
  sana_dtype dtype;
} allowed[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT, 0},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR, 0},
    {"torch._utils", "_rebuild_tensor", G_REBUILD_TENSOR, 0},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAM, 0},
    {"torch._utils", "_rebuild_parameter_with_state", G_REBUILD_PARAM_ST, 0},
    {"torch", "Size", G_SIZE, 0},
    {"torch", "FloatStorage", G_STORAGE, SANA_F32},
    {"torch", "BFloat16Storage", G_STORAGE, SANA_BF16},
    {"torch", "HalfStorage", G_STORAGE, SANA_F16},
    {"torch", "DoubleStorage", G_STORAGE, SANA_F64},
    {"torch", "LongStorage", G_STORAGE, SANA_I64},
    {"torch", "IntStorage", G_STORAGE, SANA_I32},
    {"torch", "ShortStorage", G_STORAGE, SANA_I16},
    {"torch", "CharStorage", G_STORAGE, SANA_I8},
    {"torch", "ByteStorage", G_STORAGE, SANA_U8},
    {"torch", "BoolStorage", G_STORAGE, SANA_BOOL},
    {"torch", "UntypedStorage", G_STORAGE, SANA_U8}, /* torch 2.x: raw bytes */
    {"torch", "device", G_INERT, 0},
    {"torch.serialization", "_get_layout", G_INERT, 0},
    {"torch", "float32", G_INERT, 0}, {"torch", "bfloat16", G_INERT, 0}, {"torch", "float16", G_INERT, 0},
    {"torch", "float64", G_INERT, 0}, {"torch", "int64", G_INERT, 0},    {"torch", "int32", G_INERT, 0},
    {"torch", "int16", G_INERT, 0},   {"torch", "int8", G_INERT, 0},     {"torch", "uint8", G_INERT, 0},
    {"torch", "bool", G_INERT, 0},
    {"builtins", "set", G_INERT, 0},      {"builtins", "frozenset", G_INERT, 0},
    {"builtins", "bytearray", G_INERT, 0}, {"__builtin__", "set", G_INERT, 0}, /* protocol 2 spells it so */
    {"__builtin__", "frozenset", G_INERT, 0}, {"__builtin__", "bytearray", G_INERT, 0},
    {"_codecs", "encode", G_INERT, 0},
};

#define MAX_MEMO (1u << 24)

struct sana_pickle {
  const unsigned char *p;
  size_t len, pos, op_at;
  const char *label;
  sana_pk **pool; /* every value made, freed together */
  size_t n_pool, cap_pool;
  sana_pk **st; /* the stack */
  size_t n_st, cap_st;
  size_t *marks;
  size_t n_marks, cap_marks;
  sana_pk **memo;
  size_t cap_memo, n_memo; /* n_memo: slots set, the index MEMOIZE uses */
  sana_pk none;
};

static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void *q = realloc(*arr, c * elem);
  if (!q) return 0;
  *arr = q;
  *cap = c;
  return 1;
}

static sana_status fail(sana_pickle *k, sana_error *err, sana_status code, const char *fmt, const char *a, int alen) {
  char what[256];
  snprintf(what, sizeof what, fmt, alen, a);
  return sana_err(err, code, "%s: offset %zu: %s", k->label, k->op_at, what);
}
#define BAD(msg) fail(k, err, SANA_ERR_FORMAT, "%.*s" msg, "", 0)

static sana_pk *mk(sana_pickle *k, sana_pk_kind kind) {
  if (!grow((void **)&k->pool, &k->cap_pool, k->n_pool + 1, sizeof *k->pool)) return NULL;
  sana_pk *v = calloc(1, sizeof *v);
  if (v) {
    v->kind = kind;
    k->pool[k->n_pool++] = v;
  }
  return v;
}

static int add_item(sana_pk *c, sana_pk *v) {
  if (!grow((void **)&c->items, &c->cap, c->n + 1, sizeof *c->items)) return 0;
  c->items[c->n++] = v;
  return 1;
}

static int push(sana_pickle *k, sana_pk *v) {
  if (!v || !grow((void **)&k->st, &k->cap_st, k->n_st + 1, sizeof *k->st)) return 0;
  k->st[k->n_st++] = v;
  return 1;
}

static sana_pk *pop(sana_pickle *k) {
  if (k->n_st == 0 || (k->n_marks && k->marks[k->n_marks - 1] == k->n_st)) return NULL;
  return k->st[--k->n_st];
}

static sana_pk *top(sana_pickle *k) {
  if (k->n_st == 0 || (k->n_marks && k->marks[k->n_marks - 1] == k->n_st)) return NULL;
  return k->st[k->n_st - 1];
}

/* Bytes [pos, pos+n) of the stream, advancing; NULL past the end. */
static const unsigned char *take(sana_pickle *k, size_t n) {
  if (n > k->len - k->pos) return NULL;
  const unsigned char *q = k->p + k->pos;
  k->pos += n;
  return q;
}

static uint64_t le(const unsigned char *q, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | q[i];
  return v;
}

/* A text line (protocol 0 arguments and GLOBAL names), without its newline. */
static const char *line(sana_pickle *k, size_t *n) {
  const unsigned char *q = k->p + k->pos, *nl = memchr(q, '\n', k->len - k->pos);
  if (!nl) return NULL;
  *n = (size_t)(nl - q);
  k->pos += *n + 1;
  return (const char *)q;
}

static int line_int(sana_pickle *k, int64_t *out) {
  size_t n;
  const char *s = line(k, &n);
  char buf[32];
  if (!s || n == 0 || n >= sizeof buf) return 0;
  memcpy(buf, s, n);
  buf[n] = 0;
  if (buf[n - 1] == 'L') buf[n - 1] = 0;
  char *e;
  long long v = strtoll(buf, &e, 10);
  if (*e || e == buf) return 0;
  *out = v;
  return 1;
}

/* Items above the topmost mark become a new container; the mark goes. */
static sana_pk *collect(sana_pickle *k, sana_pk_kind kind) {
  if (!k->n_marks) return NULL;
  size_t m = k->marks[--k->n_marks];
  sana_pk *c = mk(k, kind);
  for (size_t i = m; c && i < k->n_st; i++)
    if (!add_item(c, k->st[i])) return NULL;
  k->n_st = m;
  return c;
}

static int is_str(const sana_pk *v, const char *s) {
  return v && v->kind == SANA_PK_STR && v->len == strlen(s) && !memcmp(v->s, s, v->len);
}

sana_pk *sana_pk_dict_get(const sana_pk *d, const char *key) {
  if (!d || d->kind != SANA_PK_DICT) return NULL;
  for (size_t i = d->n; i-- > 0;)
    if (is_str(d->items[2 * i], key)) return d->items[2 * i + 1];
  return NULL;
}

static sana_status dict_add(sana_pickle *k, sana_pk *d, sana_pk *key, sana_pk *val, sana_error *err) {
  if (d->kind == SANA_PK_OBJECT) return SANA_OK; /* items of an inert object: dropped */
  if (d->kind != SANA_PK_DICT) return BAD("SETITEM on something that is not a dict");
  if (!grow((void **)&d->items, &d->cap, 2 * d->n + 2, sizeof *d->items))
    return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
  d->items[2 * d->n] = key;
  d->items[2 * d->n + 1] = val;
  d->n++;
  return SANA_OK;
}

static sana_status resolve_global(sana_pickle *k, const char *mod, size_t ml, const char *name, size_t nl,
                                  sana_error *err) {
  for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
    if (strlen(allowed[i].module) == ml && !memcmp(allowed[i].module, mod, ml) && strlen(allowed[i].name) == nl &&
        !memcmp(allowed[i].name, name, nl)) {
      sana_pk *g = mk(k, SANA_PK_GLOBAL);
      if (!g) break;
      g->i = allowed[i].id;
      g->dtype = allowed[i].dtype;
      g->s = allowed[i].name;
      g->len = nl;
      return push(k, g) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
    }
  char full[160];
  size_t j = 0;
  for (size_t i = 0; i < ml + 1 + nl && j + 1 < sizeof full; i++) {
    char c = i < ml ? mod[i] : i == ml ? '.' : name[i - ml - 1];
    full[j++] = isprint((unsigned char)c) ? c : '?';
  }
  full[j] = 0;
  return fail(k, err, SANA_ERR_UNSUPPORTED,
              "refusing to call global '%.*s': only tensors, storages and plain containers may appear in a "
              "checkpoint (nothing is executed)", full, (int)j);
}

static int get_int(const sana_pk *v, int64_t *out) {
  if (!v || (v->kind != SANA_PK_INT && v->kind != SANA_PK_BOOL)) return 0;
  *out = v->i;
  return 1;
}

/* torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata]) */
static sana_pk *rebuild_tensor(sana_pickle *k, const sana_pk *a, sana_error *err, sana_status *s) {
  *s = SANA_ERR_FORMAT;
  if (a->n < 4 || a->items[0]->kind != SANA_PK_STORAGE) { BAD("tensor without a storage"); return NULL; }
  const sana_pk *size = a->items[2], *stride = a->items[3];
  if ((size->kind != SANA_PK_TUPLE && size->kind != SANA_PK_LIST) ||
      (stride->kind != SANA_PK_TUPLE && stride->kind != SANA_PK_LIST) || size->n != stride->n) {
    BAD("tensor size and stride are not tuples of one length");
    return NULL;
  }
  if (size->n > SANA_MAX_DIMS) { BAD("tensor has more than 8 dimensions"); return NULL; }
  sana_pk *t = mk(k, SANA_PK_TENSOR);
  if (!t) { *s = sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label); return NULL; }
  t->storage = a->items[0];
  t->nd = (int)size->n;
  int ok = get_int(a->items[1], &t->offset) && t->offset >= 0;
  for (int d = 0; ok && d < t->nd; d++)
    ok = get_int(size->items[d], &t->ne[d]) && get_int(stride->items[d], &t->st[d]) && t->ne[d] >= 0 &&
         t->st[d] >= 0;
  if (!ok) { BAD("tensor offset, size or stride is not a non-negative integer"); return NULL; }
  *s = SANA_OK;
  return t;
}

/* REDUCE / NEWOBJ: calls an allowlisted global on an argument tuple. */
static sana_status call(sana_pickle *k, sana_pk *f, sana_pk *args, int newobj, sana_error *err) {
  if (!f || !args || f->kind != SANA_PK_GLOBAL) return BAD("call of something that is not an allowed global");
  if (args->kind != SANA_PK_TUPLE) return BAD("call arguments are not a tuple");
  sana_pk *r = NULL;
  sana_status s = SANA_OK;
  switch (f->i) {
  case G_ORDERED_DICT:
    r = mk(k, SANA_PK_DICT);
    if (r && args->n == 1 && !newobj) { /* OrderedDict([[k, v], ...]) */
      const sana_pk *l = args->items[0];
      if (l->kind != SANA_PK_LIST && l->kind != SANA_PK_TUPLE) return BAD("OrderedDict of a non-list");
      for (size_t i = 0; i < l->n && !s; i++) {
        const sana_pk *kv = l->items[i];
        if ((kv->kind != SANA_PK_LIST && kv->kind != SANA_PK_TUPLE) || kv->n != 2) return BAD("OrderedDict item");
        s = dict_add(k, r, kv->items[0], kv->items[1], err);
      }
    }
    break;
  case G_REBUILD_TENSOR: r = rebuild_tensor(k, args, err, &s); break;
  case G_REBUILD_PARAM:
  case G_REBUILD_PARAM_ST:
    if (args->n < 1 || args->items[0]->kind != SANA_PK_TENSOR) return BAD("parameter without a tensor");
    r = args->items[0];
    break;
  case G_SIZE:
    if (args->n != 1 || args->items[0]->kind != SANA_PK_TUPLE) return BAD("torch.Size of a non-tuple");
    r = args->items[0];
    break;
  case G_INERT: r = mk(k, SANA_PK_OBJECT); break;
  default: return fail(k, err, SANA_ERR_FORMAT, "cannot call '%.*s'", f->s, (int)f->len);
  }
  if (s) return s;
  return push(k, r) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
}

/* BINPERSID: torch's ('storage', storage_type, key, location, numel). */
static sana_status persistent(sana_pickle *k, sana_pk *pid, sana_error *err) {
  if (!pid || pid->kind != SANA_PK_TUPLE || pid->n < 5 || !is_str(pid->items[0], "storage"))
    return BAD("persistent id is not a ('storage', type, key, location, numel) tuple");
  const sana_pk *ty = pid->items[1], *key = pid->items[2];
  int64_t numel;
  if (ty->kind != SANA_PK_GLOBAL || ty->i != G_STORAGE) return BAD("persistent id without a storage type");
  if (key->kind != SANA_PK_STR || key->len == 0 || key->len > 64 || memchr(key->s, '/', key->len) ||
      memchr(key->s, 0, key->len))
    return BAD("persistent id with a bad storage key");
  if (!get_int(pid->items[4], &numel) || numel < 0) return BAD("persistent id with a bad element count");
  sana_pk *v = mk(k, SANA_PK_STORAGE);
  if (!v) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
  v->dtype = ty->dtype;
  v->s = key->s;
  v->len = key->len;
  v->numel = (uint64_t)numel;
  return push(k, v) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
}

static sana_status memo_put(sana_pickle *k, uint64_t idx, sana_error *err) {
  sana_pk *v = top(k);
  if (!v) return BAD("PUT with an empty stack");
  /* torch numbers memo slots from 0, one per PUT, so slots beyond the stream's length are
   * hostile: refusing them keeps a few bytes from asking for a huge memo */
  if (idx >= MAX_MEMO || idx > k->len) return BAD("memo index too large");
  size_t old = k->cap_memo;
  if (!grow((void **)&k->memo, &k->cap_memo, (size_t)idx + 1, sizeof *k->memo))
    return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
  if (k->cap_memo > old) memset(k->memo + old, 0, (k->cap_memo - old) * sizeof *k->memo);
  if (!k->memo[idx]) k->n_memo++;
  k->memo[idx] = v;
  return SANA_OK;
}

static sana_status memo_get(sana_pickle *k, uint64_t idx, sana_error *err) {
  if (idx >= k->cap_memo || !k->memo[idx]) return BAD("GET of an unset memo slot");
  return push(k, k->memo[idx]) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
}

static sana_status push_str(sana_pickle *k, uint64_t n, sana_error *err) {
  const unsigned char *q = n <= k->len - k->pos ? take(k, (size_t)n) : NULL;
  if (!q) return BAD("string runs past the end (truncated?)");
  sana_pk *v = mk(k, SANA_PK_STR);
  if (!v) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
  v->s = (const char *)q;
  v->len = (size_t)n;
  return push(k, v) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
}

static sana_status push_int(sana_pickle *k, sana_pk_kind kind, int64_t x, sana_error *err) {
  sana_pk *v = mk(k, kind);
  if (v) v->i = x;
  return push(k, v) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
}

static sana_status push_new(sana_pickle *k, sana_pk_kind kind, sana_error *err) {
  return push(k, mk(k, kind)) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
}

#define NEED(n)                                                          \
  const unsigned char *a = take(k, (n));                                 \
  if (!a) return BAD("opcode argument runs past the end (truncated?)");

/* Executes one opcode; *done is set at STOP. */
static sana_status step(sana_pickle *k, int *done, sana_error *err) {
  k->op_at = k->pos;
  const unsigned char *opp = take(k, 1);
  if (!opp) return BAD("no STOP opcode (truncated?)");
  unsigned char op = *opp;
  switch (op) {
  case 0x80: { NEED(1); return a[0] <= 5 ? SANA_OK : BAD("unknown pickle protocol"); } /* PROTO */
  case 0x95: { NEED(8); return SANA_OK; }                                               /* FRAME */
  case '.': {                                                                           /* STOP */
    if (k->n_st != 1 || k->n_marks) return BAD("STOP with a stack that is not one value");
    *done = 1;
    return SANA_OK;
  }
  case '(': /* MARK */
    if (!grow((void **)&k->marks, &k->cap_marks, k->n_marks + 1, sizeof *k->marks))
      return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
    k->marks[k->n_marks++] = k->n_st;
    return SANA_OK;
  case '0': return pop(k) ? SANA_OK : BAD("POP of an empty stack");
  case '1': return collect(k, SANA_PK_TUPLE) ? SANA_OK : BAD("POP_MARK without a mark");
  case '2': { sana_pk *v = top(k); return v && push(k, v) ? SANA_OK : BAD("DUP of an empty stack"); }
  case 'N': return push(k, &k->none) ? SANA_OK : BAD("out of memory");
  case 0x88: return push_int(k, SANA_PK_BOOL, 1, err);
  case 0x89: return push_int(k, SANA_PK_BOOL, 0, err);
  case 'K': { NEED(1); return push_int(k, SANA_PK_INT, a[0], err); }
  case 'M': { NEED(2); return push_int(k, SANA_PK_INT, (int64_t)le(a, 2), err); }
  case 'J': { NEED(4); return push_int(k, SANA_PK_INT, (int32_t)(uint32_t)le(a, 4), err); }
  case 0x8a: /* LONG1: n-byte two's complement */
  case 0x8b: { /* LONG4 */
    NEED(op == 0x8a ? 1 : 4);
    uint64_t n = le(a, op == 0x8a ? 1 : 4);
    if (n > 8) return BAD("integer wider than 64 bits");
    const unsigned char *b = take(k, (size_t)n);
    if (!b) return BAD("integer runs past the end (truncated?)");
    uint64_t u = le(b, (int)n);
    if (n && n < 8 && (b[n - 1] & 0x80)) u |= ~0ull << (8 * n);
    return push_int(k, SANA_PK_INT, (int64_t)u, err);
  }
  case 'I':
  case 'L': { /* INT / LONG as text ("01"/"00" are True/False in protocol 0) */
    int64_t v;
    if (!line_int(k, &v)) return BAD("bad text integer");
    return push_int(k, SANA_PK_INT, v, err);
  }
  case 'G': { /* BINFLOAT: big-endian double */
    NEED(8);
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = u << 8 | a[i];
    double d;
    memcpy(&d, &u, 8);
    sana_pk *v = mk(k, SANA_PK_FLOAT);
    if (v) v->f = d;
    return push(k, v) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
  }
  case 'F': { size_t n; return line(k, &n) ? push_new(k, SANA_PK_FLOAT, err) : BAD("bad text float"); }
  case 'X': case 'B': case 'T': { NEED(4); return push_str(k, le(a, 4), err); } /* BINUNICODE, BINBYTES, BINSTRING */
  case 0x8c: case 'C': case 'U': { NEED(1); return push_str(k, a[0], err); }    /* SHORT_* */
  case 0x8d: case 0x8e: case 0x96: { NEED(8); return push_str(k, le(a, 8), err); } /* *8 */
  case 'S': case 'V': { /* STRING / UNICODE as text: kept raw */
    size_t n;
    const char *s = line(k, &n);
    if (!s) return BAD("text string runs past the end (truncated?)");
    sana_pk *v = mk(k, SANA_PK_STR);
    if (v) { v->s = s; v->len = n; }
    return push(k, v) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
  }
  case ')': return push_new(k, SANA_PK_TUPLE, err);
  case ']': return push_new(k, SANA_PK_LIST, err);
  case '}': return push_new(k, SANA_PK_DICT, err);
  case 0x8f: return push_new(k, SANA_PK_LIST, err); /* EMPTY_SET */
  case 't': return push(k, collect(k, SANA_PK_TUPLE)) ? SANA_OK : BAD("TUPLE without a mark");
  case 'l': return push(k, collect(k, SANA_PK_LIST)) ? SANA_OK : BAD("LIST without a mark");
  case 0x91: return push(k, collect(k, SANA_PK_LIST)) ? SANA_OK : BAD("FROZENSET without a mark");
  case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
    size_t n = (size_t)(op - 0x84);
    sana_pk *t = mk(k, SANA_PK_TUPLE), *v[3] = {0};
    for (size_t i = n; i-- > 0;)
      if (!(v[i] = pop(k))) return BAD("TUPLEn with too few values");
    for (size_t i = 0; t && i < n; i++)
      if (!add_item(t, v[i])) t = NULL;
    return push(k, t) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
  }
  case 'd': { /* DICT from mark */
    sana_pk *l = collect(k, SANA_PK_LIST), *d = mk(k, SANA_PK_DICT);
    if (!l || !d || l->n % 2) return BAD("DICT without a mark or with an odd item count");
    for (size_t i = 0; i < l->n; i += 2) {
      sana_status s = dict_add(k, d, l->items[i], l->items[i + 1], err);
      if (s) return s;
    }
    return push(k, d) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
  }
  case 'a': { /* APPEND */
    sana_pk *v = pop(k), *l = top(k);
    if (!v || !l || (l->kind != SANA_PK_LIST && l->kind != SANA_PK_OBJECT)) return BAD("APPEND to a non-list");
    return l->kind == SANA_PK_OBJECT || add_item(l, v) ? SANA_OK : sana_err(err, SANA_ERR_NOMEM, "out of memory");
  }
  case 'e': case 0x90: { /* APPENDS, ADDITEMS */
    sana_pk *items = collect(k, SANA_PK_LIST), *l = top(k);
    if (!items || !l || (l->kind != SANA_PK_LIST && l->kind != SANA_PK_OBJECT)) return BAD("APPENDS to a non-list");
    for (size_t i = 0; l->kind == SANA_PK_LIST && i < items->n; i++)
      if (!add_item(l, items->items[i])) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", k->label);
    return SANA_OK;
  }
  case 's': { /* SETITEM */
    sana_pk *v = pop(k), *key = pop(k), *d = top(k);
    if (!v || !key || !d) return BAD("SETITEM with too few values");
    return dict_add(k, d, key, v, err);
  }
  case 'u': { /* SETITEMS */
    sana_pk *l = collect(k, SANA_PK_LIST), *d = top(k);
    if (!l || !d || l->n % 2) return BAD("SETITEMS without a mark or with an odd item count");
    for (size_t i = 0; i < l->n; i += 2) {
      sana_status s = dict_add(k, d, l->items[i], l->items[i + 1], err);
      if (s) return s;
    }
    return SANA_OK;
  }
  case 'q': { NEED(1); return memo_put(k, a[0], err); }
  case 'r': { NEED(4); return memo_put(k, le(a, 4), err); }
  case 0x94: return memo_put(k, k->n_memo, err); /* MEMOIZE */
  case 'h': { NEED(1); return memo_get(k, a[0], err); }
  case 'j': { NEED(4); return memo_get(k, le(a, 4), err); }
  case 'p': case 'g': {
    int64_t i;
    if (!line_int(k, &i) || i < 0) return BAD("bad text memo index");
    return op == 'p' ? memo_put(k, (uint64_t)i, err) : memo_get(k, (uint64_t)i, err);
  }
  case 'c': { /* GLOBAL "module\nname\n" */
    size_t ml, nl;
    const char *m = line(k, &ml), *n = m ? line(k, &nl) : NULL;
    if (!n) return BAD("GLOBAL name runs past the end (truncated?)");
    return resolve_global(k, m, ml, n, nl, err);
  }
  case 0x93: { /* STACK_GLOBAL */
    sana_pk *n = pop(k), *m = pop(k);
    if (!n || !m || n->kind != SANA_PK_STR || m->kind != SANA_PK_STR) return BAD("STACK_GLOBAL of non-strings");
    return resolve_global(k, m->s, m->len, n->s, n->len, err);
  }
  case 'R': { sana_pk *args = pop(k), *f = pop(k); return call(k, f, args, 0, err); } /* REDUCE */
  case 0x81: { sana_pk *args = pop(k), *f = pop(k); return call(k, f, args, 1, err); } /* NEWOBJ */
  case 0x92: { /* NEWOBJ_EX */
    sana_pk *kw = pop(k), *args = pop(k), *f = pop(k);
    return kw ? call(k, f, args, 1, err) : BAD("NEWOBJ_EX with too few values");
  }
  case 'b': { /* BUILD: object state (OrderedDict attributes, parameter hooks) is not needed */
    sana_pk *state = pop(k);
    return state && top(k) ? SANA_OK : BAD("BUILD with too few values");
  }
  case 'Q': return persistent(k, pop(k), err); /* BINPERSID */
  default: {
    char hex[8];
    snprintf(hex, sizeof hex, "0x%02x", op);
    return fail(k, err, SANA_ERR_UNSUPPORTED, "unsupported pickle opcode %.*s", hex, (int)strlen(hex));
  }
  }
}

sana_status sana_pickle_load(sana_pickle **out, const unsigned char *p, size_t len, const char *label,
                             sana_pk **root, sana_error *err) {
  sana_pickle *k = calloc(1, sizeof *k);
  *out = k;
  *root = NULL;
  if (!k) return sana_err(err, SANA_ERR_NOMEM, "%s: out of memory", label);
  k->p = p;
  k->len = len;
  k->label = label;
  k->none.kind = SANA_PK_NONE;
  int done = 0;
  sana_status s = SANA_OK;
  while (!s && !done) s = step(k, &done, err);
  if (!s) *root = k->st[0];
  return s;
}

void sana_pickle_free(sana_pickle *k) {
  if (!k) return;
  for (size_t i = 0; i < k->n_pool; i++) {
    free(k->pool[i]->items);
    free(k->pool[i]);
  }
  free(k->pool);
  free(k->st);
  free(k->marks);
  free(k->memo);
  free(k);
}
