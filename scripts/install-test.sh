#!/usr/bin/env bash
# The Debian package as a user installs it: into a clean Debian 12 root made by debootstrap
# (minbase, from the same mirror), `apt install ./open-bucket_*.deb` (its Depends fetched from
# the mirror), `open-bucket demo --free` (no anvil there) run from the installed package, then
# `apt remove`, after which nothing of the package may be left. Run as root; needs debootstrap and the mirror
# (scripts/install-deps.sh installs debootstrap). Takes a few minutes, most of it debootstrap.
#   bash scripts/install-test.sh DEB [ROOT_DIR]
# ROOT_DIR (default: a new temporary directory, removed afterwards) is reused when it already
# holds a Debian root made by an earlier run, and then kept; OB_MIRROR picks the mirror.
# Exit 0: installed, demo verified every file, removed cleanly. 77: cannot run here (not root,
# no debootstrap, no base system from the mirror). 1: a step failed (the step is named on stderr).
set -euo pipefail

DEB=$(realpath "${1:?usage: install-test.sh DEB [ROOT_DIR]}")
MIRROR=${OB_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" -eq 0 ] || { echo "install-test: needs root (debootstrap, chroot)" >&2; exit 77; }
command -v debootstrap >/dev/null || { echo "install-test: debootstrap is missing" >&2; exit 77; }

if [ -n "${2:-}" ]; then
  ROOT=$(realpath -m "$2")
  KEEP_ROOT=1
else
  ROOT=$(mktemp -d)
  KEEP_ROOT=0
fi
cleanup() {
  mountpoint -q "$ROOT/proc" && umount "$ROOT/proc"
  if [ "$KEEP_ROOT" -eq 0 ]; then rm -rf --one-file-system "$ROOT"; fi
}
trap cleanup EXIT
step() { echo "install-test: $*" >&2; }
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }

if [ ! -f "$ROOT/etc/debian_version" ]; then
  step "debootstrap bookworm into $ROOT"
  # No base system from the mirror says nothing of the package: the test cannot run here (77).
  debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 ||
    { tail -n 5 "$ROOT.debootstrap.log" >&2; step "SKIPPED: debootstrap could not make a base system from $MIRROR"; rm -f "$ROOT.debootstrap.log"; exit 77; }
  rm -f "$ROOT.debootstrap.log"
fi
mount -t proc proc "$ROOT/proc"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

step "apt install ./$(basename "$DEB")"
cp "$DEB" "$ROOT/tmp/"
# apt's output goes to a log, shown when a step fails (it also complains of no /dev/pts, harmlessly).
apt_in_root() { in_root apt-get -y -q "$@" >"$ROOT/tmp/apt.log" 2>&1 || { cat "$ROOT/tmp/apt.log" >&2; exit 1; }; }
apt_in_root update
apt_in_root install "/tmp/$(basename "$DEB")"
in_root dpkg -s open-bucket | grep -q '^Status: install ok installed$' || { step "FAIL: not installed"; exit 1; }
[ -f "$ROOT/usr/lib/systemd/user/open-bucket.service" ] || { step "FAIL: no user unit"; exit 1; }

step "open-bucket demo, from the package"
in_root open-bucket --version
in_root open-bucket demo --free --json >"$ROOT/tmp/demo.json" || { step "FAIL: the demo failed"; cat "$ROOT/tmp/demo.json" >&2; exit 1; }
jq -e '.ok == true and all(.files[]; .verified)' "$ROOT/tmp/demo.json" >/dev/null ||
  { step "FAIL: the demo did not verify its files"; cat "$ROOT/tmp/demo.json" >&2; exit 1; }

step "apt remove open-bucket"
apt_in_root remove open-bucket
if in_root dpkg -s open-bucket >/dev/null 2>&1; then step "FAIL: dpkg still knows open-bucket"; exit 1; fi
for path in /usr/bin/open-bucket /usr/lib/systemd/user/open-bucket.service /usr/share/doc/open-bucket \
  /usr/share/man/man1/open-bucket.1.gz; do
  [ ! -e "$ROOT$path" ] || { step "FAIL: $path is left after apt remove"; exit 1; }
done
step "ok: installed, demo verified, removed cleanly"
