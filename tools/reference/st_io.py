"""Minimal safetensors writer/reader for the reference scripts (Debian's PyTorch has no
`safetensors` module): 8-byte LE header length, JSON header, raw little-endian data."""
import json
import struct

import torch

ST_NAMES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.float64: "F64",
            torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
            torch.uint8: "U8", torch.bool: "BOOL"}
ST_DTYPES = {v: k for k, v in ST_NAMES.items()}


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k in sorted(tensors):
        t = tensors[k].detach().cpu().contiguous()
        # raw bytes through a uint8 view keeps bf16 exact (numpy has no bf16)
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[k] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    import os
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    out = {}
    for k, m in header.items():
        if k == "__metadata__":
            continue
        b, e = m["data_offsets"]
        raw = bytearray(blob[8 + n + b:8 + n + e])
        t = torch.frombuffer(raw, dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        out[k] = t.view(ST_DTYPES[m["dtype"]]).reshape(m["shape"]).clone()
    return out
