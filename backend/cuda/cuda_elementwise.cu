/* Elementwise ops: unary (activations), binary with the repeat rule b[i % numel(b)], and the
 * gated residual add. bf16 buffers go 8 elements (16 bytes) per thread when aligned; F32 works
 * too (one element per thread), for the few fp32 tensors the models keep. Math is fp32. */
#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"

#define EW_THREADS 256

/* ---- unary ---- */

template <typename T> __global__ void unary_kernel(T *y, const T *x, int64_t n, int act) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    y[i] = from_f<T>(dev_act(ld_f<T>(x + i), act));
}

__global__ void unary_bf16x8_kernel(uint4 *y, const uint4 *x, int64_t n8, int act) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n8;
       i += (int64_t)gridDim.x * blockDim.x) {
    float f[8];
    bf16x8_to_f(x[i], f);
#pragma unroll
    for (int k = 0; k < 8; k++) f[k] = dev_act(f[k], act);
    y[i] = f_to_bf16x8(f);
  }
}

static void launch_unary(sana_backend *be, const char *op, void *y, const void *x, sana_dtype dt,
                         int64_t n, sana_act act) {
  cudaStream_t s = cuda_of(be)->stream;
  if (n == 0) return;
  if (dt == SANA_BF16 && n % 8 == 0 && cuda_aligned16(y, x))
    unary_bf16x8_kernel<<<cuda_blocks(n / 8, EW_THREADS), EW_THREADS, 0, s>>>(
        (uint4 *)y, (const uint4 *)x, n / 8, act);
  else if (dt == SANA_BF16)
    unary_kernel<<<cuda_blocks(n, EW_THREADS), EW_THREADS, 0, s>>>(
        (__nv_bfloat16 *)y, (const __nv_bfloat16 *)x, n, act);
  else
    unary_kernel<<<cuda_blocks(n, EW_THREADS), EW_THREADS, 0, s>>>((float *)y, (const float *)x, n,
                                                                   act);
  cuda_after_launch(be, op);
}

void cuda_act_inplace_bf16(sana_backend *be, const char *op, void *y, int64_t n, sana_act act) {
  launch_unary(be, op, y, y, SANA_BF16, n, act);
}

#define F32_BF16 ((1u << SANA_F32) | (1u << SANA_BF16))

static int same_dtype(sana_backend *be, const char *op, std::initializer_list<const sana_tensor *> ts) {
  const sana_tensor *first = *ts.begin();
  for (const sana_tensor *t : ts)
    if (t && t->dtype != first->dtype) {
      cuda_fail(be, op, "operands mix %s and %s", sana_dtype_name(first->dtype),
                sana_dtype_name(t->dtype));
      return 0;
    }
  return 1;
}

static void cuda_unary(sana_backend *be, sana_tensor *y, const sana_tensor *x, sana_act act) {
  if (!CUDA_DTYPES(be, "unary", F32_BF16, y, x) || !same_dtype(be, "unary", {y, x})) return;
  if (sana_numel(y) != sana_numel(x)) {
    cuda_fail(be, "unary", "element counts differ");
    return;
  }
  launch_unary(be, "unary", y->data, x->data, x->dtype, sana_numel(x), act);
}

/* ---- binary ---- */

__device__ __forceinline__ float dev_binop(float a, float b, int op) {
  switch (op) {
  case SANA_ADD: return a + b;
  case SANA_SUB: return a - b;
  case SANA_MUL: return a * b;
  default: return a / b;
  }
}

template <typename T>
__global__ void binary_kernel(T *y, const T *a, const T *b, int64_t n, int64_t nb, int op) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    y[i] = from_f<T>(dev_binop(ld_f<T>(a + i), ld_f<T>(b + i % nb), op));
}

/* nb % 8 == 0, so the eight elements of vector i repeat b's vector i % (nb / 8). */
__global__ void binary_bf16x8_kernel(uint4 *y, const uint4 *a, const uint4 *b, int64_t n8,
                                     int64_t nb8, int op) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n8;
       i += (int64_t)gridDim.x * blockDim.x) {
    float fa[8], fb[8];
    bf16x8_to_f(a[i], fa);
    bf16x8_to_f(b[i % nb8], fb);
#pragma unroll
    for (int k = 0; k < 8; k++) fa[k] = dev_binop(fa[k], fb[k], op);
    y[i] = f_to_bf16x8(fa);
  }
}

static void cuda_binary(sana_backend *be, sana_tensor *y, const sana_tensor *a, const sana_tensor *b,
                        sana_binop op) {
  if (!CUDA_DTYPES(be, "binary", F32_BF16, y, a, b) || !same_dtype(be, "binary", {y, a, b})) return;
  int64_t na = sana_numel(a), nb = sana_numel(b);
  if (sana_numel(y) != na || nb == 0 || na % nb) {
    cuda_fail(be, "binary", "cannot repeat %lld elements over %lld", (long long)nb, (long long)na);
    return;
  }
  if (na == 0) return;
  cudaStream_t s = cuda_of(be)->stream;
  if (a->dtype == SANA_BF16 && nb % 8 == 0 && cuda_aligned16(y->data, a->data, b->data))
    binary_bf16x8_kernel<<<cuda_blocks(na / 8, EW_THREADS), EW_THREADS, 0, s>>>(
        (uint4 *)y->data, (const uint4 *)a->data, (const uint4 *)b->data, na / 8, nb / 8, op);
  else if (a->dtype == SANA_BF16)
    binary_kernel<<<cuda_blocks(na, EW_THREADS), EW_THREADS, 0, s>>>(
        (__nv_bfloat16 *)y->data, (const __nv_bfloat16 *)a->data, (const __nv_bfloat16 *)b->data,
        na, nb, op);
  else
    binary_kernel<<<cuda_blocks(na, EW_THREADS), EW_THREADS, 0, s>>>(
        (float *)y->data, (const float *)a->data, (const float *)b->data, na, nb, op);
  cuda_after_launch(be, "binary");
}

/* ---- gated residual add: x[M,C] += g[C] ⊙ y[M,C] ---- */

template <typename T>
__global__ void gated_add_kernel(T *x, const T *g, const T *y, int64_t n, int64_t C) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x) {
    float gv = g ? ld_f<T>(g + i % C) : 1.0f;
    x[i] = from_f<T>(ld_f<T>(x + i) + gv * ld_f<T>(y + i));
  }
}

__global__ void gated_add_bf16x8_kernel(uint4 *x, const uint4 *g, const uint4 *y, int64_t n8,
                                        int64_t C8) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n8;
       i += (int64_t)gridDim.x * blockDim.x) {
    float fx[8], fy[8], fg[8];
    bf16x8_to_f(x[i], fx);
    bf16x8_to_f(y[i], fy);
    if (g) bf16x8_to_f(g[i % C8], fg);
#pragma unroll
    for (int k = 0; k < 8; k++) fx[k] += (g ? fg[k] : 1.0f) * fy[k];
    x[i] = f_to_bf16x8(fx);
  }
}

static void cuda_gated_add(sana_backend *be, sana_tensor *x, const sana_tensor *g, const sana_tensor *y) {
  if (!CUDA_DTYPES(be, "gated_add", F32_BF16, x, g, y) || !same_dtype(be, "gated_add", {x, g, y}))
    return;
  int64_t C = x->ne[x->nd - 1], n = sana_numel(x);
  if (sana_numel(y) != n || (g && sana_numel(g) != C)) {
    cuda_fail(be, "gated_add", "shapes do not match (C = %lld)", (long long)C);
    return;
  }
  if (n == 0) return;
  cudaStream_t s = cuda_of(be)->stream;
  const void *gp = g ? g->data : nullptr;
  if (x->dtype == SANA_BF16 && C % 8 == 0 && cuda_aligned16(x->data, y->data, gp))
    gated_add_bf16x8_kernel<<<cuda_blocks(n / 8, EW_THREADS), EW_THREADS, 0, s>>>(
        (uint4 *)x->data, (const uint4 *)gp, (const uint4 *)y->data, n / 8, C / 8);
  else if (x->dtype == SANA_BF16)
    gated_add_kernel<<<cuda_blocks(n, EW_THREADS), EW_THREADS, 0, s>>>(
        (__nv_bfloat16 *)x->data, (const __nv_bfloat16 *)gp, (const __nv_bfloat16 *)y->data, n, C);
  else
    gated_add_kernel<<<cuda_blocks(n, EW_THREADS), EW_THREADS, 0, s>>>(
        (float *)x->data, (const float *)gp, (const float *)y->data, n, C);
  cuda_after_launch(be, "gated_add");
}

void cuda_install_elementwise_ops(sana_backend *be) {
  be->unary = cuda_unary;
  be->binary = cuda_binary;
  be->gated_add = cuda_gated_add;
}
