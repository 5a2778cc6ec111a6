#!/usr/bin/env bash
# Installs the npm packages of the server conformance tests into $1 (a folder in the build dir),
# pinned; does nothing when they are already there. Needs npm registry access.
set -euo pipefail
dir=$1
want="@reactor-team/js-sdk@2.9.0 @roamhq/wrtc@0.10.0 react@19.3.1 zustand@5.1.0 esbuild@0.28.2 playwright-core@1.65.1"
stamp="$dir/.installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"private":true}' > "$dir/package.json"
(cd "$dir" && npm install --no-audit --no-fund --loglevel=error $want)
echo "$want" > "$stamp"
