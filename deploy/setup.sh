#!/usr/bin/env bash
# Installs the Debian 12 packages the hub builds and runs with, and any
# further packages named as arguments (a tool's own: clang for fuzzing).
# Idempotent: asks apt only for what is missing, so a prepared machine costs nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache git openssl
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  librocksdb-dev libabsl-dev libssl-dev libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev libsystemd-dev
  systemd testssl.sh
  python3 python3-grpcio python3-protobuf
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
