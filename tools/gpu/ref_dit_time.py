"""Times our PyTorch reference DiT (tools/reference/sana_dit.py) in bf16 on the GPU, for the
ratio `sana bench` is compared with: a steady chunk (3 frames, full window) = the time of a
5+3+3+3 stream minus a 5+3 stream, halved. Usage: python3 ref_dit_time.py WEIGHTS_DIR"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import sana_dit as R  # noqa: E402

sd = torch.load(os.path.join(sys.argv[1], "dit", "sana_streaming_ar.pth"))
cfg = R.Config()
torch.backends.cuda.matmul.allow_tf32 = True
dt = torch.bfloat16
# The weights go to the GPU once, outside the clock (run_inputs would copy 9 GB per call).
W = {k: v.to(device="cuda", dtype=dt) for k, v in sd.items()}
del sd
mcfg = R.detect_config(W)


def timed(frames):
    inp = R.make_inputs(cfg, frames, Hl=22, Wl=40, text_len=300, valid=120, seed=11)
    f = lambda n: inp[n].to(device="cuda", dtype=dt)
    args = (f("noise"), f("source"), f("text"), inp["mask"].to("cuda"), inp["chunk_frames"].tolist())
    torch.cuda.synchronize()
    t = time.time()
    R.run_stream(W, mcfg, *args, None, ())
    torch.cuda.synchronize()
    return time.time() - t


# Warm-up over both chunk shapes (cuBLAS/cuDNN heuristics and allocator growth for the 5- and
# 3-frame shapes), then medians of repeats: one-time costs left in either stream would bias the
# difference, and a single run of each is at the mercy of clocks and the allocator.
timed([5, 3, 3])
a = sorted(timed([5, 3]) for _ in range(3))[1]
b = sorted(timed([5, 3, 3, 3]) for _ in range(3))[1]
chunk = (b - a) / 2
print("reference DiT (PyTorch bf16, %s): %.1f ms per 24-frame chunk (4 passes + cache pass), %.1f fps"
      " (medians of 3: 5+3 frames %.0f ms, 5+3+3+3 frames %.0f ms)"
      % (torch.cuda.get_device_name(), 1e3 * chunk, 24 / chunk, 1e3 * a, 1e3 * b))
