#!/usr/bin/env bash
# On the GPU machine: build (tools/gpu/build.sh), check every backend op against the CPU
# reference and time it (test_backend_ops --perf), run compute-sanitizer's memcheck over the
# small cases and racecheck over one attention case, and time PyTorch on the same shapes.
# Logs go to $OUT (the device tool's folder) or ./gpu-logs; the summary is printed last.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-gpu-logs}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv >"$out/gpu.txt" 2>&1
t0=$(date +%s)
if ! tools/gpu/build.sh >"$out/build.log" 2>&1; then
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
timeout 90 python3 tools/gpu/torch_baseline.py >"$out/torch.log" 2>&1
cat "$out/gpu.txt"
for f in memcheck racecheck; do [ -f "$out/$f.log" ] && tail -4 "$out/$f.log"; done
cat "$out/torch.log"
cat "$out/ops.log"
