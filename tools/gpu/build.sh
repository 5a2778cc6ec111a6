#!/usr/bin/env bash
# One-command build on the GPU machine (Ubuntu 24.04, CUDA 13, cmake, ninja; no OpenBLAS,
# cJSON or pkg-config there):
#
#   tools/gpu/build.sh [DEBS_DIR]      # builds build-gpu/ (Release, CUDA backend for sm_90)
#   TARGETS="test_backend_ops" tools/gpu/build.sh   # only those targets
#   . build-gpu/env.sh                 # then run e.g. build-gpu/tests/backend/test_backend_ops
#
# The CPU reference backend needs OpenBLAS and cJSON. Where pkg-config cannot find them, the
# script unpacks Debian 12 packages (dpkg -x, no installation) from DEBS_DIR (default
# .devcarry/cuda/debs) into build-gpu/sysroot and points pkg-config at it. Fetch them on a
# Debian 12 machine with:
#   apt-get download libopenblas-pthread-dev libopenblas0-pthread libgfortran5 libquadmath0 \
#     libcjson1 libcjson-dev pkgconf pkgconf-bin libpkgconf3
set -euo pipefail
cd "$(dirname "$0")/../.."
debs=${1:-.devcarry/cuda/debs}
out=build-gpu
mkdir -p "$out"
: >"$out/env.sh"
if ! { command -v pkg-config >/dev/null && pkg-config --exists openblas libcjson; }; then
  root=$PWD/$out/sysroot
  ls "$debs"/*.deb >/dev/null || { echo "build.sh: no OpenBLAS/cJSON here and no .deb files in $debs" >&2; exit 1; }
  mkdir -p "$root"
  for f in "$debs"/*.deb; do dpkg -x "$f" "$root"; done
  lib=$root/usr/lib/x86_64-linux-gnu
  cat >"$out/env.sh" <<ENV
export PATH=$root/usr/bin:\$PATH
export PKG_CONFIG_SYSROOT_DIR=$root
export PKG_CONFIG_LIBDIR=$lib/openblas-pthread/pkgconfig:$lib/pkgconfig
export LD_LIBRARY_PATH=$lib/openblas-pthread:$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
ENV
fi
# cuDNN (optional; vae.conv3d runs through it): the GPU image has it only as PyTorch's pip
# package. Its headers come from that package where it ships them, else from
# .devcarry/cuda/cudnn_include (cudnn*.h copied from a machine with cuDNN 9 installed).
if [ ! -f /usr/local/cuda/include/cudnn.h ] && [ -z "${CUDNN_ROOT:-}" ]; then
  py=$(python3 -c 'import importlib.util as u; print(list(u.find_spec("nvidia.cudnn").submodule_search_locations)[0])' \
    2>/dev/null || true)
  inc=
  [ -n "$py" ] && [ -f "$py/include/cudnn.h" ] && inc=$py/include
  [ -z "$inc" ] && [ -f .devcarry/cuda/cudnn_include/cudnn.h ] && inc=$PWD/.devcarry/cuda/cudnn_include
  if [ -n "$py" ] && [ -n "$inc" ] && ls "$py"/lib/libcudnn.so.9 >/dev/null 2>&1; then
    mkdir -p "$out/cudnn/lib"
    ln -sfn "$inc" "$out/cudnn/include"
    ln -sf "$py/lib/libcudnn.so.9" "$out/cudnn/lib/libcudnn.so"
    echo "export CUDNN_ROOT=$PWD/$out/cudnn" >>"$out/env.sh"
    echo "export LD_LIBRARY_PATH=$py/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" >>"$out/env.sh"
    echo "build.sh: cuDNN from $py (headers $inc)"
  else
    echo "build.sh: no cuDNN headers or library found; vae.conv3d will use the backend's own kernel"
  fi
fi
. "$out/env.sh"
export CUDACXX=${CUDACXX:-/usr/local/cuda/bin/nvcc}
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S . -B "$out" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DSANA_CUDA=ON
targets=()
for t in ${TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$out" -j"$(nproc)" "${targets[@]}"
