#!/usr/bin/env bash
# Builds Open Bucket twice and runs every test with CTest, then fuzzes the parsers:
#   build/       optimised, warnings as errors: unit tests + end-to-end CLI test
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer: the same tests
#   build-fuzz/  libFuzzer targets of the parsers, FUZZ_SECONDS (60) each (scripts/fuzz.sh)
# Usage: scripts/test.sh   (run scripts/install-deps.sh once first)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

echo "== build (RelWithDebInfo, -Werror)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOB_WERROR=ON >/dev/null
ninja -C build -j "$JOBS"
echo "== tests"
ctest --test-dir build --output-on-failure -j "$JOBS"

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOB_SANITIZE=ON -DOB_BENCHMARKS=OFF >/dev/null
ninja -C build-asan -j "$JOBS" unit_tests open-bucket
echo "== tests under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$JOBS"

echo "== fuzz (libFuzzer, ${FUZZ_SECONDS:-60} s per target)"
bash scripts/fuzz.sh
