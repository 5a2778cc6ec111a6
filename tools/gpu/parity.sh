#!/usr/bin/env bash
# Whole-model parity (issue 6), on the GPU machine: random full-size models in the official
# formats from our reference scripts, our CUDA backend (bf16) and our fp32 PyTorch reference
# (on the GPU, TF32 off) on the same inputs, and one table of NMSE (sum((a-b)^2)/sum(b^2)):
#   - DiT (depth 20, 2240 wide), 3 chunks of 5 + 3 + 3 latent frames at 22x40, 300 text tokens:
#     every velocity (4 passes per chunk), each chunk's result, the caches after each cache pass
#     (GDN states, t-conv frames, softmax K/V), and per block of each first pass (details);
#   - VAE (the LTX-2 config) at 1280x704: the streaming encode of 33 + 24 frames, and the live
#     (prepend) decode of 8 latents;
#   - Gemma-2-2B (26 layers) with the real tokenizer: three prompts and the empty negative one.
# A "ref bf16 vs fp32" column runs the same reference in bf16, to show the level of bf16 error.
#
# Limits (tools/reference/parity.py THRESHOLDS, docs/cuda.md): NMSE <= 5e-4 for the DiT, VAE
# latents and Gemma, 1e-3 for decoded frames: about 3x (2x for frames) upstream's own bf16-vs-fp32
# error (model-spec §9); a real defect shows as 1e-2 or more. Exit status 1 when a row fails.
#
#   tools/gpu/parity.sh                 # GPU machine; needs .devcarry/cuda/debs (tools/gpu/build.sh)
#                                       # and the real tokenizer at .devcarry/bench/tokenizer.json
#   SMALL=1 tools/gpu/parity.sh         # CPU machine: reduced models, CPU backend (fp32, limit 1e-8),
#                                       # an existing build/sana, Debian's /usr/bin/python3
# Env: OUT (logs: parity.txt, logs.txt, build.log), WORK (models; default /tmp/sana_parity),
# BACKEND, SANA (binary), PYTHON, TOKENIZER, VAE_SIZE (HxW, default 704x1280), ONLY="dit vae gemma".
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/sana-parity-out}
work=${WORK:-/tmp/sana_parity}
tok=${TOKENIZER:-.devcarry/bench/tokenizer.json}
only=${ONLY:-dit vae gemma}
rm -rf "$work"
mkdir -p "$out" "$work"
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
# Whatever happens (a failure, a timeout's TERM), the logs end up in $OUT/logs.txt.
collect() {
  for f in "$work"/ref_*.log "$work"/c_*.log; do [ -f "$f" ] && { echo "=== $(basename "$f")"; cat "$f"; }; done \
    >"$out/logs.txt" 2>/dev/null
}
trap collect EXIT
trap 'echo "parity.sh: interrupted"; exit 143' TERM INT
export PYTORCH_CUDA_ALLOC_CONF=${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}

if [ -n "${SMALL:-}" ]; then
  py=${PYTHON:-/usr/bin/python3}; backend=${BACKEND:-cpu}; sana=${SANA:-build/sana}; dev=cpu; small=--small
  vae_size=${VAE_SIZE:-64x64}
  [ -x "$sana" ] || { echo "parity.sh: no $sana (build it first: cmake --build build --target sana)" >&2; exit 1; }
  touch "$work/build.done"
else
  py=${PYTHON:-python3}; backend=${BACKEND:-cuda}; sana=${SANA:-build-gpu/sana}; dev=cuda; small=
  vae_size=${VAE_SIZE:-704x1280}
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$work/gpu.txt"
  ( TARGETS=sana tools/gpu/build.sh >"$out/build.log" 2>&1; echo "build rc=$?" >>"$out/build.log"
    touch "$work/build.done" ) &
fi
[ -f "$tok" ] || { echo "parity.sh: no tokenizer at $tok" >&2; exit 1; }

# The references start at once (each writes its model, touches READY, then computes).
declare -A ref
for m in $only; do
  case $m in
    dit) args=(dit "$work" $small --device $dev) ;;
    vae) args=(vae "$work" $small --device $dev --size "$vae_size") ;;
    gemma) args=(gemma "$work" "$tok" $small --device $dev --sana "$sana") ;;
    *) echo "parity.sh: unknown model '$m' in ONLY" >&2; exit 2 ;;
  esac
  PYTHONUNBUFFERED=1 $py tools/reference/parity.py "${args[@]}" >"$work/ref_$m.log" 2>&1 &
  ref[$m]=$!
done

# Waits until $work/$1/READY exists; fails if the reference process ended without writing it.
wait_ready() {
  while [ ! -f "$work/$1/READY" ]; do
    kill -0 "${ref[$1]}" 2>/dev/null || { [ -f "$work/$1/READY" ] && return 0; echo "reference $1 failed before writing its model"; return 1; }
    sleep 1
  done
}
while [ ! -f "$work/build.done" ]; do sleep 1; done
stamp "build done"
[ -z "${SMALL:-}" ] && { tail -1 "$out/build.log"; . build-gpu/env.sh; }
[ -x "$sana" ] || { tail -30 "$out/build.log" 2>/dev/null; echo "parity.sh: build failed" >&2; exit 1; }

run_c() { # model label command...: runs one C command, logging its time
  local m=$1 label=$2; shift 2
  local s=$(date +%s)
  "$@" >>"$work/c_$m.log" 2>&1
  local rc=$?
  echo "$label: rc=$rc, $(( $(date +%s) - s )) s" | tee -a "$work/c_$m.log"
  return $rc
}

c_dit() {
  wait_ready dit || return 1
  run_c dit "sana dit-run ($backend, 3 chunks)" "$sana" dit-run --backend "$backend" --caches --blocks \
    --weights "$work/dit/dit.pth" --inputs "$work/dit/inputs.safetensors" --out "$work/dit/c_out.safetensors"
}
c_vae() {
  wait_ready vae || return 1
  local v=$work/vae
  run_c vae "sana vae-run encode ($backend)" "$sana" vae-run encode --backend "$backend" --vae "$v/vae" \
    --chunks 33,24 --inputs "$v/video.safetensors" --out "$v/c_latents.safetensors"
  run_c vae "sana vae-run decode prepend ($backend)" "$sana" vae-run decode --mode prepend --backend "$backend" \
    --vae "$v/vae" --inputs "$v/latents_in.safetensors" --out "$v/c_video.safetensors"
}
c_gemma() {
  wait_ready gemma || return 1
  local g=$work/gemma n kind
  while read -r n kind; do
    local neg=(); [ "$kind" = negative ] && neg=(--negative)
    run_c gemma "sana encode-prompt p$n ($backend)" "$sana" encode-prompt --backend "$backend" \
      --text-encoder "$g/text_encoder" --prompt-file "$g/p$n.txt" "${neg[@]}" --out "$g/c_p$n.safetensors"
  done <"$g/prompts.txt"
}

# The C runs go one model at a time (GPU memory is shared with the references).
for m in $only; do c_$m; done
stamp "C runs done"
for m in $only; do wait "${ref[$m]}"; echo "reference $m rc=$?" | tee -a "$work/ref_$m.log"; done
stamp "references done"

$py tools/reference/parity.py compare "$work" --backend "$backend" >"$work/parity.txt" 2>&1
rc=$?
stamp "compare done" >>"$work/parity.txt"
{ cat "$work/gpu.txt" 2>/dev/null; cat "$work/parity.txt"; } | tee "$out/parity.txt"
exit $rc
