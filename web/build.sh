#!/usr/bin/env bash
# Builds the web app into OUT (index.html, style.css, app.js: the page's modules and the
# official @reactor-team/js-sdk bundled by esbuild). The npm packages, pinned, go to NODE_DIR
# (a folder of the build dir; reused when it already holds these versions). Needs npm registry
# access the first time. usage: web/build.sh OUT NODE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: web/build.sh OUT NODE_DIR}
node_dir=${2:?usage: web/build.sh OUT NODE_DIR}
mkdir -p "$node_dir" && node_dir=$(cd "$node_dir" && pwd)
pins="@reactor-team/js-sdk@2.9.0 react@19.3.1 zustand@5.1.0 esbuild@0.28.2"
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "web/build.sh: node and npm are needed (tools/deps: nodejs, npm)" >&2; exit 1; }
have() { # pkg@version installed in $node_dir?
  local pkg=${1%@*} ver=${1##*@}
  [ "$(node -p "try{require('$node_dir/node_modules/$pkg/package.json').version}catch(e){''}")" = "$ver" ]
}
missing=0
for p in $pins; do have "$p" || missing=1; done
if [ $missing = 1 ]; then
  [ -f "$node_dir/package.json" ] || echo '{"private":true}' > "$node_dir/package.json"
  (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error $pins) ||
    { echo "web/build.sh: npm install failed (no registry access?); the web app is not built" >&2; exit 1; }
fi
node "$here/build.mjs" "$out" "$node_dir/node_modules"
