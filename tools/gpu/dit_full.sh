#!/usr/bin/env bash
# Full-size DiT check on the GPU machine (docs/dit.md): a random 2.26 B-parameter bf16 .pth from
# our reference, the reference's first denoising pass of one 5-frame chunk on the GPU (fp32,
# TF32 off), and the same pass by `sana dit-run --steps 1` on the C CPU backend (fp32, all
# cores; BACKEND=cuda runs it on the CUDA backend in bf16 instead); prints the NMSE. Logs go to $OUT. Needs the carried Debian debs (tools/gpu/build.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/dit_full_out}
work=/tmp/dit_full
mkdir -p "$work" "$out"
t0=$(date +%s)
(TARGETS="sana" tools/gpu/build.sh >"$out/build.log" 2>&1; echo "build rc=$?" >>"$out/build.log") &
bpid=$!
PYTHONUNBUFFERED=1 python3 tools/reference/sana_dit.py full "$work" --device cuda 2>&1 | tee "$out/ref.log"
wait $bpid
tail -2 "$out/build.log"
echo "reference + build: $(( $(date +%s) - t0 )) s"
. build-gpu/env.sh
t1=$(date +%s)
build-gpu/sana dit-run --weights "$work/dit_full.pth" --inputs "$work/inputs.safetensors" \
  --out "$work/c_out.safetensors" --steps 1 ${BACKEND:+--backend $BACKEND} 2>&1 | tee "$out/c.log"
echo "sana dit-run (load + 1 forward, ${BACKEND:-cpu}): $(( $(date +%s) - t1 )) s"
python3 - "$work" <<'PY' 2>&1 | tee "$out/compare.log"
import sys
sys.path.insert(0, "tools/reference")
from st import load
a, b = load(sys.argv[1] + "/c_out.safetensors"), load(sys.argv[1] + "/expected.safetensors")
for k in b:
    x, y = a[k].double(), b[k].double()
    print("%s %s nmse %.3e  max|diff| %.3e  rms(ref) %.3e" % (k, tuple(y.shape), float(((x - y) ** 2).sum() / (y ** 2).sum()),
          float((x - y).abs().max()), float(y.pow(2).mean().sqrt())))
PY
