#!/usr/bin/env bash
# Builds hubd and runs it on its embedded default: RocksDB in ./data,
# development certificates in ./data/certs (created on first start: a local
# CA, a server certificate for localhost and one client certificate per
# principal of the example sharing protocol), and that example protocol.
# Extra arguments go to hubd (e.g. --listen_address=127.0.0.1:0).
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target hubd hubctl

protocol=deploy/examples/sharing_protocol.textproto
deploy/certs.sh dev data/certs "$protocol"

exec build/services/hubd --data_dir=data "$@"
