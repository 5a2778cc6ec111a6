#!/usr/bin/env bash
# On the GPU machine: build sana_vae_time, write a full-size random LTX-2 VAE, and time the
# VAE alone at 1280x704 (33 then 24 frames per chunk), then once more with a per-op profile;
# SANA_CUDNN=0 in the environment times the backend's own conv kernel instead. Needs
# .devcarry/cuda/debs (see tools/gpu/build.sh). Logs under $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/sana-vae-time}
mkdir -p "$out"
python3 -c "
import sys; sys.path.insert(0, 'tools/reference'); import ltx2_vae as m
m.write_vae_dir('/tmp/sana_vae_full', m.LTX2_CONFIG, m.random_weights(m.LTX2_CONFIG, 3))" >"$out/gen.log" 2>&1 &
gen=$!
TARGETS=sana_vae_time tools/gpu/build.sh >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
grep "sana:\|build.sh:" "$out/build.log"
wait $gen || { tail -5 "$out/gen.log"; exit 1; }
. build-gpu/env.sh
nvidia-smi --query-gpu=name --format=csv,noheader
build-gpu/sana_vae_time /tmp/sana_vae_full --chunks "${CHUNKS:-4}" 2>&1 | tee "$out/vae_time.txt"
build-gpu/sana_vae_time /tmp/sana_vae_full --chunks 2 --profile 2>&1 | tee "$out/vae_profile.txt"
