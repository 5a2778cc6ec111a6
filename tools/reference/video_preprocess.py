#!/usr/bin/python3
"""Reference for io/video.c's preprocessing: upstream's read_video transform on uint8 frames.

ToTensorVideo (x / 255), ResizeCrop (cover-resize with torch bilinear, align_corners=False, no
antialias, then the centre crop with upstream's rounding), Normalize(0.5, 0.5). Written from
model-spec §3.1, not copied from upstream. The output conversion of §3.7 is covered as well.

Regenerate (Debian's PyTorch 1.13):
    /usr/bin/python3 tools/reference/video_preprocess.py tests/fixtures/video/preprocess.safetensors
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F

# (source h, source w, target h, target w): upscale, downscale, odd aspect ratios, identity,
# a tall source, and a width ratio whose w*rh lands on .5 (Python rounds half to even).
CASES = [
    (48, 80, 64, 96),    # upscale, wider than the target: crop columns
    (200, 120, 64, 96),  # downscale, tall: crop rows
    (37, 101, 64, 96),   # odd sizes, upscale
    (131, 53, 32, 64),   # odd sizes, downscale
    (64, 96, 64, 96),    # identity size
    (20, 25, 64, 96),    # 20*96/25 = 76.8 -> 77 rows, odd overflow 13 -> offset 6
    (40, 9, 32, 32),     # very tall: crop rows heavily
    (128, 193, 64, 96),  # 193*0.5 = 96.5 -> 96 (half to even), so no crop at all
]


def geometry(h, w, th, tw):
    rh, rw = th / h, tw / w
    if rh > rw:
        sh, sw = th, round(w * rh)
        i, j = 0, int(round(sw - tw) / 2.0)
    else:
        sh, sw = round(h * rw), tw
        i, j = int(round(sh - th) / 2.0), 0
    return sh, sw, i, j


def preprocess(frames_u8, th, tw):
    """frames_u8: (T, H, W, 3) uint8 -> (T, 3, th, tw) float32 in [-1, 1]."""
    x = frames_u8.permute(0, 3, 1, 2).float() / 255.0
    sh, sw, i, j = geometry(x.shape[-2], x.shape[-1], th, tw)
    x = F.interpolate(x, size=(sh, sw), mode="bilinear", align_corners=False, antialias=False)
    x = x[..., i:i + th, j:j + tw]
    return (x - 0.5) / 0.5, (sh, sw, i, j)


def write_safetensors(path, tensors):
    codes = {torch.float32: "F32", torch.uint8: "U8", torch.int64: "I64"}
    header, blobs, off = {}, [], 0
    # Widest dtypes first, so that every tensor's data stays aligned to its element size.
    for name, t in sorted(tensors.items(), key=lambda kv: -kv[1].element_size()):
        t = t.contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/video/preprocess.safetensors"
    g = torch.Generator().manual_seed(5)
    tensors = {}
    for k, (h, w, th, tw) in enumerate(CASES):
        frames = torch.randint(0, 256, (1, h, w, 3), dtype=torch.uint8, generator=g)
        y, geo = preprocess(frames, th, tw)
        tensors[f"case{k}.input"] = frames
        tensors[f"case{k}.output"] = y
        tensors[f"case{k}.geometry"] = torch.tensor(list(geo) + [th, tw], dtype=torch.int64)
    # Output conversion (§3.7): float32 arithmetic, clamp, then .to(uint8) truncates.
    x = torch.cat([torch.linspace(-1.2, 1.2, 4001), torch.randn(2000, generator=g) * 0.7,
                   torch.tensor([-1.0, 1.0, 0.0, 1.0 / 255, -1.0 / 255, 0.00392])])
    tensors["to_u8.input"] = x
    tensors["to_u8.output"] = torch.clamp(127.5 * x + 127.5, 0, 255).to(torch.uint8)
    tensors["count"] = torch.tensor([len(CASES)], dtype=torch.int64)
    write_safetensors(out, tensors)
    print(f"wrote {out}: {len(CASES)} cases")


if __name__ == "__main__":
    main()
