#!/usr/bin/env bash
# The main job on real input: builds open-bucket and runs `open-bucket demo`, which starts a
# tracker and 6 consumers on loopback in a temporary directory, uploads a real file (FILE, or
# the open-bucket binary itself) with k=4, m=2 from a producer, kills 2 consumers with SIGKILL,
# downloads the file back and verifies it byte for byte, waits for the tracker to repair the
# lost slots onto replacement consumers, prints a summary and stops everything it started.
# Usage: scripts/demo.sh [FILE ...] [demo options, see `open-bucket demo --help`]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "$(nproc)" open-bucket >/dev/null
exec build/open-bucket demo "$@"
