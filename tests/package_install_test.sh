#!/usr/bin/env bash
# The Debian package installed, used and removed in a clean Debian 12 root (scripts/install-test.sh:
# debootstrap, apt install, `open-bucket demo --free`, apt remove). It downloads a Debian base system
# and changes nothing outside a temporary directory, but takes minutes and needs root and the
# mirror, so it runs only when asked: OB_INSTALL_TEST=1 ctest -L install. Otherwise skipped (77).
# Usage: package_install_test.sh BUILD_DIR
set -uo pipefail
BUILD=${1:?usage: package_install_test.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${OB_INSTALL_TEST:-}" ]; then
  echo "SKIPPED: set OB_INSTALL_TEST=1 to install the package into a debootstrap root"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
deb=$(bash "$ROOT/scripts/package.sh" "$BUILD" "$out" 2>"$out/package.log") ||
  { cat "$out/package.log" >&2; exit 1; }
bash "$ROOT/scripts/install-test.sh" "$deb"
