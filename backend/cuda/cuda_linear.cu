/* linear: y[M,N] = act(x[M,K] · w[N,K]ᵀ + b[N]) through cuBLASLt, bf16 operands, fp32
 * accumulation and scaling, bias and GELU/ReLU fused into the epilogue. Activations cuBLASLt
 * has no epilogue for (SiLU, sigmoid, softplus, exp) run as one extra elementwise pass.
 *
 * cuBLASLt is column-major; our row-major y[M,N] is column-major yᵀ[N,M], so we compute
 * yᵀ = w · xᵀ: A = w stored [K rows, N cols] (ld K) used transposed, B = xᵀ stored
 * [K, M] (ld K), D = yᵀ [N, M] (ld N). The bias then runs along D's rows, as cuBLASLt's
 * epilogue expects.
 *
 * cuda_linear_acc adds a matrix through cuBLASLt's C operand (β = 1), for residual adds.
 *
 * Descriptors and the chosen algorithm are cached per (M, N, K, epilogue, alignment): the
 * heuristic query costs tens of microseconds, more than a small GEMM. */
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"

#define LT_WORKSPACE_BYTES ((size_t)32 << 20)

struct cuda_lt_plan {
  int64_t M, N, K;
  cublasLtEpilogue_t epi;
  unsigned align; /* smallest pointer alignment of the operands, in bytes (≤ 256) */
  cublasLtMatmulDesc_t desc;
  cublasLtMatrixLayout_t a, b, d;
  cublasLtMatmulAlgo_t algo;
};

static int lt_ok(sana_backend *be, const char *what, cublasStatus_t s) {
  if (s == CUBLAS_STATUS_SUCCESS) return 1;
  cuda_fail(be, "linear", "%s: cuBLAS status %d (%s)", what, (int)s, cublasGetStatusString(s));
  return 0;
}

int cuda_linear_init(sana_backend *be, sana_error *err) {
  cuda_impl *c = cuda_of(be);
  cublasStatus_t s = cublasLtCreate(&c->lt);
  if (s != CUBLAS_STATUS_SUCCESS) {
    sana_err(err, SANA_ERR_BACKEND, "cuda backend: cublasLtCreate: %s", cublasGetStatusString(s));
    c->lt = NULL;
    return 0;
  }
  c->lt_workspace_bytes = LT_WORKSPACE_BYTES;
  cudaError_t e = cudaMalloc(&c->lt_workspace, c->lt_workspace_bytes);
  if (e != cudaSuccess) {
    sana_err(err, SANA_ERR_NOMEM, "cuda backend: cuBLASLt workspace: %s", cudaGetErrorString(e));
    c->lt_workspace = NULL;
    return 0;
  }
  return 1;
}

static void plan_release(cuda_lt_plan *p) {
  if (p->a) cublasLtMatrixLayoutDestroy(p->a);
  if (p->b) cublasLtMatrixLayoutDestroy(p->b);
  if (p->d) cublasLtMatrixLayoutDestroy(p->d);
  if (p->desc) cublasLtMatmulDescDestroy(p->desc);
}

void cuda_linear_release(sana_backend *be) {
  cuda_impl *c = cuda_of(be);
  for (int i = 0; i < c->n_plans; i++) plan_release(&c->plans[i]);
  free(c->plans);
  c->plans = NULL;
  c->n_plans = c->cap_plans = 0;
  if (c->lt_workspace) cudaFree(c->lt_workspace);
  c->lt_workspace = NULL;
  if (c->lt) cublasLtDestroy(c->lt);
  c->lt = NULL;
}

static unsigned ptr_align(const void *p) {
  uintptr_t u = (uintptr_t)p;
  unsigned a = 256;
  while (a > 2 && (u & (a - 1))) a >>= 1;
  return a;
}

static cuda_lt_plan *plan_get(sana_backend *be, int64_t M, int64_t N, int64_t K,
                              cublasLtEpilogue_t epi, unsigned align) {
  cuda_impl *c = cuda_of(be);
  for (int i = 0; i < c->n_plans; i++) {
    cuda_lt_plan *p = &c->plans[i];
    if (p->M == M && p->N == N && p->K == K && p->epi == epi && p->align == align) return p;
  }
  if (c->n_plans == c->cap_plans) {
    int cap = c->cap_plans ? 2 * c->cap_plans : 32;
    cuda_lt_plan *np = (cuda_lt_plan *)realloc(c->plans, (size_t)cap * sizeof *np);
    if (!np) {
      cuda_fail(be, "linear", "out of host memory for GEMM plans");
      return NULL;
    }
    c->plans = np;
    c->cap_plans = cap;
  }
  cuda_lt_plan p;
  memset(&p, 0, sizeof p);
  p.M = M, p.N = N, p.K = K, p.epi = epi, p.align = align;
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  cublasLtMatmulPreference_t pref = NULL;
  cublasLtMatmulHeuristicResult_t h;
  int found = 0;
  uint32_t al = align;
  int ok = lt_ok(be, "matmul desc", cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F)) &&
           lt_ok(be, "transa", cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta)) &&
           lt_ok(be, "transb", cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb)) &&
           lt_ok(be, "epilogue", cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi)) &&
           lt_ok(be, "layout A", cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, (uint64_t)K, (uint64_t)N, K)) &&
           lt_ok(be, "layout B", cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, (uint64_t)K, (uint64_t)M, K)) &&
           lt_ok(be, "layout D", cublasLtMatrixLayoutCreate(&p.d, CUDA_R_16BF, (uint64_t)N, (uint64_t)M, N)) &&
           lt_ok(be, "preference", cublasLtMatmulPreferenceCreate(&pref));
  if (ok) {
    size_t ws = c->lt_workspace_bytes;
    ok = lt_ok(be, "workspace pref", cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws)) &&
         lt_ok(be, "align A", cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al, sizeof al)) &&
         lt_ok(be, "align B", cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al, sizeof al)) &&
         lt_ok(be, "align C", cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al, sizeof al)) &&
         lt_ok(be, "align D", cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al, sizeof al)) &&
         lt_ok(be, "heuristic", cublasLtMatmulAlgoGetHeuristic(c->lt, p.desc, p.a, p.b, p.d, p.d, pref, 1, &h, &found));
  }
  if (pref) cublasLtMatmulPreferenceDestroy(pref);
  if (ok && !found)
    cuda_fail(be, "linear", "cuBLASLt has no algorithm for M=%lld N=%lld K=%lld (epilogue %d, align %u)",
              (long long)M, (long long)N, (long long)K, (int)epi, align);
  if (!ok || !found) {
    plan_release(&p);
    return NULL;
  }
  p.algo = h.algo;
  c->plans[c->n_plans] = p;
  return &c->plans[c->n_plans++];
}

/* y = act(x·wᵀ + b) (+ c when c is given: cuBLASLt's C operand with β = 1, in the D layout). */
static void gemm(sana_backend *be, const char *op, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                 const sana_tensor *b, sana_act act, const sana_tensor *c) {
  cuda_impl *ci = cuda_of(be);
  if (!CUDA_DTYPES(be, op, CUDA_BF16_ONLY, y, x, w, b, c)) return;
  if (w->nd < 2) {
    cuda_fail(be, op, "weight must be at least 2-D");
    return;
  }
  int64_t N = w->ne[0], K = N ? sana_numel(w) / N : 0, M = K ? sana_numel(x) / K : 0;
  if (M * K != sana_numel(x) || sana_numel(y) != M * N || (b && sana_numel(b) != N) ||
      (c && sana_numel(c) != M * N)) {
    cuda_fail(be, op, "shapes do not match: x %lld elements, w [%lld, %lld], y %lld elements",
              (long long)sana_numel(x), (long long)N, (long long)K, (long long)sana_numel(y));
    return;
  }
  if (M == 0 || N == 0) return;
  if (K == 0) { /* an empty sum: y = act(b) or act(0) */
    cuda_fail(be, op, "K = 0 is not supported");
    return;
  }
  bool fuse = act == SANA_ACT_NONE || act == SANA_ACT_GELU_TANH || act == SANA_ACT_RELU;
  cublasLtEpilogue_t epi;
  if (act == SANA_ACT_GELU_TANH) epi = b ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
  else if (act == SANA_ACT_RELU) epi = b ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
  else epi = b ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  unsigned align = ptr_align(x->data);
  unsigned aw = ptr_align(w->data), ay = ptr_align(y->data), ac = c ? ptr_align(c->data) : 256;
  if (aw < align) align = aw;
  if (ay < align) align = ay;
  if (ac < align) align = ac;
  cuda_lt_plan *p = plan_get(be, M, N, K, epi, align);
  if (!p) return;
  if (b) {
    const void *bp = b->data;
    if (!lt_ok(be, "bias pointer", cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof bp)))
      return;
  }
  const float one = 1.0f, zero = 0.0f;
  if (!lt_ok(be, "matmul", cublasLtMatmul(ci->lt, p->desc, &one, w->data, p->a, x->data, p->b, c ? &one : &zero,
                                          c ? c->data : y->data, p->d, y->data, p->d, &p->algo, ci->lt_workspace,
                                          ci->lt_workspace_bytes, ci->stream)))
    return;
  cuda_after_launch(be, op);
  if (!fuse) cuda_act_inplace_bf16(be, op, y->data, M * N, act);
}

static void cuda_linear(sana_backend *be, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                        const sana_tensor *b, sana_act act) {
  gemm(be, "linear", y, x, w, b, act, NULL);
}

void cuda_linear_acc(sana_backend *be, const char *op, sana_tensor *y, const sana_tensor *x, const sana_tensor *w,
                     const sana_tensor *c) {
  gemm(be, op, y, x, w, NULL, SANA_ACT_NONE, c);
}

void cuda_install_linear_op(sana_backend *be) {
  be->linear = cuda_linear;
  if (!cuda_of(be)->lt) cuda_fail(be, "linear", "cuBLASLt is not initialised");
}
