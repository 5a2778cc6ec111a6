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


def timed(frames):
    inp = R.make_inputs(cfg, frames, Hl=22, Wl=40, text_len=300, valid=120, seed=11)
    torch.cuda.synchronize()
    t = time.time()
    R.run_inputs(sd, inp, torch.bfloat16, device="cuda", block_steps=())
    torch.cuda.synchronize()
    return time.time() - t


timed([5])  # warm-up
a, b = timed([5, 3]), timed([5, 3, 3, 3])
chunk = (b - a) / 2
print("reference DiT (PyTorch bf16, %s): %.1f ms per 24-frame chunk (4 passes + cache pass), %.1f fps"
      % (torch.cuda.get_device_name(), 1e3 * chunk, 24 / chunk))
