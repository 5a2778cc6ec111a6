#!/usr/bin/env bash
# The main job: set up, build, and run. Until `sana edit` lands this builds and lists commands.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
build/sana --help
