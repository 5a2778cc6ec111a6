#!/usr/bin/python3
"""Our PyTorch reference of the SANA-Streaming DiT (model-spec §3.4, §3.5, §4, §5, §6.4, §9),
written from the spec. It is the independent source the C DiT (model/dit*.c) is tested against.

It is generic over depth, hidden size, head dim (heads = hidden / head dim), latent channels,
latent grid, caption channels and text length; it builds random checkpoints in the official
`.pth` layout (flat state_dict, upstream key names and shapes, bf16) and runs the streaming
sampler: chunks, 4 Euler steps at t = [1000, 961, 893, 743] with the bf16-rounded step size,
the t = 0 cache pass, the sink + previous softmax window, the GDN states and the t-conv cache.
All compute is fp32 (or fp64 with --fp64) from the bf16-valued weights; the Euler update keeps
fp32 latents (only dt is rounded to bf16, as upstream's 0-dim tensor promotion does).

Regenerate the committed fixtures (tests/fixtures/dit/):
    /usr/bin/python3 tools/reference/sana_dit.py fixtures tests/fixtures/dit
Full-size random checkpoint + one chunk's reference (on the GPU machine, not committed):
    python3 tools/reference/sana_dit.py full OUTDIR [--device cuda]
docs/dit.md lists the tensor names.
"""
import collections
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st import load as read_safetensors, save as write_safetensors  # noqa: E402

TIMESTEPS = [1000, 961, 893, 743]
SIGMAS = [1.0, 0.961, 0.893, 0.743, 0.0]


class Config:
    def __init__(self, depth=20, hidden=2240, head_dim=112, in_ch=128, cap_ch=2304, text_len=300,
                 mlp_ratio=3, freq_dim=256, softmax_ratio=0.25, pos_tokens=484):
        self.depth, self.hidden, self.head_dim = depth, hidden, head_dim
        self.heads = hidden // head_dim
        self.in_ch, self.cap_ch, self.text_len = in_ch, cap_ch, text_len
        self.ffn = mlp_ratio * hidden  # GLU hidden; the inverted conv is twice as wide
        self.freq_dim, self.pos_tokens = freq_dim, pos_tokens
        self.softmax = set(softmax_layer_indices(depth, softmax_ratio))


def softmax_layer_indices(depth, ratio):
    """Evenly spaced, ending at the last block: depth 20, ratio 0.25 -> 3, 7, 11, 15, 19."""
    n = int(depth * ratio)
    return [int((i + 1) * depth / n) - 1 for i in range(n)] if n else []


# ---------------------------------------------------------------------------------------------
# Random checkpoint in the official layout (§6.4)

def random_state_dict(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    C, H, Fh = cfg.hidden, cfg.heads, cfg.ffn
    sd = collections.OrderedDict()

    def rn(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=g) * std + mean

    def lin(name, out, inp, bias=True, std=None, shape=None):
        sd[name + ".weight"] = rn(*(shape or (out, inp)), std=std if std is not None else inp ** -0.5)
        if bias:
            sd[name + ".bias"] = rn(out, std=0.02)

    def norm_w(name):
        sd[name] = rn(C, std=0.1, mean=1.0)

    sd["pos_embed"] = torch.zeros(1, cfg.pos_tokens, C)
    lin("x_embedder.proj", C, 2 * cfg.in_ch, shape=(C, 2 * cfg.in_ch, 1, 1, 1))
    lin("t_embedder.mlp.0", C, cfg.freq_dim)
    lin("t_embedder.mlp.2", C, C)
    lin("t_block.1", 6 * C, C, std=0.5 * C ** -0.5)
    sd["y_embedder.y_embedding"] = rn(cfg.text_len, cfg.cap_ch)
    lin("y_embedder.y_proj.fc1", C, cfg.cap_ch)
    lin("y_embedder.y_proj.fc2", C, C)
    norm_w("attention_y_norm.weight")
    for i in range(cfg.depth):
        p = "blocks.%d." % i
        sd[p + "scale_shift_table"] = rn(6, C, std=C ** -0.5)
        a = p + "attn."
        if i in cfg.softmax:
            lin(a + "q", C, C, bias=False, shape=(C, C, 3))
            lin(a + "k", C, C, bias=False, shape=(C, C, 3))
        else:
            lin(a + "q", C, C, bias=False, shape=(C, C, 1))
            lin(a + "k", C, C, bias=False, shape=(C, C, 1))
        lin(a + "v", C, C, bias=False)
        lin(a + "proj", C, C)
        lin(a + "output_gate", C, C)
        norm_w(a + "q_norm.weight")
        norm_w(a + "k_norm.weight")
        if i not in cfg.softmax:
            lin(a + "beta_proj", H, C)
            lin(a + "gate_proj", H, C, std=0.1 * C ** -0.5)
            sd[a + "A_log"] = torch.log(torch.rand(H, generator=g) * 15 + 1)
            dt = torch.exp(torch.rand(H, generator=g) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
            sd[a + "dt_bias"] = dt + torch.log(-torch.expm1(-dt))  # inverse softplus
        c = p + "cross_attn."
        lin(c + "q_linear", C, C)
        lin(c + "kv_linear", 2 * C, C)
        lin(c + "proj", C, C)
        norm_w(c + "q_norm.weight")
        norm_w(c + "k_norm.weight")
        m = p + "mlp."
        lin(m + "inverted_conv.conv", 2 * Fh, C, shape=(2 * Fh, C, 1, 1))
        lin(m + "depth_conv.conv", 2 * Fh, 9, shape=(2 * Fh, 1, 3, 3))
        lin(m + "point_conv.conv", C, Fh, bias=False, shape=(C, Fh, 1, 1))
        lin(m + "t_conv", C, 3 * C, bias=False, shape=(C, C, 3, 1))
    lin("final_layer.linear", cfg.in_ch, C)
    sd["final_layer.scale_shift_table"] = rn(2, C, std=C ** -0.5)
    return collections.OrderedDict((k, v.to(torch.bfloat16)) for k, v in sd.items())


def detect_config(sd):
    """The config of a state_dict, from its shapes (the same rules as model/dit_load.c)."""
    C = sd["x_embedder.proj.weight"].shape[0]
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    heads = next((sd["blocks.%d.attn.beta_proj.weight" % i].shape[0] for i in range(depth)
                  if "blocks.%d.attn.beta_proj.weight" % i in sd), C // 112)
    cfg = Config(depth=depth, hidden=C, head_dim=C // heads, in_ch=sd["final_layer.linear.weight"].shape[0],
                 cap_ch=sd["y_embedder.y_proj.fc1.weight"].shape[1], text_len=sd["y_embedder.y_embedding"].shape[0],
                 mlp_ratio=sd["blocks.0.mlp.point_conv.conv.weight"].shape[1] // C,
                 freq_dim=sd["t_embedder.mlp.0.weight"].shape[1], pos_tokens=sd["pos_embed"].shape[1])
    cfg.softmax = {i for i in range(depth) if "blocks.%d.attn.beta_proj.weight" % i not in sd}
    return cfg


# ---------------------------------------------------------------------------------------------
# The forward for one chunk (§4.10). Activations are token-major [N, C], n = (t·Hl + h)·Wl + w.

def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def layernorm(x):
    return F.layer_norm(x, (x.shape[-1],), eps=1e-6)


def timestep_freq(tau, dim, dtype):
    half = dim // 2
    f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    a = float(int(tau)) * f  # integer-truncated timestep (§9.3)
    return torch.cat([torch.cos(a), torch.sin(a)]).to(dtype)


def rope_angles(D, f0, T, Hl, Wl):
    """Angles [T·Hl·Wl, D/2] in float64 for absolute frames f0..f0+T-1 (§4.4)."""
    hd = 2 * (D // 6)
    td = D - 2 * hd

    def omega(dim):
        return 1.0 / (10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float64)[: dim // 2] / dim))

    f = torch.arange(f0, f0 + T, dtype=torch.float64)
    h = torch.arange(Hl, dtype=torch.float64)
    w = torch.arange(Wl, dtype=torch.float64)
    at = torch.outer(f, omega(td))[:, None, None, :].expand(T, Hl, Wl, td // 2)
    ah = torch.outer(h, omega(hd))[None, :, None, :].expand(T, Hl, Wl, hd // 2)
    aw = torch.outer(w, omega(hd))[None, None, :, :].expand(T, Hl, Wl, hd // 2)
    return torch.cat([at, ah, aw], -1).reshape(T * Hl * Wl, D // 2)


def rope(x, ang):
    """Rotates interleaved pairs of x [N, H, D] by ang [N, D/2], in complex128 (§4.4)."""
    N, H, D = x.shape
    xc = torch.view_as_complex(x.double().reshape(N, H, D // 2, 2).contiguous())
    r = xc * torch.polar(torch.ones_like(ang), ang)[:, None, :]
    return torch.view_as_real(r).reshape(N, H, D).to(x.dtype)


def gdn_attn(W, p, u, ang, T, S, cfg, cache, save):
    """Gated DeltaNet, frame-wise, bidirectional inside the chunk (§4.5). State Ŝ is value × key."""
    N, C = u.shape
    H, D = cfg.heads, cfg.head_dim
    q = u @ W[p + "q.weight"][:, :, 0].t()                                     # [N, C]
    k = u @ W[p + "k.weight"][:, :, 0].t()                                     # [N, C]
    v = (u @ W[p + "v.weight"].t()).view(T, S, H, D)                           # [T, S, H, D]
    qh = F.relu(rmsnorm(q, W[p + "q_norm.weight"], 1e-5)).view(N, H, D)       # q̂
    kh = F.relu(rmsnorm(k, W[p + "k_norm.weight"], 1e-5)).view(N, H, D) * (D * S) ** -0.5  # k̂
    qr, kr = rope(qh, ang).view(T, S, H, D), rope(kh, ang).view(T, S, H, D)    # q̃, k̃
    qh, kh = qh.view(T, S, H, D), kh.view(T, S, H, D)
    beta = torch.sigmoid(u @ W[p + "beta_proj.weight"].t() + W[p + "beta_proj.bias"]).view(T, S, H)
    a = u.view(T, S, C).mean(1) @ W[p + "gate_proj.weight"].t() + W[p + "gate_proj.bias"]  # [T, H]
    g = torch.exp(-torch.exp(W[p + "A_log"]) * F.softplus(a + W[p + "dt_bias"]))           # [T, H]
    gate = (u @ W[p + "output_gate.weight"].t() + W[p + "output_gate.bias"]).view(T, S, H, D)
    S0 = cache["state_kv"].to(u.dtype) if "state_kv" in cache else u.new_zeros(H, D, D)
    z0 = cache["state_z"].to(u.dtype) if "state_z" in cache else u.new_zeros(H, D)
    o, Sx, zx = gdn_core(qh, qr, kh, kr, v, beta, g, gate, S0, z0)
    if save:
        cache["state_kv"], cache["state_z"] = Sx, zx  # forward-scan values only
    return o.reshape(N, C) @ W[p + "proj.weight"].t() + W[p + "proj.bias"]


def gdn_core(qh, qr, kh, kr, v, beta, g, gate, Sx, zx):
    """The chunk core (the backend op dit.gdn_chunk): features [T, S, H, D], beta [T, S, H],
    g [T, H], gate pre-activation [T, S, H, D], state Sx [H, Dv, Dk], zx [H, D]."""
    T = qh.shape[0]
    P = torch.einsum("tshk,tsh,tshj->thkj", kr, beta, kr)                      # [T, H, D, D]
    A = torch.einsum("tshv,tsh,tshk->thvk", v, beta, kr)                       # [T, H, Dv, Dk]
    Pz = torch.einsum("tshk,tsh,tshj->thkj", kh, beta, kh)
    b = torch.einsum("tsh,tshk->thk", beta, kh)                                # [T, H, D]
    Ms, zs = [], []
    for t in range(T):  # forward scan from the cached state
        Sx = g[t][:, None, None] * (Sx - Sx @ P[t]) + A[t]
        zx = g[t][:, None] * (zx - torch.einsum("hkj,hj->hk", Pz[t], zx)) + b[t]
        Ms.append(Sx)
        zs.append(zx)
    R, r = torch.zeros_like(Sx), torch.zeros_like(zx)
    for t in range(T - 1, -1, -1):  # reverse scan inside the chunk, from zero
        Ms[t], zs[t] = Ms[t] + R, zs[t] + r
        R = g[t][:, None, None] * (R - R @ P[t]) + A[t]
        r = g[t][:, None] * (r - torch.einsum("hkj,hj->hk", Pz[t], r)) + b[t]
    Mh, zh = torch.stack(Ms), torch.stack(zs)                                  # [T, H, D, D], [T, H, D]
    num = torch.einsum("thvk,tshk->tshv", Mh, qr)                              # rotated features
    den = torch.einsum("thk,tshk->tsh", zh, qh)                                # un-rotated features
    return num / (den[..., None] + 1e-8) * F.silu(gate), Sx, zx


def softmax_attn(W, p, u, ang, cfg, cache, save):
    """Gated softmax attention over [sink ‖ previous ‖ current] post-RoPE K/V (§4.6)."""
    N, C = u.shape
    H, D = cfg.heads, cfg.head_dim
    q = rmsnorm(u @ W[p + "q.weight"][:, :, 1].t(), W[p + "q_norm.weight"], 1e-5)  # centre tap only
    k = rmsnorm(u @ W[p + "k.weight"][:, :, 1].t(), W[p + "k_norm.weight"], 1e-5)
    v = (u @ W[p + "v.weight"].t()).view(N, H, D)
    q, k = rope(q.view(N, H, D), ang), rope(k.view(N, H, D), ang)
    K = torch.cat(cache.get("window_k", []) + [k])                             # [m, H, D]
    V = torch.cat(cache.get("window_v", []) + [v])
    att = torch.softmax(torch.einsum("nhd,mhd->hnm", q, K) / math.sqrt(D), -1)
    o = torch.einsum("hnm,mhd->nhd", att, V).reshape(N, C)
    o = o * F.silu(u @ W[p + "output_gate.weight"].t() + W[p + "output_gate.bias"])
    if save:
        cache["new_k"], cache["new_v"] = k, v
    return o @ W[p + "proj.weight"].t() + W[p + "proj.bias"]


def cross_attn(W, p, x, yk, bias, cfg):
    N, C = x.shape
    L = yk.shape[0]
    H, D = cfg.heads, cfg.head_dim
    q = rmsnorm(x @ W[p + "q_linear.weight"].t() + W[p + "q_linear.bias"], W[p + "q_norm.weight"], 1e-6)
    kv = yk @ W[p + "kv_linear.weight"].t() + W[p + "kv_linear.bias"]         # [L, 2C]
    k = rmsnorm(kv[:, :C], W[p + "k_norm.weight"], 1e-6).view(L, H, D)
    v = kv[:, C:].reshape(L, H, D)
    s = torch.einsum("nhd,mhd->hnm", q.view(N, H, D), k) / math.sqrt(D) + bias
    o = torch.einsum("hnm,mhd->nhd", torch.softmax(s, -1), v).reshape(N, C)
    return o @ W[p + "proj.weight"].t() + W[p + "proj.bias"]


def glumbconv_temp(W, p, u, T, Hl, Wl, cache, save):
    """GLUMBConv per frame, then the dense kernel-3 temporal conv with its one-frame cache (§4.8)."""
    N, C = u.shape
    S = Hl * Wl
    wi = W[p + "inverted_conv.conv.weight"]
    F2 = wi.shape[0]
    h = F.silu(u @ wi.view(F2, C).t() + W[p + "inverted_conv.conv.bias"])     # [N, 2F]
    h = h.view(T, Hl, Wl, F2).permute(0, 3, 1, 2)                              # [T, 2F, Hl, Wl]
    h = F.conv2d(h, W[p + "depth_conv.conv.weight"], W[p + "depth_conv.conv.bias"], padding=1, groups=F2)
    h = h.permute(0, 2, 3, 1).reshape(N, F2)
    h = h[:, : F2 // 2] * F.silu(h[:, F2 // 2:])                               # [N, F]
    s = (h @ W[p + "point_conv.conv.weight"].view(C, F2 // 2).t()).view(T, S, C)
    s_in = torch.cat([cache["tconv"][None].to(u.dtype), s]) if "tconv" in cache else s
    t = F.conv2d(s_in.permute(2, 0, 1)[None], W[p + "t_conv.weight"], padding=(1, 0))[0].permute(1, 2, 0)
    if "tconv" in cache:
        t = t[1:]
    if save:
        cache["new_tconv"] = s[-1]
    return (s + t).reshape(N, C)


def dit_forward(W, cfg, x, src, tau, y, mask, f0, caches, save, hook=None):
    """One chunk: x, src [Cin, T, Hl, Wl]; y [L, cap]; mask [L]; returns v [Cin, T, Hl, Wl]."""
    Cin, T, Hl, Wl = x.shape
    S, N, C = Hl * Wl, T * Hl * Wl, cfg.hidden
    dt = x.dtype
    u = torch.cat([x, src]).reshape(2 * Cin, N).t()                            # [N, 2Cin]
    h = u @ W["x_embedder.proj.weight"].view(C, 2 * Cin).t() + W["x_embedder.proj.bias"]  # [N, C]
    te = timestep_freq(tau, cfg.freq_dim, dt).to(x.device)                     # [256]
    te = F.silu(te @ W["t_embedder.mlp.0.weight"].t() + W["t_embedder.mlp.0.bias"])
    te = te @ W["t_embedder.mlp.2.weight"].t() + W["t_embedder.mlp.2.bias"]   # [C]
    t0 = (F.silu(te) @ W["t_block.1.weight"].t() + W["t_block.1.bias"]).view(6, C)
    yk = F.gelu(y @ W["y_embedder.y_proj.fc1.weight"].t() + W["y_embedder.y_proj.fc1.bias"], approximate="tanh")
    yk = yk @ W["y_embedder.y_proj.fc2.weight"].t() + W["y_embedder.y_proj.fc2.bias"]
    yk = rmsnorm(yk, W["attention_y_norm.weight"], 1e-5)                       # [L, C]
    bias = (1 - mask.to(dt)) * -10000.0                                        # [L]
    ang = rope_angles(cfg.head_dim, f0, T, Hl, Wl).to(x.device)
    for i in range(cfg.depth):
        p = "blocks.%d." % i
        m = W[p + "scale_shift_table"] + t0                                    # [6, C]
        a_in = layernorm(h) * (1 + m[1]) + m[0]
        if i in cfg.softmax:
            a = softmax_attn(W, p + "attn.", a_in, ang, cfg, caches[i], save)
        else:
            a = gdn_attn(W, p + "attn.", a_in, ang, T, S, cfg, caches[i], save)
        h = h + m[2] * a
        h = h + cross_attn(W, p + "cross_attn.", h, yk, bias, cfg)
        f_in = layernorm(h) * (1 + m[4]) + m[3]
        h = h + m[5] * glumbconv_temp(W, p + "mlp.", f_in, T, Hl, Wl, caches[i], save)
        if hook:
            hook(i, h)
    tbl = W["final_layer.scale_shift_table"]
    o = layernorm(h) * (1 + (tbl[1] + te)) + (tbl[0] + te)
    v = o @ W["final_layer.linear.weight"].t() + W["final_layer.linear.bias"]  # [N, Cin]
    return v.t().reshape(Cin, T, Hl, Wl)


# ---------------------------------------------------------------------------------------------
# The streaming sampler (§3.4, §3.5, §5)

def chunk_bounds(frames):
    b = [0]
    for f in frames:
        b.append(b[-1] + f)
    return b


def euler_dt(i):
    """bf16(σ_{i+1} − σ_i), the step size rounded as upstream's 0-dim fp32 tensor times bf16 v."""
    s = torch.tensor(SIGMAS, dtype=torch.float32)
    return float((s[i + 1] - s[i]).to(torch.bfloat16).float())


def run_stream(W, cfg, noise, src, y, mask, frames, rec=None, block_steps=(0,)):
    """Runs every chunk; rec (a dict) receives velocities, chunk results, per-block outputs of the
    denoising steps in block_steps and the cache contents after each cache pass."""
    dt = noise.dtype
    lat = noise.clone()
    b = chunk_bounds(frames)
    caches = [dict() for _ in range(cfg.depth)]
    kv_by_chunk = [dict() for _ in range(cfg.depth)]  # softmax blocks: chunk -> (k, v)
    for c in range(len(frames)):
        s, e = b[c], b[c + 1]
        for i in cfg.softmax:  # window: sink (chunk 0) + previous chunk (§5.2)
            valid = [0, c - 1] if c - 1 > 0 else list(range(max(c - 2, 0), c))
            caches[i]["window_k"] = [kv_by_chunk[i][j][0] for j in valid]
            caches[i]["window_v"] = [kv_by_chunk[i][j][1] for j in valid]
            for j in list(kv_by_chunk[i]):
                if j not in valid:
                    del kv_by_chunk[i][j]
        x = lat[:, s:e].clone()
        for step, tau in enumerate(TIMESTEPS):
            hook = None
            if rec is not None and step in block_steps:
                def hook(i, h, c=c, step=step):
                    rec["chunk%d.step%d.blocks.%d" % (c, step, i)] = h.clone()
            v = dit_forward(W, cfg, x, src[:, s:e], tau, y, mask, s, caches, False, hook)
            x = x + euler_dt(step) * v
            if rec is not None:
                rec["chunk%d.v%d" % (c, step)] = v.clone()
        lat[:, s:e] = x
        if rec is not None:
            rec["chunk%d.x" % c] = x.clone()
        if c == len(frames) - 1:
            break
        dit_forward(W, cfg, x, src[:, s:e], 0, y, mask, s, caches, True)  # the t = 0 cache pass
        for i in range(cfg.depth):
            cb = caches[i]
            cb["tconv"] = cb.pop("new_tconv")
            pre = "chunk%d.cache.blocks.%d." % (c, i)
            if i in cfg.softmax:
                kv_by_chunk[i][c] = (cb.pop("new_k"), cb.pop("new_v"))
                if rec is not None:
                    rec[pre + "k"] = kv_by_chunk[i][c][0].reshape(-1, cfg.hidden).clone()
                    rec[pre + "v"] = kv_by_chunk[i][c][1].reshape(-1, cfg.hidden).clone()
            elif rec is not None:
                rec[pre + "state_kv"] = cb["state_kv"].clone()
                rec[pre + "state_z"] = cb["state_z"].clone()
            if rec is not None:
                rec[pre + "tconv"] = cb["tconv"].clone()
    if rec is not None:
        rec["latents"] = lat.clone()
    return lat


# ---------------------------------------------------------------------------------------------
# Commands

def make_inputs(cfg, frames, Hl, Wl, text_len, valid, seed):
    g = torch.Generator().manual_seed(seed)
    T = sum(frames)
    bf = lambda t: t.to(torch.bfloat16).float()  # bf16-valued, so a bf16 engine reads them exactly
    mask = torch.zeros(text_len, dtype=torch.int64)
    mask[:valid] = 1
    return {
        "noise": bf(torch.randn(cfg.in_ch, T, Hl, Wl, generator=g)),
        "source": bf(torch.randn(cfg.in_ch, T, Hl, Wl, generator=g)),
        "text": bf(torch.randn(text_len, cfg.cap_ch, generator=g)),
        "mask": mask,
        "chunk_frames": torch.tensor(frames, dtype=torch.int64),
    }


def run_inputs(sd, inp, dtype, device="cpu", rec=None, block_steps=(0,)):
    cfg = detect_config(sd)
    W = {k: v.to(device=device, dtype=dtype) for k, v in sd.items()}
    f = lambda n: inp[n].to(device=device, dtype=dtype)
    return cfg, run_stream(W, cfg, f("noise"), f("source"), f("text"), inp["mask"].to(device),
                           inp["chunk_frames"].tolist(), rec, block_steps)


def cmd_fixtures(out, fp64=False):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    cfg = Config(depth=4, hidden=64, head_dim=32, in_ch=32, cap_ch=64, text_len=40, pos_tokens=16)
    sd = random_state_dict(cfg, seed=20261128)
    torch.save(sd, os.path.join(out, "dit_tiny.pth"))
    inp = make_inputs(cfg, [5, 3, 3], Hl=4, Wl=6, text_len=40, valid=27, seed=7)
    write_safetensors(os.path.join(out, "inputs.safetensors"), inp)
    rec = {}
    run_inputs(sd, inp, torch.float64 if fp64 else torch.float32, rec=rec)
    write_safetensors(os.path.join(out, "expected.safetensors"), {k: v.float() for k, v in rec.items()})
    write_safetensors(os.path.join(out, "ops.safetensors"), make_op_cases())
    # uneven chunks (a 3-frame chunk after a 1-frame one): velocities and results only
    inp["chunk_frames"] = torch.tensor([4, 1, 3, 3], dtype=torch.int64)
    write_safetensors(os.path.join(out, "inputs_uneven.safetensors"), inp)
    rec = {}
    run_inputs(sd, inp, torch.float64 if fp64 else torch.float32, rec=rec, block_steps=())
    write_safetensors(os.path.join(out, "expected_uneven.safetensors"),
                      {k: v.float() for k, v in rec.items() if ".cache." not in k})
    print("wrote %s" % out)


def make_op_cases(seed=5):
    """Inputs and PyTorch outputs of the backend's dit ops (tests/dit/test_dit_ops.c)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g)
    o = {}
    T, Hl, Wl, C = 3, 2, 3, 5
    S = Hl * Wl
    o["tconv.s"], o["tconv.w"], o["tconv.prev"] = r(T, S, C), r(C, C, 3, 1), r(S, C)
    for name, prev in (("tconv.y_prev", o["tconv.prev"]), ("tconv.y", None)):
        s_in = torch.cat([prev[None], o["tconv.s"]]) if prev is not None else o["tconv.s"]
        t = F.conv2d(s_in.permute(2, 0, 1)[None], o["tconv.w"], padding=(1, 0))[0].permute(1, 2, 0)
        o[name] = o["tconv.s"] + (t[1:] if prev is not None else t)
    x, w, b = r(2, 3, 4, 5), r(5, 1, 3, 3), r(5)
    o["dwconv.x"], o["dwconv.w"], o["dwconv.b"] = x.reshape(24, 5), w, b
    o["dwconv.y"] = F.conv2d(x.permute(0, 3, 1, 2), w, b, padding=1, groups=5).permute(0, 2, 3, 1).reshape(24, 5)
    o["glu.x"] = r(7, 8)
    o["glu.y"] = o["glu.x"][:, :4] * F.silu(o["glu.x"][:, 4:])
    o["frame_mean.x"] = r(12, 5)
    o["frame_mean.y"] = o["frame_mean.x"].view(3, 4, 5).mean(1)
    T, S, H, D = 3, 5, 2, 6
    kappa = (D * S) ** -0.5
    gd = {"qh": F.relu(r(T, S, H, D)), "kh": F.relu(r(T, S, H, D)) * kappa, "v": r(T, S, H, D),
          "beta": torch.sigmoid(r(T, S, H)), "g": torch.rand(T, H, generator=g) * 0.9 + 0.05,
          "gate": r(T, S, H, D), "state_kv": r(H, D, D) * 0.3, "state_z": torch.rand(H, D, generator=g)}
    ang = torch.rand(T * S, D // 2, generator=g, dtype=torch.float64) * 6.28
    gd["qr"] = rope(gd["qh"].reshape(T * S, H, D), ang).view(T, S, H, D)
    gd["kr"] = rope(gd["kh"].reshape(T * S, H, D), ang).view(T, S, H, D)
    out, Sx, zx = gdn_core(gd["qh"], gd["qr"], gd["kh"], gd["kr"], gd["v"], gd["beta"], gd["g"], gd["gate"],
                           gd["state_kv"], gd["state_z"])
    for k, v in gd.items():
        o["gdn." + k] = v
    o["gdn.o"], o["gdn.state_kv_out"], o["gdn.state_z_out"] = out, Sx, zx
    o["timestep.961"] = timestep_freq(961, 256, torch.float32)
    o["timestep.0"] = timestep_freq(0, 256, torch.float32)
    ang = rope_angles(32, 5, 2, 2, 3)  # head dim 32, frames 5..6, grid 2×3
    o["rope.cos"], o["rope.sin"] = torch.cos(ang).float(), torch.sin(ang).float()
    return {k: v.float() for k, v in o.items()}


def cmd_full(out, device):
    """A full-size random checkpoint and one chunk's first denoising pass (GPU machine)."""
    import time
    t0 = time.time()
    os.makedirs(out, exist_ok=True)
    cfg = Config()
    sd = random_state_dict(cfg, seed=2261305008)
    print("params: %d (%.0f s)" % (sum(v.numel() for v in sd.values()), time.time() - t0), flush=True)
    inp = make_inputs(cfg, [5], Hl=22, Wl=40, text_len=300, valid=120, seed=11)
    write_safetensors(os.path.join(out, "inputs.safetensors"), inp)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    W = {k: v.to(device=device, dtype=torch.float32) for k, v in sd.items()}
    f = lambda n: inp[n].to(device=device, dtype=torch.float32)
    caches = [dict() for _ in range(cfg.depth)]
    v = dit_forward(W, cfg, f("noise"), f("source"), TIMESTEPS[0], f("text"), inp["mask"].to(device), 0, caches, False)
    write_safetensors(os.path.join(out, "expected.safetensors"), {"chunk0.v0": v.float().cpu()})
    print("reference forward done (%.0f s)" % (time.time() - t0), flush=True)
    del W
    torch.save(sd, os.path.join(out, "dit_full.pth"))
    print("saved dit_full.pth (%.0f s)" % (time.time() - t0), flush=True)


def main(argv):
    if len(argv) >= 3 and argv[1] == "fixtures":
        cmd_fixtures(argv[2], "--fp64" in argv)
    elif len(argv) >= 3 and argv[1] == "full":
        cmd_full(argv[2], argv[argv.index("--device") + 1] if "--device" in argv else "cpu")
    elif len(argv) >= 5 and argv[1] == "run":  # run WEIGHTS.pth INPUTS.safetensors OUT.safetensors
        rec = {}
        run_inputs(torch.load(argv[2]), read_safetensors(argv[3]), torch.float32, rec=rec, block_steps=())
        write_safetensors(argv[4], {k: v.float() for k, v in rec.items() if ".cache." not in k})
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
