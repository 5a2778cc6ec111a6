/* The CUDA backend: device memory (a caching allocator over cudaMalloc), host transfers with
 * dtype conversion, copy/fill, sticky error reporting, and creation, which installs each op
 * family's kernels. Activations and weights are bf16; kernels accumulate in fp32. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda.h"
#include "backend/cuda/cuda_common.cuh"

/* ---- errors ---- */

void cuda_fail(sana_backend *be, const char *op, const char *fmt, ...) {
  cuda_impl *c = cuda_of(be);
  if (c->first.code) return;
  char msg[SANA_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sana_err(&c->first, SANA_ERR_BACKEND, "cuda %s: %s", op, msg);
}

int cuda_check(sana_backend *be, const char *op, cudaError_t e, const char *what) {
  if (e == cudaSuccess) return 1;
  cuda_fail(be, op, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
  return 0;
}

void cuda_after_launch(sana_backend *be, const char *op) {
  cuda_impl *c = cuda_of(be);
  if (!cuda_check(be, op, cudaGetLastError(), "kernel launch")) return;
  if (c->sync_each_op) cuda_check(be, op, cudaStreamSynchronize(c->stream), "execution");
}

int cuda_check_dtypes(sana_backend *be, const char *op, unsigned allowed,
                      std::initializer_list<const sana_tensor *> ts) {
  int i = 0;
  for (const sana_tensor *t : ts) {
    if (t && (!t->data || !((allowed >> t->dtype) & 1u))) {
      cuda_fail(be, op, "operand %d is %s%s (this op takes %s)", i, sana_dtype_name(t->dtype),
                t->data ? "" : " without data", allowed == CUDA_BF16_ONLY ? "BF16" : "F32/BF16/F16");
      return 0;
    }
    i++;
  }
  return 1;
}

/* ---- memory: freed blocks are cached by rounded size, so test loops and per-prompt buffers
 * do not pay cudaMalloc/cudaFree (which synchronise the device) each time ---- */

struct cuda_block {
  void *p;
  size_t bytes;
  struct cuda_block *next;
};

static size_t round_size(size_t n) {
  const size_t small = 512, large = (size_t)2 << 20;
  if (n < large) return (n + small - 1) / small * small;
  return (n + large - 1) / large * large;
}

static void release_cached(cuda_impl *c) {
  while (c->cached) {
    cuda_block *b = c->cached;
    c->cached = b->next;
    cudaFree(b->p);
    c->cached_bytes -= b->bytes;
    free(b);
  }
}

static void *cuda_alloc(sana_backend *be, size_t bytes) {
  cuda_impl *c = cuda_of(be);
  size_t n = round_size(bytes ? bytes : 1);
  cuda_block **pp = &c->cached, *b = NULL;
  for (; *pp; pp = &(*pp)->next)
    if ((*pp)->bytes == n) {
      b = *pp;
      *pp = b->next;
      c->cached_bytes -= n;
      break;
    }
  if (!b) {
    void *p = NULL;
    if (cudaMalloc(&p, n) != cudaSuccess) {
      cudaGetLastError(); /* an out-of-memory result is not sticky: clear it and retry */
      release_cached(c);
      if (cudaMalloc(&p, n) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
      }
    }
    b = (cuda_block *)malloc(sizeof *b);
    if (!b) {
      cudaFree(p);
      return NULL;
    }
    b->p = p;
    b->bytes = n;
  }
  b->next = c->live;
  c->live = b;
  c->live_bytes += n;
  if (c->live_bytes > c->peak_bytes) c->peak_bytes = c->live_bytes;
  return b->p;
}

static void cuda_free_(sana_backend *be, void *p) {
  if (!p) return;
  cuda_impl *c = cuda_of(be);
  for (cuda_block **pp = &c->live; *pp; pp = &(*pp)->next)
    if ((*pp)->p == p) {
      cuda_block *b = *pp;
      *pp = b->next;
      c->live_bytes -= b->bytes;
      if (c->vae) cuda_vae_forget(be, b->p, b->bytes); /* before the block can be reused */
      b->next = c->cached;
      c->cached = b;
      c->cached_bytes += b->bytes;
      return;
    }
  cuda_fail(be, "free", "pointer %p was not allocated by this backend", p);
}

static void *scratch(sana_backend *be, const char *op, size_t bytes) {
  cuda_impl *c = cuda_of(be);
  if (c->scratch_bytes >= bytes) return c->scratch;
  if (c->scratch) cudaFree(c->scratch); /* synchronises: pending users are done */
  c->scratch = NULL;
  c->scratch_bytes = 0;
  if (!CUDA_OK(be, op, cudaMalloc(&c->scratch, bytes))) return NULL;
  c->scratch_bytes = bytes;
  return c->scratch;
}

/* ---- conversion, copy, fill ---- */

template <typename D, typename S>
__global__ void convert_kernel(D *dst, const S *src, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    dst[i] = from_f<D>(ld_f<S>(src + i));
}

template <typename D>
static void convert_from(sana_backend *be, D *dst, const void *src, sana_dtype sd, int64_t n) {
  cudaStream_t s = cuda_of(be)->stream;
  unsigned g = cuda_blocks(n, 256);
  if (sd == SANA_F32) convert_kernel<<<g, 256, 0, s>>>(dst, (const float *)src, n);
  else if (sd == SANA_BF16) convert_kernel<<<g, 256, 0, s>>>(dst, (const __nv_bfloat16 *)src, n);
  else convert_kernel<<<g, 256, 0, s>>>(dst, (const __half *)src, n);
}

static bool convertible(sana_dtype d) { return d == SANA_F32 || d == SANA_BF16 || d == SANA_F16; }

void cuda_convert(sana_backend *be, const char *op, void *dst, sana_dtype dd, const void *src,
                  sana_dtype sd, int64_t n) {
  if (n == 0) return;
  if (dd == sd) {
    CUDA_OK(be, op, cudaMemcpyAsync(dst, src, (size_t)n * sana_dtype_size(sd),
                                    cudaMemcpyDeviceToDevice, cuda_of(be)->stream));
    return;
  }
  if (!convertible(dd) || !convertible(sd)) {
    cuda_fail(be, op, "cannot convert %s to %s", sana_dtype_name(sd), sana_dtype_name(dd));
    return;
  }
  if (dd == SANA_F32) convert_from(be, (float *)dst, src, sd, n);
  else if (dd == SANA_BF16) convert_from(be, (__nv_bfloat16 *)dst, src, sd, n);
  else convert_from(be, (__half *)dst, src, sd, n);
  cuda_after_launch(be, op);
}

static int same_count(sana_backend *be, const char *op, const sana_tensor *d, const sana_tensor *s) {
  if (sana_numel(d) == sana_numel(s)) return 1;
  cuda_fail(be, op, "element counts differ (%lld vs %lld)", (long long)sana_numel(d),
            (long long)sana_numel(s));
  return 0;
}

/* Same element count, and dtypes equal or both convertible. */
static int transfer_ok(sana_backend *be, const char *op, const sana_tensor *d, const sana_tensor *s) {
  if (!same_count(be, op, d, s)) return 0;
  if (d->dtype == s->dtype || (convertible(d->dtype) && convertible(s->dtype))) return 1;
  cuda_fail(be, op, "cannot convert %s to %s", sana_dtype_name(s->dtype), sana_dtype_name(d->dtype));
  return 0;
}

static void cuda_copy(sana_backend *be, sana_tensor *dst, const sana_tensor *src) {
  if (!same_count(be, "copy", dst, src)) return;
  cuda_convert(be, "copy", dst->data, dst->dtype, src->data, src->dtype, sana_numel(src));
}

/* Host → device: the host bytes go over as they are, then the device converts. Synchronous
 * with respect to the host buffer, which the caller may free on return. */
static void cuda_upload(sana_backend *be, sana_tensor *dst, const sana_tensor *src) {
  cuda_impl *c = cuda_of(be);
  if (!transfer_ok(be, "upload", dst, src)) return;
  void *stage = dst->dtype == src->dtype ? dst->data : scratch(be, "upload", sana_nbytes(src));
  if (!stage) return;
  if (!CUDA_OK(be, "upload", cudaMemcpyAsync(stage, src->data, sana_nbytes(src),
                                             cudaMemcpyHostToDevice, c->stream)))
    return;
  if (stage != dst->data)
    cuda_convert(be, "upload", dst->data, dst->dtype, stage, src->dtype, sana_numel(src));
  CUDA_OK(be, "upload", cudaStreamSynchronize(c->stream));
}

/* Device → host: convert on the device into scratch, then copy; waits for the result. */
static void cuda_download(sana_backend *be, sana_tensor *dst, const sana_tensor *src) {
  cuda_impl *c = cuda_of(be);
  if (!transfer_ok(be, "download", dst, src)) return;
  const void *from = src->data;
  if (dst->dtype != src->dtype) {
    void *s = scratch(be, "download", sana_nbytes(dst));
    if (!s) return;
    cuda_convert(be, "download", s, dst->dtype, src->data, src->dtype, sana_numel(src));
    from = s;
  }
  if (!CUDA_OK(be, "download", cudaMemcpyAsync(dst->data, from, sana_nbytes(dst),
                                               cudaMemcpyDeviceToHost, c->stream)))
    return;
  CUDA_OK(be, "download", cudaStreamSynchronize(c->stream));
}

template <typename T> __global__ void fill_kernel(T *p, int64_t n, float v) {
  T h = from_f<T>(v);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    p[i] = h;
}

static void cuda_fill(sana_backend *be, sana_tensor *t, float v) {
  if (!CUDA_DTYPES(be, "fill", CUDA_FLOATS, t)) return;
  int64_t n = sana_numel(t);
  if (!n) return;
  cudaStream_t s = cuda_of(be)->stream;
  unsigned g = cuda_blocks(n, 256);
  if (t->dtype == SANA_F32) fill_kernel<<<g, 256, 0, s>>>((float *)t->data, n, v);
  else if (t->dtype == SANA_BF16) fill_kernel<<<g, 256, 0, s>>>((__nv_bfloat16 *)t->data, n, v);
  else fill_kernel<<<g, 256, 0, s>>>((__half *)t->data, n, v);
  cuda_after_launch(be, "fill");
}

/* ---- sync, lifetime ---- */

static sana_status cuda_sync(sana_backend *be, sana_error *err) {
  cuda_impl *c = cuda_of(be);
  cuda_check(be, "sync", cudaStreamSynchronize(c->stream), "queued work");
  sana_status s = c->first.code;
  if (s && err) *err = c->first;
  c->first.code = SANA_OK;
  c->first.msg[0] = 0;
  return s;
}

static void cuda_destroy(sana_backend *be) {
  cuda_impl *c = cuda_of(be);
  if (c->stream) cudaStreamSynchronize(c->stream);
  cuda_vae_release(be);
  cuda_linear_release(be);
  release_cached(c);
  while (c->live) {
    cuda_block *b = c->live;
    c->live = b->next;
    cudaFree(b->p);
    free(b);
  }
  if (c->scratch) cudaFree(c->scratch);
  if (c->stream) cudaStreamDestroy(c->stream);
  free(c);
  free(be);
}

static void cuda_mem_stats(sana_backend *be, size_t *live, size_t *peak) {
  cuda_impl *c = cuda_of(be);
  if (live) *live = c->live_bytes;
  if (peak) *peak = c->peak_bytes;
}

/* Page-locked host memory: copies from it run at the bus's speed without a staging copy. */
static void *cuda_host_alloc(sana_backend *be, size_t bytes) {
  void *p = NULL;
  if (cudaMallocHost(&p, bytes ? bytes : 1) != cudaSuccess) {
    cudaGetLastError();
    return NULL;
  }
  return p;
}

static void cuda_host_free(sana_backend *be, void *p) {
  if (p) cudaFreeHost(p);
}

extern "C" sana_backend *sana_backend_cuda_create(sana_error *err) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    cudaGetLastError();
    sana_err(err, SANA_ERR_UNSUPPORTED, "cuda backend: no usable CUDA device (%s)",
             e != cudaSuccess ? cudaGetErrorString(e) : "device count is 0");
    return NULL;
  }
  sana_backend *be = (sana_backend *)calloc(1, sizeof *be);
  cuda_impl *c = (cuda_impl *)calloc(1, sizeof *c);
  if (!be || !c) {
    free(be);
    free(c);
    sana_err(err, SANA_ERR_NOMEM, "cuda backend: out of host memory");
    return NULL;
  }
  be->impl = c;
  const char *dev = getenv("SANA_CUDA_DEVICE");
  c->device = dev ? atoi(dev) : 0;
  const char *so = getenv("SANA_CUDA_SYNC");
  c->sync_each_op = so && atoi(so) != 0;
  if ((e = cudaSetDevice(c->device)) != cudaSuccess ||
      (e = cudaGetDeviceProperties(&c->prop, c->device)) != cudaSuccess ||
      (e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) != cudaSuccess) {
    sana_err(err, SANA_ERR_BACKEND, "cuda backend: device %d: %s", c->device, cudaGetErrorString(e));
    free(c);
    free(be);
    return NULL;
  }
  if (c->prop.major < 9) {
    sana_err(err, SANA_ERR_UNSUPPORTED,
             "cuda backend: device %d (%s) is compute capability %d.%d; this build targets sm_90",
             c->device, c->prop.name, c->prop.major, c->prop.minor);
    cudaStreamDestroy(c->stream);
    free(c);
    free(be);
    return NULL;
  }
  be->name = "cuda";
  be->act_dtype = SANA_BF16;
  be->weight_dtype = SANA_BF16;
  be->alloc = cuda_alloc;
  be->free = cuda_free_;
  be->upload = cuda_upload;
  be->download = cuda_download;
  be->sync = cuda_sync;
  be->destroy = cuda_destroy;
  be->mem_stats = cuda_mem_stats;
  be->host_alloc = cuda_host_alloc;
  be->host_free = cuda_host_free;
  be->copy = cuda_copy;
  be->fill = cuda_fill;
  if (!cuda_linear_init(be, err)) {
    cuda_destroy(be);
    return NULL;
  }
  cuda_install_elementwise_ops(be);
  cuda_install_linear_op(be);
  cuda_install_norm_ops(be);
  cuda_install_rope_op(be);
  cuda_install_attention_op(be);
  cuda_install_dit_ops(be);
  cuda_install_vae_ops(be);
  cuda_install_text_ops(be);
  cuda_install_video_ops(be);
  return be;
}
