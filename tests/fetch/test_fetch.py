#!/usr/bin/python3
"""`sana fetch` against tests/fetch/mock_hub.py on 127.0.0.1: a full download of the three
components (a gated one with a token), a second run that finds everything in place, resume
after a dropped connection and after an interrupted run, a checksum mismatch refused with
nothing left under the final name, a gated repo without a token, and an unreachable endpoint.

No network beyond loopback: the endpoint is 127.0.0.1, and every proxy variable points at a
closed loopback port with NO_PROXY covering 127.0.0.1 only, so a request to any other host fails.
Run by CTest with SANA_BIN set to the `sana` executable."""
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mock_hub import Hub  # noqa: E402

SANA = os.environ["SANA_BIN"]
DIT = ("Efficient-Large-Model/SANA-Streaming", "dit/sana_streaming_ar.pth")
VAE_W = ("Lightricks/LTX-2", "vae/diffusion_pytorch_model.safetensors")
GEMMA = "Efficient-Large-Model/gemma-2-2b-it"
TOKEN = "hf_test_token_123"

failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += not cond


def blob(n, seed):
    return random.Random(seed).randbytes(n)


def make_hub():
    files = {
        DIT: blob(300_001, 1),
        ("Efficient-Large-Model/SANA-Streaming", "dit/other.pth"): blob(10, 2),
        ("Efficient-Large-Model/SANA-Streaming", "README.md"): b"# SANA-Streaming\n",
        ("Lightricks/LTX-2", "vae/config.json"): b'{"_class_name": "AutoencoderKLLTX2Video"}\n',
        VAE_W: blob(200_000, 3),
        ("Lightricks/LTX-2", "transformer/model.safetensors"): blob(50, 4),
        (GEMMA, "config.json"): b'{"model_type": "gemma2"}\n',
        (GEMMA, "model.safetensors"): blob(120_000, 5),
        (GEMMA, "tokenizer.json"): b'{"version": "1.0"}\n',
        (GEMMA, "tokenizer_config.json"): b'{"add_bos_token": true}\n',
        (GEMMA, "README.md"): b"gemma\n",
        (GEMMA, ".gitattributes"): b"*.safetensors filter=lfs\n",
    }
    return Hub(files, gated={GEMMA: TOKEN})


def run(args, home, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("HF_")}
    env.update({"HOME": home, "XDG_CACHE_HOME": os.path.join(home, "cache"),
                "ALL_PROXY": "socks5h://127.0.0.1:9", "HTTPS_PROXY": "socks5h://127.0.0.1:9",
                "http_proxy": "socks5h://127.0.0.1:9", "NO_PROXY": "127.0.0.1"})
    env.pop("SANA_WEIGHTS", None)
    env.update(extra_env or {})
    p = subprocess.run([SANA, "fetch", "--progress", "lines"] + args, env=env, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stderr


def expect_files(hub, d, label):
    want = {"dit/sana_streaming_ar.pth": hub.files[DIT],
            "vae/config.json": hub.files[("Lightricks/LTX-2", "vae/config.json")],
            "vae/diffusion_pytorch_model.safetensors": hub.files[VAE_W]}
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        want["text_encoder/" + name] = hub.files[(GEMMA, name)]
    got = {}
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            got[os.path.relpath(p, d)] = open(p, "rb").read()
    check(sorted(got) == sorted(want), "%s: exactly the wanted files (%s)" % (label, ", ".join(sorted(got))))
    check(all(got.get(k) == v for k, v in want.items()), "%s: every file byte-identical to the hub's" % label)


def main():
    tmp = tempfile.mkdtemp(prefix="sana_fetch_")
    hub = make_hub()
    try:
        # 1. Full download: endpoint from HF_ENDPOINT, token from HF_TOKEN.
        d = os.path.join(tmp, "w1")
        rc, err = run(["--dir", d], tmp, {"HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN})
        print(err)
        check(rc == 0, "full download exits 0")
        expect_files(hub, d, "full download")
        check("7 downloaded, 0 resumed, 0 already present, 0 failed" in err, "summary counts 7 downloads")
        lfs = hub.requests("/cdn-lfs/")
        check(len(lfs) == 3 and all(r[3] is None for r in lfs),
              "weights come through the CDN redirect (another port), without the Authorization header")
        gem = [r for r in hub.requests("/" + GEMMA + "/resolve/")]
        check(gem and all(r[3] == "Bearer " + TOKEN for r in gem), "the gated repo gets the token")
        check(not any("/other.pth" in r[1] or "transformer" in r[1] or "README" in r[1] for r in hub.log),
              "nothing unwanted is fetched")

        # 2. Again: everything present and verified, no file transfer.
        n_before = len(hub.requests("/cdn-lfs/")) + len(hub.requests("/" + GEMMA + "/resolve/"))
        rc, err = run(["--dir", d, "--endpoint", hub.url, "--token", TOKEN], tmp)
        n_after = len(hub.requests("/cdn-lfs/")) + len(hub.requests("/" + GEMMA + "/resolve/"))
        check(rc == 0 and "0 downloaded, 0 resumed, 7 already present" in err and n_after == n_before,
              "second run: all 7 files already present, none transferred")

        # 3. The server drops the connection halfway through the DiT: resumed with a Range request.
        hub.cut.add(DIT)
        d = os.path.join(tmp, "w3")
        hub.log.clear()
        rc, err = run(["--dir", d, "--endpoint", hub.url, "--only", "dit"], tmp)
        print(err)
        ranges = [r[2] for r in hub.requests("/cdn-lfs/") if r[2]]
        half = len(hub.files[DIT]) // 2
        check(rc == 0 and open(os.path.join(d, "dit/sana_streaming_ar.pth"), "rb").read() == hub.files[DIT],
              "cut transfer: the file completes and matches")
        check(ranges == ["bytes=%d-" % half], "cut transfer: resumed with Range bytes=%d- (saw %s)" % (half, ranges))
        check("dropped" in err and "resuming" in err, "cut transfer: the drop is reported")
        check(not os.path.exists(os.path.join(d, "dit/sana_streaming_ar.pth.part")), "cut transfer: no .part left")

        # 4. An interrupted earlier run left a .part: the next run continues it.
        d = os.path.join(tmp, "w4")
        os.makedirs(os.path.join(d, "vae"))
        k = 70_000
        with open(os.path.join(d, "vae/diffusion_pytorch_model.safetensors.part"), "wb") as f:
            f.write(hub.files[VAE_W][:k])
        hub.log.clear()
        rc, err = run(["--dir", d, "--endpoint", hub.url, "--only", "vae"], tmp)
        ranges = [r[2] for r in hub.requests("/cdn-lfs/")]
        check(rc == 0 and "1 resumed" in err and ranges == ["bytes=%d-" % k], "partial file resumed from byte %d (%s)" % (k, ranges))
        check(open(os.path.join(d, "vae/diffusion_pytorch_model.safetensors"), "rb").read() == hub.files[VAE_W],
              "resumed file matches")

        # 5. The server sends a corrupted DiT: refused, nothing under the final name, no .part.
        hub.corrupt.add(DIT)
        d = os.path.join(tmp, "w5")
        rc, err = run(["--dir", d, "--endpoint", hub.url, "--only", "dit"], tmp)
        print(err)
        check(rc == 1 and "checksum mismatch" in err and "SHA-256" in err, "corrupted download refused with a clear message")
        check(not os.path.exists(os.path.join(d, "dit/sana_streaming_ar.pth")) and
              not os.path.exists(os.path.join(d, "dit/sana_streaming_ar.pth.part")), "no file left under the final name")
        hub.corrupt.clear()

        # 5b. A stale .part from another version of the file: one fresh retry fixes it.
        d = os.path.join(tmp, "w5b")
        os.makedirs(os.path.join(d, "dit"))
        with open(os.path.join(d, "dit/sana_streaming_ar.pth.part"), "wb") as f:
            f.write(b"\0" * 1000)
        rc, err = run(["--dir", d, "--endpoint", hub.url, "--only", "dit"], tmp)
        check(rc == 0 and "from the start" in err and
              open(os.path.join(d, "dit/sana_streaming_ar.pth"), "rb").read() == hub.files[DIT],
              "a stale partial file is detected and downloaded again from zero")

        # 6. The gated repo without a token: a message that says what to do.
        d = os.path.join(tmp, "w6")
        rc, err = run(["--dir", d, "--endpoint", hub.url, "--only", "text"], tmp)
        print(err)
        check(rc == 1 and "HTTP 401" in err and "HF_TOKEN" in err and not os.path.exists(d),
              "gated repo without a token: refused, says to pass a token, writes nothing")

        # 6b. The token file of huggingface_hub is used when no token is given.
        os.makedirs(os.path.join(tmp, "hfhome"), exist_ok=True)
        with open(os.path.join(tmp, "hfhome", "token"), "w") as f:
            f.write(TOKEN + "\n")
        rc, err = run(["--dir", d, "--endpoint", hub.url, "--only", "text"], tmp, {"HF_HOME": os.path.join(tmp, "hfhome")})
        check(rc == 0 and os.path.exists(os.path.join(d, "text_encoder/model.safetensors")), "token read from $HF_HOME/token")

        # 7. Default directory: $XDG_CACHE_HOME/sana.
        rc, err = run(["--endpoint", hub.url, "--only", "vae"], tmp)
        check(rc == 0 and os.path.exists(os.path.join(tmp, "cache", "sana", "vae", "config.json")),
              "default directory is $XDG_CACHE_HOME/sana")

        # 8. Nothing listens: a clear error, nothing written.
        d = os.path.join(tmp, "w8")
        rc, err = run(["--dir", d, "--endpoint", "http://127.0.0.1:9", "--only", "vae"], tmp)
        print(err)
        check(rc == 1 and "127.0.0.1:9" in err and not os.path.exists(d), "unreachable endpoint: clear error")
        rc, err = run(["--dir", d, "--endpoint", hub.url, "--only", "nope"], tmp)
        check(rc == 2, "--only with an unknown component is a usage error")

        hosts = {r[1] for r in hub.log}
        check(all(h.startswith("/") for h in hosts), "every request reached the loopback hub")
    finally:
        hub.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_fetch: %s" % ("passed" if not failures else "%d failed" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
