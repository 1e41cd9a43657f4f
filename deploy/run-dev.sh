#!/usr/bin/env bash
# Builds hubd and runs it on its embedded default: RocksDB in ./data.
# Extra arguments go to hubd (e.g. --data_dir=/srv/hub).
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target hubd hubctl

exec build/services/hubd --data_dir=data "$@"
