#!/usr/bin/env bash
# On the GPU machine: build (tools/gpu/build.sh), check every backend op against the CPU
# reference and time it (test_backend_ops --perf), run compute-sanitizer's memcheck over the
# small cases and racecheck over one attention case, and time PyTorch on the same shapes.
# Logs go to $OUT (the device tool's folder) or ./gpu-logs; the summary is printed last.
# PROFILE=1 adds Nsight Compute reports of the DiT's self-attention kernel (both m-tile
# variants); SKIP_TORCH=1 skips the PyTorch baselines.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-gpu-logs}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv >"$out/gpu.txt" 2>&1
t0=$(date +%s)
if ! TARGETS=test_backend_ops tools/gpu/build.sh >"$out/build.log" 2>&1; then
  tail -60 "$out/build.log"
  exit 1
fi
echo "build: $(($(date +%s) - t0)) s"
. build-gpu/env.sh
bin=build-gpu/tests/backend/test_backend_ops
timeout 300 "$bin" --perf "$@" >"$out/ops.log" 2>&1
echo "ops rc=$?" >>"$out/ops.log"
if command -v compute-sanitizer >/dev/null; then
  timeout 90 compute-sanitizer --tool memcheck "$bin" --small >"$out/memcheck.log" 2>&1
  echo "memcheck rc=$?" >>"$out/memcheck.log"
  timeout 60 compute-sanitizer --tool racecheck "$bin" -o "attention 70q" >"$out/racecheck.log" 2>&1
  echo "racecheck rc=$?" >>"$out/racecheck.log"
fi
SANA_CUDA_ATTN_MT=1 timeout 60 "$bin" --perf -o attention >"$out/attn_mt1.log" 2>&1
if [ -n "${PROFILE:-}" ] && command -v ncu >/dev/null; then
  for mt in 2 1; do
    SANA_CUDA_ATTN_MT=$mt timeout 120 ncu -k regex:attn_mma -c 1 --section SpeedOfLight \
      --section Occupancy --section LaunchStats --section WarpStateStats \
      --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
      "$bin" -o "attention SANA self" >"$out/ncu_mt$mt.log" 2>&1
  done
fi
[ -z "${SKIP_TORCH:-}" ] && timeout 90 python3 tools/gpu/torch_baseline.py >"$out/torch.log" 2>&1
cat "$out/gpu.txt"
for f in memcheck racecheck; do [ -f "$out/$f.log" ] && tail -4 "$out/$f.log"; done
[ -f "$out/torch.log" ] && cat "$out/torch.log"
for f in "$out"/ncu_mt*.log; do
  [ -f "$f" ] && { echo "== $f"; grep -E "Duration|Throughput|Occupancy|Registers|Warp Cycles|Issued Ipc|Block Limit|stall|Stall|Shared Memory Configuration Size|L1/TEX Hit|L2 Hit" "$f" | head -40; }
done
grep attention "$out/attn_mt1.log" | sed "s/^/MT=1: /"
cat "$out/ops.log"
