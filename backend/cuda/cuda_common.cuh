/* Device-side helpers shared by the CUDA backend's kernels: loads and stores of F32/BF16/F16
 * as float, 16-byte vectors of eight bf16, and the activations with the CPU reference's
 * definitions (backend/cpu/cpu_core_ops.c: cpu_act). */
#ifndef SANA_BACKEND_CUDA_COMMON_CUH
#define SANA_BACKEND_CUDA_COMMON_CUH

#include "backend/cuda/cuda.h"

template <typename T> __device__ __forceinline__ float ld_f(const T *p);
template <> __device__ __forceinline__ float ld_f<float>(const float *p) { return *p; }
template <> __device__ __forceinline__ float ld_f<__nv_bfloat16>(const __nv_bfloat16 *p) {
  return __bfloat162float(*p);
}
template <> __device__ __forceinline__ float ld_f<__half>(const __half *p) { return __half2float(*p); }

template <typename T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }

/* Eight bf16 in one 16-byte access. */
struct bf16x8 {
  uint4 u;
};
__device__ __forceinline__ void bf16x8_to_f(const uint4 &u, float f[8]) {
  const __nv_bfloat162 *h = reinterpret_cast<const __nv_bfloat162 *>(&u);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 t = __bfloat1622float2(h[i]);
    f[2 * i] = t.x;
    f[2 * i + 1] = t.y;
  }
}
__device__ __forceinline__ uint4 f_to_bf16x8(const float f[8]) {
  uint4 u;
  __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&u);
#pragma unroll
  for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
  return u;
}

__device__ __forceinline__ float dev_act(float x, int act) {
  switch (act) {
  case SANA_ACT_SILU: return x / (1.0f + expf(-x));
  case SANA_ACT_GELU_TANH: {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
  }
  case SANA_ACT_RELU: return x > 0.0f ? x : 0.0f;
  case SANA_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
  case SANA_ACT_SOFTPLUS: return x > 20.0f ? x : log1pf(expf(x)); /* PyTorch's threshold 20 */
  case SANA_ACT_EXP: return expf(x);
  default: return x;
  }
}

/* True when every pointer is 16-byte aligned (for uint4 accesses). */
__host__ __forceinline__ bool cuda_aligned16(const void *a, const void *b = nullptr,
                                             const void *c = nullptr) {
  return (((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) & 15) == 0;
}

#endif
