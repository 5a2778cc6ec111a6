/* RoPE in place on x[n, H, D] (bf16) with fp32 cos/sin tables [n, D/2]: one thread per
 * rotated pair. interleaved pairs (2i, 2i+1) are SANA's complex RoPE; otherwise (i, i + D/2),
 * the rotate_half form of Gemma/Llama. The rotation is fp32, rounded once to bf16. */
#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"

__global__ void rope_kernel(__nv_bfloat16 *x, const float *cs, const float *sn, int64_t n, int64_t H,
                            int64_t half, int interleaved) {
  const int64_t total = n * H * half;
  for (int64_t p = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; p < total;
       p += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = p % half, th = p / half, t = th / H;
    __nv_bfloat16 *row = x + th * 2 * half;
    int64_t a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
    float c = cs[t * half + i], s = sn[t * half + i];
    float x0 = __bfloat162float(row[a]), x1 = __bfloat162float(row[b]);
    row[a] = __float2bfloat16_rn(x0 * c - x1 * s);
    row[b] = __float2bfloat16_rn(x0 * s + x1 * c);
  }
}

static void cuda_rope(sana_backend *be, sana_tensor *x, const sana_tensor *cs, const sana_tensor *sn,
                      int interleaved) {
  if (!CUDA_DTYPES(be, "rope", CUDA_BF16_ONLY, x) ||
      !CUDA_DTYPES(be, "rope", 1u << SANA_F32, cs, sn))
    return;
  if (x->nd != 3 || x->ne[2] % 2 || sana_numel(cs) != x->ne[0] * x->ne[2] / 2 ||
      sana_numel(sn) != sana_numel(cs)) {
    cuda_fail(be, "rope", "x must be [n, H, D] with tables [n, D/2]");
    return;
  }
  int64_t half = x->ne[2] / 2, total = x->ne[0] * x->ne[1] * half;
  if (!total) return;
  rope_kernel<<<cuda_blocks(total, 256), 256, 0, cuda_of(be)->stream>>>(
      (__nv_bfloat16 *)x->data, (const float *)cs->data, (const float *)sn->data, x->ne[0], x->ne[1],
      half, interleaved);
  cuda_after_launch(be, "rope");
}

void cuda_install_rope_op(sana_backend *be) { be->rope = cuda_rope; }
