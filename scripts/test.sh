#!/usr/bin/env bash
# Builds Open Bucket three times and runs the tests with CTest, then fuzzes; warnings
# are errors in every build (-DOB_WERROR=ON, off by default outside CI):
#   build/       optimised: unit tests, end-to-end tests of real processes, the Debian package
#                (built, checked by lintian, installed into a debootstrap root: OB_INSTALL_TEST=1)
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer: the unit tests
#   build-tsan/  ThreadSanitizer: the unit tests (the REST server, the exchange, the tracker
#                service and the roles run there on many threads over real loopback sockets)
#   build-fuzz/  libFuzzer targets of the parsers and services, FUZZ_SECONDS (45) each (scripts/fuzz.sh)
# Usage: scripts/test.sh   (run scripts/install-deps.sh once first)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

echo "== build (RelWithDebInfo, -Werror)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOB_WERROR=ON >/dev/null
ninja -C build -j "$JOBS"
echo "== tests"
OB_INSTALL_TEST=1 ctest --test-dir build --output-on-failure -j "$JOBS"

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOB_SANITIZE=ON -DOB_BENCHMARKS=OFF -DOB_WERROR=ON >/dev/null
ninja -C build-asan -j "$JOBS" unit_tests
echo "== unit tests under ASan + UBSan"
# The unit tests only: the end-to-end tests move 150 MB files through -O0 sanitized daemons,
# which would double CI's time for little the unit tests of the same code do not reach.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$JOBS" -L unit

echo "== build (ThreadSanitizer)"
cmake -S . -B build-tsan -G Ninja -DOB_TSAN=ON -DOB_BENCHMARKS=OFF -DOB_WERROR=ON >/dev/null
ninja -C build-tsan -j "$JOBS" unit_tests open-bucket
echo "== unit tests and the REST end-to-end test under ThreadSanitizer"
# The unit tests: the REST server (GatedServer), the block exchange, the DHT, the tracker
# service and the producer and consumer roles run there on their real threads and sockets; the
# REST test drives the daemon with parallel uploads and downloads.
# Every process writes its reports to a file; any report fails the stage. tests/tsan.supp
# says why the options and the suppression are there.
reports=$PWD/build-tsan/tsan-reports
rm -rf "$reports" && mkdir -p "$reports"
tsan_failed=0
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp ignore_noninstrumented_modules=1 log_path=$reports/report second_deadlock_stack=1"
ctest --test-dir build-tsan --output-on-failure -j "$JOBS" -L unit || tsan_failed=1
ctest --test-dir build-tsan --output-on-failure -R '^rest_end_to_end$' || tsan_failed=1
unset TSAN_OPTIONS
if compgen -G "$reports/report.*" >/dev/null; then
  cat "$reports"/report.* >&2
  echo "ThreadSanitizer: $(cat "$reports"/report.* | grep -c '^WARNING: ThreadSanitizer') report(s) above" >&2
  tsan_failed=1
fi
((tsan_failed == 0))

echo "== fuzz (libFuzzer, ${FUZZ_SECONDS:-45} s per target)"
bash scripts/fuzz.sh
