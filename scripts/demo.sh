#!/usr/bin/env bash
# The main job on real input: builds open-bucket and runs `open-bucket demo`, which starts
# anvil (a local Ethereum node), a tracker deploying the storage market, and 6 consumers on
# loopback in a temporary directory, uploads a real file (FILE, or the open-bucket binary
# itself) with k=4, m=2 on the Basic tier from a producer, kills 2 consumers with SIGKILL (their
# missed proofs are slashed on chain), downloads the file back, verifies it byte for byte and
# pays the consumers, waits for the tracker to repair the lost slots onto replacement consumers
# (which fill them on chain), prints a summary with the market's figures and stops everything it
# started. `--free` runs it on the Free tier, without a chain.
# Usage: scripts/demo.sh [FILE ...] [demo options, see `open-bucket demo --help`]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j "$(nproc)" open-bucket >/dev/null
exec build/open-bucket demo "$@"
