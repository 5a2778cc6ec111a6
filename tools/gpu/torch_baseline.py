"""PyTorch baselines on the GPU machine for the op harness' timed shapes (bf16): the GEMMs
through torch.matmul (cuBLAS) and the attention through SDPA (flash). Prints one line per op
in the harness' units, so tools/gpu/ops.sh can show both side by side.

Run: python3 tools/gpu/torch_baseline.py   (needs a CUDA GPU and PyTorch)
"""
import torch
import torch.nn.functional as F


def bench(fn, reps=20):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(5):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(reps):
            fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / reps / 1e3)
    times.sort()
    return times[2]


def main():
    dev = "cuda"
    torch.manual_seed(0)
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
    for m, k, n in [(8192, 8192, 8192), (2640, 2240, 2240), (2640, 2240, 13440), (2640, 6720, 2240)]:
        x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        w = torch.randn(n, k, device=dev, dtype=torch.bfloat16) / 16
        b = torch.randn(n, device=dev, dtype=torch.bfloat16)
        t = bench(lambda: F.linear(x, w, b))
        print(f"torch linear {m}x{k} -> {n} bias: {t * 1e3:8.3f} ms {2 * m * k * n / t * 1e-12:6.1f} TF/s")
    for n, m, h, d in [(2640, 9680, 20, 112), (2640, 300, 20, 112)]:
        q = torch.randn(1, h, n, d, device=dev, dtype=torch.bfloat16)
        k = torch.randn(1, h, m, d, device=dev, dtype=torch.bfloat16)
        v = torch.randn(1, h, m, d, device=dev, dtype=torch.bfloat16)
        t = bench(lambda: F.scaled_dot_product_attention(q, k, v))
        print(f"torch sdpa {n}q x {m}k {h}x{d}: {t * 1e3:8.3f} ms {4 * n * m * h * d / t * 1e-12:6.1f} TF/s")


if __name__ == "__main__":
    main()
