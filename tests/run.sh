#!/usr/bin/env bash
# Builds the hub and runs every test.
#   tests/run.sh              RelWithDebInfo build in build/
#   tests/run.sh --sanitize   AddressSanitizer + UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  build_dir=build-asan
  cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DHUB_SANITIZE=ON)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

# Chromium renders the HTML pages hubctl writes (timelines, reports) in the
# page checks.
deploy/setup.sh chromium fonts-dejavu-core
tests/npm_install.sh
cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j2
# Four at a time on two cores: most integration tests wait on hubd's start,
# its fsyncs and its TLS handshakes rather than compute (the suite took 425 s
# at -j2 and 312 s at -j4, using 1.9 cores).
ctest --test-dir "$build_dir" --output-on-failure --timeout 600 -j4
if [ -f "$build_dir/tls-scan-verdict.txt" ]; then cat "$build_dir/tls-scan-verdict.txt"; fi
