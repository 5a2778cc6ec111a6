#!/usr/bin/python3
"""Our PyTorch reference of the LTX-2 video VAE (model-spec §3.2, §3.6, §7), fp32, written from
the spec; it is the independent source the C VAE is tested against.

It is config-driven (diffusers `vae/config.json` field names, docs/vae.md) and covers:
  - the causal encoder, whole clip or chunk by chunk with per-conv 2-frame caches and the
    temporal-downsampler grouping state (prefixed / pending);
  - the decoder, non-causal (replicate one frame at each end) or causal with caches, and the
    upsampler trim state;
  - the three decode schedules: `tile` (upstream decode_chunk_tile: 4-latent windows, stride 1,
    in-place cascading 16-frame blend), `causal` (one latent per call), `prepend` (non-causal
    decoder, previous latent prepended as left context, decode_with_cache).

Regenerate the committed fixtures (tests/fixtures/vae/) with:
    /usr/bin/python3 tools/reference/ltx2_vae.py fixtures tests/fixtures/vae
Write a full-width random VAE in the diffusers layout (for the GPU check):
    /usr/bin/python3 tools/reference/ltx2_vae.py full-width OUTDIR
"""
import json
import os
import struct
import sys

import torch
import torch.nn.functional as F

# The LTX-2 (2.0) vae/config.json fields that shape the network (docs/vae.md lists the values).
LTX2_CONFIG = {
    "_class_name": "AutoencoderKLLTX2Video",
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 128,
    "block_out_channels": [256, 512, 1024, 2048],
    "decoder_block_out_channels": [256, 512, 1024],
    "layers_per_block": [4, 6, 6, 2, 2],
    "decoder_layers_per_block": [5, 5, 5, 5],
    "spatio_temporal_scaling": [True, True, True, True],
    "decoder_spatio_temporal_scaling": [True, True, True],
    "decoder_inject_noise": [False, False, False, False],
    "downsample_type": ["spatial", "temporal", "spatiotemporal", "spatiotemporal"],
    "upsample_residual": [True, True, True],
    "upsample_factor": [2, 2, 2],
    "timestep_conditioning": False,
    "patch_size": 4,
    "patch_size_t": 1,
    "resnet_norm_eps": 1e-6,
    "scaling_factor": 1.0,
    "encoder_causal": True,
    "decoder_causal": False,
    "encoder_spatial_padding_mode": "zeros",
    "decoder_spatial_padding_mode": "reflect",
    "spatial_compression_ratio": 32,
    "temporal_compression_ratio": 8,
}

# Same block counts and types, widths divided by 32 (latent 4): the fixture network.
SMALL_CONFIG = dict(LTX2_CONFIG, latent_channels=4, block_out_channels=[8, 16, 32, 64],
                    decoder_block_out_channels=[8, 16, 32])

STRIDES = {"spatial": (1, 2, 2), "temporal": (2, 1, 1), "spatiotemporal": (2, 2, 2)}
RMS_EPS = 1e-8


# ---------------------------------------------------------------------------------------------
# Architecture: the list of convs (key prefix, out, in), from the config alone.

def encoder_layout(cfg):
    """Yields ('conv'|'resnet'|'down', name, ...) in execution order."""
    p = cfg["patch_size"]
    lat = cfg["latent_channels"]
    ops = [("conv", "encoder.conv_in", lat, cfg["in_channels"] * p * p * cfg["patch_size_t"])]
    ch = lat
    for i, out in enumerate(cfg["block_out_channels"]):
        for r in range(cfg["layers_per_block"][i]):
            ops.append(("resnet", "encoder.down_blocks.%d.resnets.%d" % (i, r), ch))
        if cfg["spatio_temporal_scaling"][i]:
            st = STRIDES[cfg["downsample_type"][i]]
            prod = st[0] * st[1] * st[2]
            ops.append(("down", "encoder.down_blocks.%d.downsamplers.0" % i, ch, out, st, ch * prod // out))
        ch = out
    for r in range(cfg["layers_per_block"][-1]):
        ops.append(("resnet", "encoder.mid_block.resnets.%d" % r, ch))
    ops.append(("out", "encoder.conv_out", lat + 1, ch))
    return ops


def decoder_layout(cfg):
    rev = list(reversed(cfg["decoder_block_out_channels"]))
    lpb = list(reversed(cfg["decoder_layers_per_block"]))
    uf = list(reversed(cfg["upsample_factor"]))
    res = list(reversed(cfg["upsample_residual"]))
    ch = rev[0]
    ops = [("conv", "decoder.conv_in", ch, cfg["latent_channels"])]
    for r in range(lpb[0]):
        ops.append(("resnet", "decoder.mid_block.resnets.%d" % r, ch))
    for i in range(len(rev)):
        out = rev[i] // uf[i]
        assert ch // uf[i] == out, "up block %d would need a conv_in resnet" % i
        ops.append(("up", "decoder.up_blocks.%d.upsamplers.0" % i, ch, out, res[i], uf[i]))
        ch = out
        for r in range(lpb[i + 1]):
            ops.append(("resnet", "decoder.up_blocks.%d.resnets.%d" % (i, r), ch))
    ops.append(("out", "decoder.conv_out", cfg["out_channels"] * cfg["patch_size"] ** 2, ch))
    return ops


def conv_shapes(cfg):
    """{key prefix of .conv.weight: (out, in)} for every conv."""
    shapes = {}
    for op in encoder_layout(cfg) + decoder_layout(cfg):
        kind, name = op[0], op[1]
        if kind in ("conv", "out"):
            shapes[name] = (op[2], op[3])
        elif kind == "resnet":
            shapes[name + ".conv1"] = (op[2], op[2])
            shapes[name + ".conv2"] = (op[2], op[2])
        elif kind == "down":
            ch, out, st = op[2], op[3], op[4]
            shapes[name + ".conv"] = (out // (st[0] * st[1] * st[2]), ch)
        elif kind == "up":
            ch, out, uf = op[2], op[3], op[5]
            shapes[name + ".conv"] = (ch * 8 // uf, ch)
    return shapes


def random_weights(cfg, seed):
    """Random weights, rounded to bf16 so that the bf16 file holds exactly what we compute with."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for name, (o, i) in sorted(conv_shapes(cfg).items()):
        w = torch.randn(o, i, 3, 3, 3, generator=g) / (27 * i) ** 0.5
        sd[name + ".conv.weight"] = w.bfloat16().float()
        sd[name + ".conv.bias"] = (0.1 * torch.randn(o, generator=g)).bfloat16().float()
    lat = cfg["latent_channels"]
    sd["latents_mean"] = (0.3 * torch.randn(lat, generator=g)).bfloat16().float()
    sd["latents_std"] = (0.5 + torch.rand(lat, generator=g)).bfloat16().float()
    return sd


# ---------------------------------------------------------------------------------------------
# Layers

class State:
    """Per-stream state: conv caches (the last 2 padded input frames), downsampler grouping
    state, upsampler trim state. One per encoder or decoder stream."""

    def __init__(self):
        self.conv = {}
        self.group = {}
        self.trimmed = {}


def conv3d(sd, name, x, causal, pad_mode, state):
    w, b = sd[name + ".conv.weight"], sd[name + ".conv.bias"]
    if causal:
        prev = state.conv.get(name) if state is not None else None
        if prev is None:
            prev = x[:, :, :1].repeat(1, 1, 2, 1, 1)
        x = torch.cat([prev, x], 2)
        if state is not None:
            state.conv[name] = x[:, :, -2:].clone()
    else:
        x = torch.cat([x[:, :, :1], x, x[:, :, -1:]], 2)
    B, C, T, H, W = x.shape
    x4 = x.permute(0, 2, 1, 3, 4).reshape(B * T, C, H, W)
    x4 = F.pad(x4, (1, 1, 1, 1), mode="constant" if pad_mode == "zeros" else pad_mode)
    x = x4.reshape(B, T, C, H + 2, W + 2).permute(0, 2, 1, 3, 4)
    return F.conv3d(x, w, b)


def rms(x):
    return x / torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + RMS_EPS)


def resnet(sd, name, x, causal, pad, state):
    h = conv3d(sd, name + ".conv1", F.silu(rms(x)), causal, pad, state)
    h = conv3d(sd, name + ".conv2", F.silu(rms(h)), causal, pad, state)
    return x + h


def unshuffle(x, st):
    B, C, T, H, W = x.shape
    x = x.reshape(B, C, T // st[0], st[0], H // st[1], st[1], W // st[2], st[2])
    return x.permute(0, 1, 3, 5, 7, 2, 4, 6).reshape(B, C * st[0] * st[1] * st[2], T // st[0], H // st[1], W // st[2])


def shuffle(x, st):
    B, C, T, H, W = x.shape
    c = C // (st[0] * st[1] * st[2])
    x = x.reshape(B, c, st[0], st[1], st[2], T, H, W)
    return x.permute(0, 1, 5, 2, 6, 3, 7, 4).reshape(B, c, T * st[0], H * st[1], W * st[2])


def downsampler(sd, name, x, out, st, group, pad, state):
    if st[0] > 1:
        if state is not None:
            gs = state.group.setdefault(name, {"prefixed": False, "pending": None})
            if not gs["prefixed"]:
                x = torch.cat([x[:, :, :1].repeat(1, 1, st[0] - 1, 1, 1), x], 2)
                gs["prefixed"] = True
            if gs["pending"] is not None:
                x = torch.cat([gs["pending"], x], 2)
            usable = x.shape[2] // st[0] * st[0]
            gs["pending"] = x[:, :, usable:].clone() if usable < x.shape[2] else None
            x = x[:, :, :usable]
        else:
            x = torch.cat([x[:, :, :st[0] - 1], x], 2)
    B, C, T, H, W = x.shape
    if T == 0:
        return x.new_zeros(B, out, 0, H // st[1], W // st[2])
    r = unshuffle(x, st)
    r = r.reshape(B, out, group, T // st[0], H // st[1], W // st[2]).mean(2)
    return unshuffle(conv3d(sd, name + ".conv", x, True, pad, state), st) + r


def upsampler(sd, name, x, residual, uf, causal, pad, state):
    trim = 1
    if state is not None:
        trim = 0 if state.trimmed.get(name) else 1
        state.trimmed[name] = True
    st = (2, 2, 2)
    y = shuffle(conv3d(sd, name + ".conv", x, causal, pad, state), st)[:, :, trim:]
    if residual:
        r = shuffle(x, st).repeat(1, 8 // uf, 1, 1, 1)[:, :, trim:]
        y = y + r
    return y


def encode(cfg, sd, x, state=None):
    """x (B, 3, T, H, W) -> posterior mode (B, L, T', H/32, W/32), causal; with `state`, one
    chunk of a stream."""
    p = cfg["patch_size"]
    pad = cfg["encoder_spatial_padding_mode"]
    B, C, T, H, W = x.shape
    # channel = c*p*p + pw*p + ph: the w offset comes before the h offset
    x = x.reshape(B, C, T, H // p, p, W // p, p).permute(0, 1, 6, 4, 2, 3, 5).reshape(B, C * p * p, T, H // p, W // p)
    for op in encoder_layout(cfg):
        kind, name = op[0], op[1]
        if x.shape[2] == 0:  # every frame went to a downsampler's pending group
            sc = cfg["spatial_compression_ratio"]
            return x.new_zeros(B, cfg["latent_channels"], 0, H // sc, W // sc)
        if kind == "conv":
            x = conv3d(sd, name, x, True, pad, state)
        elif kind == "resnet":
            x = resnet(sd, name, x, True, pad, state)
        elif kind == "down":
            x = downsampler(sd, name, x, op[3], op[4], op[5], pad, state)
        elif kind == "out":
            x = conv3d(sd, name, F.silu(rms(x)), True, pad, state)
    return x[:, :cfg["latent_channels"]]


def decode(cfg, sd, z, causal, state=None):
    """z (B, L, T, h, w) un-normalised -> (B, 3, T', 32h, 32w)."""
    pad = cfg["decoder_spatial_padding_mode"]
    x = z
    for op in decoder_layout(cfg):
        kind, name = op[0], op[1]
        if kind == "conv":
            x = conv3d(sd, name, x, causal, pad, state)
        elif kind == "resnet":
            x = resnet(sd, name, x, causal, pad, state)
        elif kind == "up":
            x = upsampler(sd, name, x, op[4], op[5], causal, pad, state)
        elif kind == "out":
            x = conv3d(sd, name, F.silu(rms(x)), causal, pad, state)
    p = cfg["patch_size"]
    B, C, T, h, w = x.shape
    c = C // (p * p)
    return x.reshape(B, c, p, p, T, h, w).permute(0, 1, 4, 5, 3, 6, 2).reshape(B, c, T, h * p, w * p)


def normalise(cfg, sd, z):
    m = sd["latents_mean"].view(1, -1, 1, 1, 1)
    s = sd["latents_std"].view(1, -1, 1, 1, 1)
    return (z - m) * cfg["scaling_factor"] / s


def denormalise(cfg, sd, zn):
    m = sd["latents_mean"].view(1, -1, 1, 1, 1)
    s = sd["latents_std"].view(1, -1, 1, 1, 1)
    return zn * s / cfg["scaling_factor"] + m


# ---------------------------------------------------------------------------------------------
# Decode schedules

def decode_tile(cfg, sd, z, window=4, blend=16):
    """Upstream decode_chunk_tile: windows of `window` latents at stride 1, each decoded alone
    (non-causal); tile i > 0 drops its first frame, is blended in place with tile i-1 (which was
    itself blended: the blend cascades), then keeps `ratio` frames; tile 0 keeps ratio + 1."""
    ratio = cfg["temporal_compression_ratio"]
    T = z.shape[2]
    rows = []
    for i in range(T):
        d = decode(cfg, sd, z[:, :, i:i + window], False)
        rows.append(d[:, :, 1:] if i > 0 else d)
    out = []
    for i, cur in enumerate(rows):
        if i > 0:
            prev = rows[i - 1]
            e = min(prev.shape[2], cur.shape[2], blend)
            for x in range(e):
                cur[:, :, x] = prev[:, :, -e + x] * (1 - x / e) + cur[:, :, x] * (x / e)
            out.append(cur[:, :, :ratio])
        else:
            out.append(cur[:, :, :ratio + 1])
    return torch.cat(out, 2)[:, :, :(T - 1) * ratio + 1]


def decode_causal(cfg, sd, z):
    """One latent per call through the causal decoder with caches: 1 frame, then 8 per latent."""
    st = State()
    return torch.cat([decode(cfg, sd, z[:, :, t:t + 1], True, st) for t in range(z.shape[2])], 2)


def decode_prepend(cfg, sd, z, chunk=1, prepend=1):
    """decode_with_cache for the non-causal decoder: each chunk is decoded with the previous
    chunk's last `prepend` latents in front (the first chunk repeats its own first latent); the
    upsamplers trim only on the first call; the context frames are dropped."""
    ratio = cfg["temporal_compression_ratio"]
    st = State()
    tail = None
    out = []
    for c0 in range(0, z.shape[2], chunk):
        zc = z[:, :, c0:c0 + chunk]
        ctx = zc[:, :, :1].repeat(1, 1, prepend, 1, 1) if tail is None else tail
        d = decode(cfg, sd, torch.cat([ctx, zc], 2), False, st)
        keep = (zc.shape[2] - 1) * ratio + 1 if tail is None else zc.shape[2] * ratio
        out.append(d[:, :, prepend * ratio:prepend * ratio + keep])
        tail = zc[:, :, -prepend:]
    return torch.cat(out, 2)


# ---------------------------------------------------------------------------------------------
# Files

ST_DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.int64: "I64"}


def write_safetensors(path, tensors):
    """Writes {name: tensor} as safetensors (no safetensors module on this Python)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def write_vae_dir(d, cfg, sd):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(d, "diffusion_pytorch_model.safetensors"),
                      {k: v.bfloat16() for k, v in sd.items()})


def nmse(a, b):
    return float(((a - b) ** 2).sum() / (b ** 2).sum())


def make_fixtures(out):
    """The reduced-width VAE with the real layer structure and the outputs of every path."""
    torch.manual_seed(0)
    cfg = SMALL_CONFIG
    sd = random_weights(cfg, 1)
    write_vae_dir(os.path.join(out, "vae"), cfg, sd)
    g = torch.Generator().manual_seed(2)

    # Encode: 81 frames at 64x64, whole clip and 33 + 24 + 24 (the streaming schedule).
    video = (torch.rand(1, 3, 81, 64, 64, generator=g) * 2 - 1).bfloat16().float()
    whole = encode(cfg, sd, video)
    st = State()
    parts, f0 = [], 0
    for n in (33, 24, 24):
        parts.append(encode(cfg, sd, video[:, :, f0:f0 + n], st))
        f0 += n
    chunked = torch.cat(parts, 2)
    print("encode", tuple(whole.shape), "chunked vs whole nmse %.3g" % nmse(chunked, whole))
    write_safetensors(os.path.join(out, "encode.safetensors"), {
        "video": video.bfloat16(),
        "posterior_mode": whole,
        "latents": normalise(cfg, sd, whole),
        "latents_chunked": normalise(cfg, sd, chunked),
    })

    # Decode: 4 normalised latents at 2x3 (64x96 pixels), every schedule.
    zn = torch.randn(1, cfg["latent_channels"], 4, 2, 3, generator=g)
    z = denormalise(cfg, sd, zn)
    outs = {"latents": zn}
    outs["video_tile"] = decode_tile(cfg, sd, z.clone())
    outs["video_causal"] = decode_causal(cfg, sd, z)
    outs["video_prepend"] = decode_prepend(cfg, sd, z, chunk=1)
    whole = decode(cfg, sd, z, False)
    for k, v in outs.items():
        print(k, tuple(v.shape))
    # How far each streaming schedule is from one non-causal decode of the whole clip (random
    # weights exaggerate it): context the README's latency/quality table talks about.
    print("vs whole-clip decode nmse: tile %.3g, prepend %.3g, causal %.3g" % (
        nmse(outs["video_tile"], whole), nmse(outs["video_prepend"], whole), nmse(outs["video_causal"], whole)))
    write_safetensors(os.path.join(out, "decode.safetensors"),
                      {k: (v.bfloat16() if k.startswith("video") else v) for k, v in outs.items()})


def make_full_width(out, frames=9, height=256, width=384):
    """The real LTX-2 config with random weights, plus a short clip and its reference outputs
    (computed on the GPU when there is one, in fp32 with TF32 off)."""
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    cfg = LTX2_CONFIG
    sd = random_weights(cfg, 1)
    write_vae_dir(os.path.join(out, "vae"), cfg, sd)
    n = sum(v.numel() for k, v in sd.items() if k.startswith("encoder.")), sum(
        v.numel() for k, v in sd.items() if k.startswith("decoder."))
    print("parameters: encoder %.1f M, decoder %.1f M" % (n[0] / 1e6, n[1] / 1e6))
    sd = {k: v.to(dev) for k, v in sd.items()}
    g = torch.Generator().manual_seed(2)
    video = (torch.rand(1, 3, frames, height, width, generator=g) * 2 - 1).bfloat16().float()
    lat = normalise(cfg, sd, encode(cfg, sd, video.to(dev)))
    dec = decode_tile(cfg, sd, denormalise(cfg, sd, lat))
    write_safetensors(os.path.join(out, "clip.safetensors"),
                      {"video": video.bfloat16(), "latents": lat.cpu(), "video_tile": dec.cpu()})


if __name__ == "__main__":
    with torch.no_grad():
        if len(sys.argv) == 3 and sys.argv[1] == "fixtures":
            make_fixtures(sys.argv[2])
        elif len(sys.argv) >= 3 and sys.argv[1] == "full-width":
            make_full_width(sys.argv[2], *[int(a) for a in sys.argv[3:]])
        else:
            sys.exit(__doc__)
