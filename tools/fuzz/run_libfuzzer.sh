#!/usr/bin/env bash
# Coverage-guided fuzzing of the hub's fuzz targets (tools/fuzz/fuzz_targets.h)
# with clang's libFuzzer, under AddressSanitizer and UBSan. Installs clang and
# its fuzzer runtime from Debian if missing, builds in build-fuzz/, writes the
# seed corpora (the demonstration site's publishes and events, the example
# protocol), and runs each target for the given time, keeping what it finds
# interesting in build-fuzz/corpus/ for the next run. A crash or a broken
# invariant stops the run, exits non-zero and leaves the input in
# build-fuzz/artifacts/.
#
# Usage: tools/fuzz/run_libfuzzer.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"

# clang and its fuzzer runtime, besides what the hub builds with.
deploy/setup.sh clang libclang-rt-14-dev

build=build-fuzz
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHUB_LIBFUZZER=ON >/dev/null
cmake --build "$build" -j2 --target fuzz_publish_request fuzz_sharing_protocol \
  fuzz_stored_event fuzz_seeds
rm -rf "$build/seeds"
"$build/tools/fuzz_seeds" "$build/seeds"
mkdir -p "$build/artifacts"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for pair in publish_request:publish sharing_protocol:protocol stored_event:stored; do
  target="${pair%%:*}"
  seeds="${pair##*:}"
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  echo "== fuzz_$target for ${seconds} s (corpus $corpus, seeds $build/seeds/$seeds)"
  if ! "$build/tools/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$target-" -max_len=65536 "$corpus" \
    "$build/seeds/$seeds" >"$build/fuzz_$target.log" 2>&1; then
    status=1
    tail -40 "$build/fuzz_$target.log"
    echo "fuzz_$target FAILED: the input is in $build/artifacts/" >&2
    continue
  fi
  grep -E "^#[0-9]+.*DONE|^stat::number_of_executed_units|^stat::peak_rss_mb" \
    "$build/fuzz_$target.log" || true
  echo "corpus: $(find "$corpus" -type f | wc -l) inputs"
done
exit $status
