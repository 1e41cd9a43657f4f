#!/usr/bin/env bash
# Builds hubd and runs it on its embedded default: RocksDB in ./data,
# development certificates in ./data/certs (created on first start: a local
# CA, a server certificate for localhost and one client certificate per
# principal of the example sharing protocol), and that example protocol.
#
#   deploy/run-dev.sh           an empty hub
#   deploy/run-dev.sh --demo    the same, loaded with the demonstration Drive
#                               site (`hubctl demo`; loading it again stores
#                               nothing twice)
#
# Other arguments go to hubd (e.g. --listen_address=127.0.0.1:7444).
set -euo pipefail
cd "$(dirname "$0")/.."

demo=0
hubd_args=()
hub_address=localhost:7443
for arg in "$@"; do
  case "$arg" in
    --demo) demo=1 ;;
    --listen_address=*) hub_address="${arg#--listen_address=}"; hubd_args+=("$arg") ;;
    *) hubd_args+=("$arg") ;;
  esac
done

deploy/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target hubd hubctl

protocol=deploy/examples/sharing_protocol.textproto
deploy/certs.sh dev data/certs "$protocol"

if [[ $demo == 0 ]]; then
  exec build/services/hubd --data_dir=data "${hubd_args[@]}"
fi

build/services/hubd --data_dir=data "${hubd_args[@]}" &
hubd_pid=$!
# hubd drains on SIGTERM/SIGINT; pass them on and wait for it to finish.
trap 'kill -TERM "$hubd_pid" 2>/dev/null; wait "$hubd_pid"; exit' INT TERM
hubctl=(build/tools/hubctl --hub="$hub_address" --certs_dir=data/certs)
for _ in $(seq 1 120); do
  if "${hubctl[@]}" health >/dev/null 2>&1; then break; fi
  if ! kill -0 "$hubd_pid" 2>/dev/null; then wait "$hubd_pid"; exit $?; fi
  sleep 0.5
done
"${hubctl[@]}" demo
wait "$hubd_pid"
