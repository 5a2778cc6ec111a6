/* The op-level test harness (test_backend_ops): every backend op on random inputs, run on the
 * backend under test and on the CPU reference, compared by NMSE against a stated tolerance.
 *
 * A case names its tensors (kind, shape, how to fill them), which of them are outputs, and an
 * `apply` function that calls the op through the backend table. The harness makes the inputs
 * once on the host, rounds act/weight inputs to bf16 so both backends see identical values,
 * uploads them to each backend in that backend's dtypes, poisons outputs with NaN (an element
 * left unwritten fails the comparison), runs `apply`, downloads, and compares.
 *
 * Each model family keeps its cases in its own file (cases_<family>.c) exporting a table; see
 * docs/cuda.md for how to add one. */
#ifndef SANA_TESTS_BACKEND_OPS_H
#define SANA_TESTS_BACKEND_OPS_H

#include "backend/backend.h"

typedef enum bo_kind {
  BO_ACT,    /* be->act_dtype (F32 on the CPU, BF16 on CUDA) */
  BO_WEIGHT, /* be->weight_dtype */
  BO_F32,    /* F32 on every backend (RoPE tables, fp32 states) */
  BO_U8,     /* U8 on every backend (RGB8 frames): inputs get integers 0..255, and outputs are
              * poisoned with 0 on the backend under test and 255 on the reference, so an element
              * neither writes fails and one only one side skips fails unless it is 0 or 255 */
} bo_kind;

typedef enum bo_init {
  BO_RAND, /* uniform in [-amp, amp] */
  BO_POS,  /* uniform in [amp/2, 3·amp/2] (divisors, variances) */
  BO_MASK, /* additive mask: 0 for the first 3/4 of the elements, -amp after (amp = 10000) */
  BO_OUT,  /* an output: poisoned with NaN before the op (or kept as input when in-place) */
} bo_init;

#define BO_MAX_DIMS 4
typedef struct bo_tensor {
  bo_kind kind;
  bo_init init;
  float amp;
  int nd;
  int64_t ne[BO_MAX_DIMS];
} bo_tensor;

/* BO_T(kind, init, amp, dims...): one tensor of a case. */
#define BO_T(kind, init, amp, ...)                                                      \
  {                                                                                     \
    (kind), (init), (amp), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), { \
      __VA_ARGS__                                                                       \
    }                                                                                   \
  }

#define BO_MAX_TENSORS 12

enum {
  BO_PERF_ONLY = 1, /* no reference comparison; only timed with --perf */
};

typedef struct bo_case bo_case;
struct bo_case {
  const char *op;    /* the op's name in its table, e.g. "linear" or "dit.gdn_scan" */
  const char *label; /* shape and options, e.g. "2640x2240 -> 13440 bias silu" */
  double tol;        /* largest NMSE against the CPU reference */
  int nt;
  bo_tensor t[BO_MAX_TENSORS];
  unsigned outs;     /* bit i set: tensor i is compared after the op */
  unsigned inplace;  /* bit i set: tensor i is an output that starts with random input data */
  int ip[4];         /* op parameters for apply */
  float fp[4];
  /* Calls the op on tensors t[0..nt) (in be's memory). Returns 0, or 1 when `be` does not
   * implement the op (reported as n/a, not a failure). */
  int (*apply)(sana_backend *be, const bo_case *c, sana_tensor *t);
  double flops; /* per call, for --perf (0: report GB/s over the tensors' bytes instead) */
  int flags;
};

typedef struct bo_family {
  const char *name;
  const bo_case *cases;
  int n;
} bo_family;

/* Each cases_<family>.c defines one of these. */
extern const bo_family bo_core_family;
extern const bo_family bo_dit_family;
extern const bo_family bo_vae_family;
extern const bo_family bo_text_family;
extern const bo_family bo_video_family;

#define BO_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

#endif
