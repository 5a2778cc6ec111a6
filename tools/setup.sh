#!/usr/bin/env bash
# Installs what building and testing need on Debian 12 (apt only; npm packages are installed
# by the tests that use them). Safe to run again.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
pkgs=(build-essential cmake pkg-config git
      libopenblas-dev libcjson-dev libcmocka-dev
      python3-torch python3-numpy
      clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
