#!/usr/bin/python3
"""Writes a complete tiny random model in the official formats (docs/weights.md layout), for the
CLI, stream and server tests on CPU. Its output is noise: the weights are random.

    /usr/bin/python3 tools/reference/make_tiny_model.py OUTDIR TOKENIZER_JSON [--full [--gemma-layers N]]

  OUTDIR/dit/sana_streaming_ar.pth       SANA-Streaming DiT, depth 4 (one softmax block), 64 wide
  OUTDIR/vae/                            LTX-2 VAE with the real layer structure, widths / 32
  OUTDIR/text_encoder/                   Gemma-2 (HF layout, 2 layers, 64 wide, the real 256k vocab)
                                         + the real tokenizer.json (copied from TOKENIZER_JSON)
--full writes the real sizes instead (DiT 2240 wide x 20 blocks, the LTX-2 VAE, Gemma-2-2B with
--gemma-layers layers, default 26), random too: what `sana bench` runs on the GPU machine.
The three agree on the interfaces: latent channels (VAE 4 = DiT in/out) and caption width
(Gemma hidden 64 = DiT caption channels).
"""
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ltx2_vae  # noqa: E402
import sana_dit  # noqa: E402
import st  # noqa: E402

GEMMA_HIDDEN = 64


def gemma(out, seed=5, full=False, layers=26):
    cfg = {
        "architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2",
        "vocab_size": 256000, "hidden_size": GEMMA_HIDDEN, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "query_pre_attn_scalar": 16, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "sliding_window": 4096,
        "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
        "hidden_activation": "gelu_pytorch_tanh", "attention_bias": False,
        "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0, "torch_dtype": "bfloat16",
    }
    if full:
        cfg.update(hidden_size=2304, intermediate_size=9216, num_hidden_layers=layers, num_attention_heads=8,
                   num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256)
    g = torch.Generator().manual_seed(seed)
    H, I, D = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * D, cfg["num_key_value_heads"] * D
    sd = {"model.embed_tokens.weight": torch.randn(cfg["vocab_size"], H, generator=g) * 0.5,
          "model.norm.weight": torch.randn(H, generator=g) * 0.1}
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        for name, shape in [("self_attn.q_proj", (q, H)), ("self_attn.k_proj", (kv, H)), ("self_attn.v_proj", (kv, H)),
                            ("self_attn.o_proj", (H, q)), ("mlp.gate_proj", (I, H)), ("mlp.up_proj", (I, H)),
                            ("mlp.down_proj", (H, I))]:
            sd[p + name + ".weight"] = torch.randn(*shape, generator=g) / shape[1] ** 0.5
        for name in ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                     "post_feedforward_layernorm"]:
            sd[p + name + ".weight"] = torch.randn(H, generator=g) * 0.1
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    st.save(os.path.join(out, "model.safetensors"), {k: v.bfloat16() for k, v in sd.items()})
    return cfg, sd


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    out, tok, full = argv[1], argv[2], "--full" in argv
    layers = int(argv[argv.index("--gemma-layers") + 1]) if "--gemma-layers" in argv else 26
    vcfg = ltx2_vae.LTX2_CONFIG if full else ltx2_vae.SMALL_CONFIG
    ltx2_vae.write_vae_dir(os.path.join(out, "vae"), vcfg, ltx2_vae.random_weights(vcfg, 3))
    if full:
        dcfg = sana_dit.Config()
    else:
        dcfg = sana_dit.Config(depth=4, hidden=64, head_dim=32, in_ch=vcfg["latent_channels"], cap_ch=GEMMA_HIDDEN,
                               text_len=300, pos_tokens=16)
    os.makedirs(os.path.join(out, "dit"), exist_ok=True)
    sd = sana_dit.random_state_dict(dcfg, seed=4)
    torch.save(sd, os.path.join(out, "dit", "sana_streaming_ar.pth"))  # bf16, as released
    gemma(os.path.join(out, "text_encoder"), full=full, layers=layers)
    shutil.copyfile(tok, os.path.join(out, "text_encoder", "tokenizer.json"))
    with open(os.path.join(out, "README.txt"), "w") as f:
        f.write("Tiny RANDOM model written by tools/reference/make_tiny_model.py: its output is noise.\n")
    print("wrote tiny random model to", out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
