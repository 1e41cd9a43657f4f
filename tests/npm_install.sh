#!/usr/bin/env bash
# Installs the npm packages the test suite uses, from their lock files:
# tools/npm (buf, for the contract's lint and breaking-change checks, and the
# Kubernetes API's schemas) and the Node.js example's gRPC libraries
# (docs/examples/node). Node.js and npm come from
# Debian when the machine has none. Idempotent: a folder whose lock file has
# not changed since its last install costs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  echo "npm_install: installing Debian's nodejs and npm" >&2
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm
fi

for folder in tools/npm docs/examples/node; do
  stamp="$folder/node_modules/.installed-lock.sha256"
  wanted=$(sha256sum "$folder/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    continue
  fi
  echo "npm_install: npm ci in $folder" >&2
  (cd "$folder" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$wanted" > "$stamp"
done
