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
  libfuse3-dev fuse3     # `open-bucket mount` (libfuse3); fusermount3 to mount and unmount as a user
  # the wallet (src/wallet, src/chain): no Debian C++ library does BIP-32, RLP or EIP-1559, but
  # these do the cryptography under them
  libsecp256k1-dev       # secp256k1 keys and recoverable ECDSA signatures (its recovery module)
  libcrypto++-dev        # Keccak-256 (OpenSSL 3.0 has only SHA3) and RIPEMD-160 (BIP-32 fingerprints)
  libqrencode-dev        # QR codes of payment requests (seed 002's top-up)
  libpng-dev             # the QR code as a PNG image (libpng's simplified write API)
  python3-mnemonic       # the BIP-39 English word list; the build checks its SHA-256
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  curl jq                # tests/*.sh talk to daemons with them
  libclang-rt-14-dev     # libFuzzer runtime (libclang_rt.fuzzer) for scripts/fuzz.sh; no clang needed
  nodejs                 # the contract's compiler (solc-js), its tests (anvil, ethers) and bench/gas.sh
  # the Debian package (scripts/package.sh, tests/package_test.sh)
  help2man               # the man page, from --help
  lintian fakeroot       # checks the package; builds it with files owned by root
  debootstrap            # a clean Debian root to install the package into (scripts/install-test.sh)
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

# From the npm registry, pinned by each directory's package-lock.json, into its node_modules
# (--ignore-scripts: anvil's binary comes in its platform package; nothing needs to run):
#   contracts/  solc (compiles StorageMarket.sol), @foundry-rs/anvil (a local EVM node), ethers
#               (the contract tests' independent client)
#   tests/js/   anvil, and the wallet's independent checkers: ethers v6, jsQR + pngjs
# Test and build tools only: nothing from npm is part of the product.
cd "$(dirname "$0")/.."
for dir in contracts tests/js; do
  if ! (cd "$dir" && npm ls --depth=0 >/dev/null 2>&1); then
    echo "install-deps: npm ci in $dir/"
    npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error
  fi
done
