#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang in their own folder and runs each for a
# bounded time from its seeds. Fails when a target crashes; the crashing input is kept under
# <build>/artifacts/: fix the parser, then add the input to fuzz/regressions/<target>/ so the
# replay tests keep it fixed.
#   tools/fuzz.sh [seconds per target, default 20] [build folder, default build-fuzz] [targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
secs=${1:-20}
out=${2:-build-fuzz}
shift $(( $# < 2 ? $# : 2 ))
if [ $# -gt 0 ]; then targets=("$@"); else targets=(pth pickle safetensors json tokenizer); fi
cmake -S "$src" -B "$out" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANA_FUZZ=ON \
  -DSANA_SANITIZE=OFF -DSANA_CUDA=OFF >/dev/null
cmake --build "$out" -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null
declare -A seeds=(
  [pth]="tests/fixtures/pth"
  [pickle]="tests/fixtures/pth/pickles"
  [safetensors]="$(find tests/fixtures -name '*.safetensors' -size -1000k -printf '%h\n' | sort -u | tr '\n' ' ')"
  [json]="fuzz/corpus/json"
  [tokenizer]="fuzz/corpus/tokenizer"
)
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in "${targets[@]}"; do
  corpus="$out/corpus/$t"
  mkdir -p "$corpus" "$out/artifacts"
  regress=(); [ -d "fuzz/regressions/$t" ] && regress=("fuzz/regressions/$t")
  echo "fuzz_$t: ${secs}s"
  # the first folder collects new inputs; seeds and regressions are only read
  if ! "$out/fuzz_$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$out/artifacts/$t-" -print_final_stats=1 \
      "$corpus" ${seeds[$t]} "${regress[@]}" >"$out/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t FAILED (log: $out/fuzz_$t.log, input: $out/artifacts/)"
    tail -40 "$out/fuzz_$t.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$out/fuzz_$t.log" | tail -2
  fi
done
exit $status
