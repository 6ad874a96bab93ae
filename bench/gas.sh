#!/usr/bin/env bash
# Gas of every StorageMarket call from real receipts on anvil, against DESIGN.md's targets
# (submitProof <= 100k, fillSlot <= 150k); exit 1 if a target is missed. See bench/README.md.
# Usage: bench/gas.sh [BUILD_DIR]   (default build; needs BUILD_DIR/open-bucket and
#        contracts/node_modules, which scripts/install-deps.sh installs)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD:-build}}
[ -x "$BUILD/open-bucket" ] || { echo "gas.sh: $BUILD/open-bucket not found (build it first)" >&2; exit 2; }
[ -d contracts/node_modules ] || { echo "gas.sh: contracts/node_modules missing: run npm ci --prefix contracts" >&2; exit 2; }
OPEN_BUCKET="$BUILD/open-bucket" exec node bench/gas.mjs
