#!/usr/bin/env bash
# Installs the Debian 12 packages Open Bucket needs to build, test and benchmark.
# Idempotent; run as root (or with sudo) on a fresh Debian 12 machine.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git time
  # libraries (see ../shared/DESIGN.md for why each was chosen)
  libisal-dev            # Reed-Solomon erasure coding
  libssl-dev             # AES-256-GCM, SHA-256, HKDF
  librocksdb-dev         # block store
  libprotobuf-dev protobuf-compiler   # manifest format
  libgrpc++-dev protobuf-compiler-grpc   # block exchange between nodes (proto/p2p.proto)
  libopendht-dev         # DHT: peer and provider records
  libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libspdlog-dev
  libcpp-httplib-dev     # the daemon's REST server and the CLI's client
  libsqlite3-dev         # the tracker's database
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  curl jq                # tests/*.sh talk to daemons with them
  libclang-rt-14-dev     # libFuzzer runtime (libclang_rt.fuzzer) for scripts/fuzz.sh; no clang needed
  nodejs                 # the contract's compiler (solc-js), its tests (anvil, ethers) and bench/gas.sh
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian ships npm apart from nodejs; other builds of nodejs (NodeSource) include it and conflict
# with Debian's npm, so ask for it only when there is none.
if ! command -v npm >/dev/null && ! dpkg-query -W -f='${Status}' npm 2>/dev/null | grep -q "install ok installed"; then
  missing+=(npm)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# From the npm registry, pinned by contracts/package-lock.json, into contracts/node_modules:
# solc (compiles contracts/StorageMarket.sol), @foundry-rs/anvil (a local EVM node) and ethers
# (the tests' independent client). anvil's binary comes in its platform package.
cd "$(dirname "$0")/.."
if ! (cd contracts && npm ls --depth=0 >/dev/null 2>&1); then
  echo "install-deps: npm ci in contracts/"
  npm ci --prefix contracts --ignore-scripts --no-audit --no-fund --loglevel=error
fi
