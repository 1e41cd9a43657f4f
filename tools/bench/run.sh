#!/usr/bin/env bash
# Builds and runs hub_bench with its PostgreSQL 15 peer: installs the
# benchmark's own dependencies (PostgreSQL 15 and libpq, which neither hubd
# nor the tests need), configures a release build in build-bench/, and
# passes its arguments to hub_bench, e.g.
#   bash tools/bench/run.sh --cases=5000 --seconds=5 --json=hub_bench.json
set -euo pipefail
cd "$(dirname "$0")/../.."

bash deploy/setup.sh postgresql-15 libpq-dev
# Debian starts a cluster of its own on installation; the peer runs its own
# in the scratch folder and needs none.
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-bench -j2 --target hub_bench projector_bench event_log_bench
exec build-bench/tools/hub_bench --dir=bench-hub "$@"
