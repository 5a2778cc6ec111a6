"""Reference values for the core backend ops (backend/backend.h), computed with PyTorch's own
fp32 functions (F.linear, F.layer_norm, softmax, ...), independent of our C code.

Regenerate:  /usr/bin/python3 tools/reference/core_ops_fixture.py tests/fixtures/core/ops.safetensors
"""
import math
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import st  # noqa: E402

torch.manual_seed(1234)
T = {}


def r(*shape, scale=1.0):
    return torch.randn(*shape, dtype=torch.float64).float() * scale


# linear with bias and each fused activation
x, w, b = r(37, 48), r(20, 48, scale=0.2), r(20)
T["linear.x"], T["linear.w"], T["linear.b"] = x, w, b
T["linear.none"] = F.linear(x, w, b)
T["linear.silu"] = F.silu(F.linear(x, w, b))
T["linear.gelu_tanh"] = F.gelu(F.linear(x, w, b), approximate="tanh")
T["linear.nobias_relu"] = F.relu(F.linear(x, w))

# unary activations
u = r(1000, scale=4.0)
T["unary.x"] = u
T["unary.silu"] = F.silu(u)
T["unary.gelu_tanh"] = F.gelu(u, approximate="tanh")
T["unary.sigmoid"] = torch.sigmoid(u)
sp_x = r(1000, scale=12.0)  # crosses PyTorch's softplus threshold of 20
T["unary.softplus_in"], T["unary.softplus"] = sp_x, F.softplus(sp_x)

# binary with the repeat rule (b repeated over a)
a, bb = r(6, 5, 8), r(5, 8)
T["binary.a"], T["binary.b"] = a, bb
T["binary.add"], T["binary.mul"], T["binary.sub"] = a + bb, a * bb, a - bb

# layernorm (no affine, eps 1e-6) then (1 + scale) and shift
x, sh, sc = r(9, 64, scale=3.0) + 1.5, r(64), r(64, scale=0.5)
T["ln.x"], T["ln.shift"], T["ln.scale"] = x, sh, sc
T["ln.y"] = F.layer_norm(x, (64,), eps=1e-6) * (1 + sc) + sh
T["ln.plain"] = F.layer_norm(x, (64,), eps=1e-6)

# rmsnorm: SANA's (w) and Gemma's (1 + w)
x, rw = r(7, 96, scale=2.0), r(96, scale=0.3)
inv = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)
T["rms.x"], T["rms.w"] = x, rw
T["rms.y"] = x * inv * rw
inv6 = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
T["rms.gemma"] = x * inv6 * (1 + rw)

# gated residual
x, g, y = r(5, 32), r(32), r(5, 32)
T["gadd.x"], T["gadd.g"], T["gadd.y"], T["gadd.out"] = x, g, y, x + g * y


def attn(q, k, v, scale, bias=None, softcap=0.0, causal=False, window=0):
    n, H, D = q.shape
    m, Hk, _ = k.shape
    rep = H // Hk
    k = k.repeat_interleave(rep, dim=1)
    v = v.repeat_interleave(rep, dim=1)
    s = torch.einsum("nhd,mhd->hnm", q.double(), k.double()) * scale
    if softcap > 0:
        s = softcap * torch.tanh(s / softcap)
    if bias is not None:
        s = s + bias.double()
    if causal:
        i = torch.arange(n)[:, None]
        j = torch.arange(m)[None, :]
        lim = i + (m - n)
        bad = j > lim
        if window > 0:
            bad = bad | (j <= lim - window)
        s = s.masked_fill(bad, float("-inf"))
    p = torch.softmax(s, dim=-1)
    return torch.einsum("hnm,mhd->nhd", p, v.double()).float()


# cross-attention style: key bias from a padding mask (-10000 on padded keys)
q, k, v = r(11, 4, 16), r(23, 4, 16), r(23, 4, 16)
mask = torch.ones(23)
mask[17:] = 0
bias = (1 - mask) * -10000.0
T["att.q"], T["att.k"], T["att.v"], T["att.bias"] = q, k, v, bias
T["att.out"] = attn(q, k, v, 1 / math.sqrt(16), bias=bias)
# more keys than one score block (query block is 128 rows): 300 queries over 700 keys
q, k, v = r(300, 2, 8), r(700, 2, 8), r(700, 2, 8)
T["att2.q"], T["att2.k"], T["att2.v"] = q, k, v
T["att2.out"] = attn(q, k, v, 0.3)
# Gemma style: GQA 4 heads over 2 kv heads, softcap, causal with a sliding window
q, k, v = r(13, 4, 8, scale=3), r(13, 2, 8, scale=3), r(13, 2, 8)
T["att3.q"], T["att3.k"], T["att3.v"] = q, k, v
T["att3.out"] = attn(q, k, v, 8 ** -0.5, softcap=5.0, causal=True, window=4)

# rope: interleaved pairs (SANA) and rotate_half (Gemma)
x = r(6, 3, 10)
ang = r(6, 5)
T["rope.x"], T["rope.cos"], T["rope.sin"] = x, ang.cos(), ang.sin()
xc = torch.view_as_complex(x.double().reshape(6, 3, 5, 2).contiguous())
rot = xc * torch.polar(torch.ones_like(ang.double()), ang.double())[:, None, :]
T["rope.inter"] = torch.view_as_real(rot).reshape(6, 3, 10).float()
c, s_ = ang.cos()[:, None, :].repeat(1, 1, 2), ang.sin()[:, None, :].repeat(1, 1, 2)
x1, x2 = x[..., :5], x[..., 5:]
T["rope.half"] = x * c + torch.cat([-x2, x1], dim=-1) * s_

st.save(sys.argv[1], T)
print("wrote", sys.argv[1], len(T), "tensors")
