#!/usr/bin/python3
"""Fixtures for the .pth loader (io/pth.c), written by torch.save itself.

For every `<name>.pth` it also writes `<name>.expected.safetensors`: the tensors the loader must
return (keys after upstream's normalize_state_dict, values contiguous), written by hand here
(8-byte LE header length + JSON + data) so the check does not depend on our own writer.
It also writes malformed archives: a pickle that calls os.system (pickled by hand with a
opcode by opcode; nothing here ever unpickles it), a zip whose storage entry is missing, a
tensor reaching past its storage, a deflated archive, a big-endian one, the records torch 2.x adds, and a zip64 rewrite of a
good file. pickles/ holds each data.pkl alone
(seeds for fuzz/fuzz_pickle.c).

Regenerate (Debian's PyTorch 1.13):
    /usr/bin/python3 tools/reference/make_pth_fixtures.py tests/fixtures/pth
A 4.4 GB checkpoint with torch's own zip64 records (not committed; test_io_pth checks it when
SANA_BIG_PTH names it):
    /usr/bin/python3 tools/reference/make_pth_fixtures.py --big /tmp/big.pth
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import torch

torch.manual_seed(1234)


def write_safetensors(path, tensors):
    names = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.float64: "F64",
             torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
             torch.bool: "BOOL"}
    header, blobs, off = {}, [], 0
    for k in sorted(tensors):
        t = tensors[k].detach().contiguous()
        # raw bytes through a uint8 view keeps bf16 exact (numpy has no bf16)
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def normalize(ckpt):
    """Upstream's normalize_state_dict (inference_sana_streaming.py), tensors only."""
    if "generator" in ckpt:
        ckpt = ckpt["generator"]
    if "state_dict" not in ckpt:
        ckpt = {"state_dict": {k.removeprefix("model.").removeprefix("module."): v for k, v in ckpt.items()}}
    return {k: v for k, v in ckpt["state_dict"].items() if isinstance(v, torch.Tensor)}


def state_dict():
    sd = collections.OrderedDict()
    sd["blocks.0.attn.q.weight"] = torch.randn(6, 4)
    sd["blocks.0.attn.q.bias"] = torch.randn(6).to(torch.bfloat16)
    sd["blocks.0.mlp.w"] = torch.randn(2, 3, 1, 1, 1).to(torch.float16)
    sd["f64"] = torch.randn(3).double()
    sd["i64"] = torch.tensor([-(2**40), -1, 0, 7, 2**62])
    sd["i32"] = torch.tensor([-5, 2**31 - 1], dtype=torch.int32)
    sd["i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 3], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd["mask"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(2.5)  # 0-d
    sd["empty"] = torch.zeros(0, 3)
    base = torch.randn(4, 3).to(torch.bfloat16)
    sd["transposed"] = base.t()  # non-contiguous view of a [4,3] storage
    long = torch.randn(10)
    sd["offset_view"] = long[3:7]  # storage offset 3
    sd["strided_offset"] = torch.randn(5, 6)[1:4, ::2]  # offset and non-unit strides
    shared = torch.randn(12)
    sd["shared.a"] = shared.view(3, 4)  # both point at one storage
    sd["shared.b"] = shared[4:8]
    return sd


def rezip(src, dst, *, drop=None, compress=zipfile.ZIP_STORED, replace=None, add=()):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compress) as zout:
        for name, data in add:
            zout.writestr(name, data)
        for info in zin.infolist():
            if drop and info.filename.endswith(drop):
                continue
            data = zin.read(info.filename)
            if replace and info.filename.endswith(replace[0]):
                data = replace[1]
            zout.writestr(info.filename, data)


class Persist:
    """Stands for a storage; the pickler below writes it as torch's persistent id."""

    def __init__(self, ty, key, numel):
        self.pid = ("storage", ty, key, "cpu", numel)


class FakeTensor:
    """Pickles as torch would pickle a tensor, but with whatever size/stride we ask for."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, Persist) else None


def handmade_pickle(obj):
    buf = io.BytesIO()
    TorchLikePickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def zip64_copy(src, dst):
    """Python's own zip writer, told that everything is past the 4 GB limits, writes zip64
    extra fields for sizes and offsets and a zip64 end record (what a 4.5 GB torch.save has)."""
    lim, cnt = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 1, 1
    try:
        rezip(src, dst)
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = lim, cnt


def main(out):
    os.makedirs(out, exist_ok=True)
    sd = state_dict()
    optim = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(6, 4)}},
             "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
                               "amsgrad": False, "params": [0]}]}
    cases = {
        "plain": sd,
        "wrapped": {"state_dict": sd, "epoch": 3, "step": 1200, "name": "sana", "optimizer": optim,
                    "ratio": 0.5, "flags": [True, None, b"raw"], "ema": {"state_dict_ema": {"x": torch.ones(2)}}},
        "generator": {"generator": {"model.blocks.0.w": sd["blocks.0.attn.q.weight"], "model.t": sd["transposed"],
                                    "extra": 7}},
        "prefixed": collections.OrderedDict([
            ("module.a.weight", torch.randn(2, 2)),
            ("model.module.b", torch.randn(3).to(torch.float16)),  # model. then module. -> "b"
            ("module.model.c", torch.randn(1)),                    # only module. goes -> "model.c"
            ("plain.d", torch.arange(4)),
            ("epoch", 9),                                          # non-tensor: ignored
        ]),
        "params": {"state_dict": {"p": torch.nn.Parameter(torch.randn(3, 2)), "buf": torch.randn(2)}},
    }
    os.makedirs(os.path.join(out, "pickles"), exist_ok=True)
    for name, obj in cases.items():
        path = os.path.join(out, name + ".pth")
        torch.save(obj, path)
        with zipfile.ZipFile(path) as z:  # seeds for the pickle fuzz target
            with open(os.path.join(out, "pickles", name + ".pkl"), "wb") as f:
                f.write(z.read(name + "/data.pkl"))
        write_safetensors(os.path.join(out, name + ".expected.safetensors"), normalize(obj))

    # malformed archives
    plain = os.path.join(out, "plain.pth")
    rezip(plain, os.path.join(out, "bad_missing_storage.pth"), drop="/data/2")
    # {"w": os.system("echo pwned")} as protocol-2 opcodes, written byte by byte
    evil = (b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01cos\nsystem\nq\x02"
            b"X\x0a\x00\x00\x00echo pwnedq\x03\x85q\x04Rq\x05s.")
    rezip(plain, os.path.join(out, "bad_global.pth"), replace=("/data.pkl", evil))
    oob = handmade_pickle(collections.OrderedDict(
        w=FakeTensor(Persist(torch.FloatStorage, "0", 6), 2, (2, 3), (3, 1))))  # needs 8 elements, has 6
    rezip(plain, os.path.join(out, "bad_bounds.pth"), replace=("/data.pkl", oob))
    rezip(plain, os.path.join(out, "bad_deflated.pth"), compress=zipfile.ZIP_DEFLATED)
    # legal for torch: an empty view whose offset lies past its storage (nothing is read)
    far = handmade_pickle(collections.OrderedDict(
        e=FakeTensor(Persist(torch.FloatStorage, "0", 6), 2**62, (0, 3), (3, 1))))
    rezip(plain, os.path.join(out, "empty_far_offset.pth"), replace=("/data.pkl", far))
    zip64_copy(plain, os.path.join(out, "zip64.pth"))
    # the records torch 2.x adds (serialization.py _save: byteorder; the writer: .data/...),
    # here ahead of data.pkl so the archive folder is not taken from the first entry
    torch2 = [("plain/.data/version", b"3\n"), ("plain/byteorder", b"little"),
              ("plain/.data/serialization_id", b"0123456789012345678901234567890123456789")]
    rezip(plain, os.path.join(out, "torch2_layout.pth"), add=torch2)
    rezip(plain, os.path.join(out, "bad_big_endian.pth"), add=[("plain/byteorder", b"big")])


def big(path):
    """A checkpoint past 4 GB (not committed): torch's own zip64 records. A 4.4 GB uint8 tensor
    with marks at both ends, then "after" = [1, 2, 3, 4] whose storage starts past 4 GB.
    test_io_pth checks it when SANA_BIG_PTH names it."""
    n = 4_400_000_000
    t = torch.zeros(n, dtype=torch.uint8)  # untouched pages stay unallocated
    t[0], t[1], t[n - 1] = 7, 8, 9
    torch.save({"state_dict": collections.OrderedDict(big=t, after=torch.arange(1.0, 5.0))}, path)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--big":
        big(sys.argv[2])
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/pth")
