#!/usr/bin/env bash
# Builds the Debian package of open-bucket from a build directory (packaging/packaging.cmake):
#   bash scripts/package.sh [BUILD_DIR [OUT_DIR]]     # defaults: build, BUILD_DIR/packages
# Reconfigures BUILD_DIR (so the version names the commit checked out), builds the binary, its
# man page and changelog, and runs `cpack -G DEB`; prints the path of the .deb on stdout.
# Install it with `apt install ./open-bucket_*.deb`; `apt remove open-bucket` removes it.
# Needs help2man and dpkg-shlibdeps (dpkg-dev), both in scripts/install-deps.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
OUT=${2:-$BUILD/packages}

for tool in help2man dpkg-shlibdeps cpack fakeroot; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool is missing: run scripts/install-deps.sh" >&2; exit 1; }
done
[ -f "$BUILD/CMakeCache.txt" ] || { echo "package.sh: $BUILD is not a configured build directory" >&2; exit 1; }

cmake -S "$ROOT" -B "$BUILD" >/dev/null
cmake --build "$BUILD" --target package_files -- -j2 >&2
mkdir -p "$OUT"
# fakeroot: the files in the package belong to root, whoever builds it.
fakeroot cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$OUT" >&2
rm -rf "$OUT/_CPack_Packages"
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$BUILD/CPackConfig.cmake")
deb=$(ls "$OUT"/open-bucket_"$version"_*.deb)
echo "$deb"
