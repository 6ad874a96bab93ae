#!/usr/bin/env bash
# The Debian package (scripts/package.sh, packaging/packaging.cmake): its metadata and contents
# with dpkg-deb -I/-c, the binary and man page inside it, and lintian with no errors.
# apt must accept it (a simulated install); really installing, using and removing it in a clean
# Debian 12 root is scripts/install-test.sh (the package_install test).
# Usage: package_test.sh BUILD_DIR
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BUILD=${1:?usage: package_test.sh BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for tool in help2man lintian dpkg-deb dpkg-shlibdeps fakeroot; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool is missing: run scripts/install-deps.sh" >&2
    [ -n "${CI:-}" ] && exit 1
    echo "SKIPPED: package_test needs $tool"
    exit 77
  fi
done
e2e_setup

deb=$(bash "$ROOT/scripts/package.sh" "$BUILD" "$WORK/out" 2>"$WORK/package.log") ||
  { echo "scripts/package.sh failed:" >&2; cat "$WORK/package.log" >&2; exit 1; }
if [ -f "$deb" ]; then ok; else bad "no package at '$deb'"; exit 1; fi

# --- metadata ---
dpkg-deb -I "$deb" >"$WORK/info.txt"
field() { dpkg-deb -f "$deb" "$1"; }
commit=$(git -C "$ROOT" rev-parse --short=12 HEAD)
if [ "$(field Package)" = open-bucket ]; then ok; else bad "Package: $(field Package)"; fi
if [ "$(field Version)" = "0.1.0+git$commit" ]; then ok; else bad "Version: $(field Version), expected 0.1.0+git$commit"; fi
if [ "$(field Architecture)" = "$(dpkg --print-architecture)" ]; then ok; else bad "Architecture: $(field Architecture)"; fi
# Depends computed by dpkg-shlibdeps from the libraries the binary links.
for lib in libc6 libstdc++6 libssl3 libgrpc++1.51; do
  if field Depends | tr ',' '\n' | grep -q "^ *$lib\b"; then ok; else bad "Depends lacks $lib: $(field Depends)"; fi
done
if [ -n "$(field Maintainer)" ] && [ -n "$(field Description)" ]; then ok; else bad "no Maintainer or Description"; fi

# --- contents ---
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$WORK/files.txt"
for path in /usr/bin/open-bucket /usr/lib/systemd/user/open-bucket.service \
  /usr/lib/systemd/user/open-bucket-tracker.service /usr/share/man/man1/open-bucket.1.gz \
  /usr/share/doc/open-bucket/copyright /usr/share/doc/open-bucket/changelog.gz \
  /usr/share/doc/open-bucket/README.md /usr/share/doc/open-bucket/cli.md /usr/share/doc/open-bucket/openapi.yaml; do
  if grep -qx "$path" "$WORK/files.txt"; then ok; else bad "the package lacks $path"; fi
done
if grep -v '^/usr\(/\|$\)' "$WORK/files.txt" | grep -qv '^/$'; then
  bad "files outside /usr: $(grep -v '^/usr' "$WORK/files.txt" | grep -v '^/$' | head -3)"
else
  ok
fi
if dpkg-deb -c "$deb" | awk '{print $2}' | grep -qv '^root/root$'; then bad "files not owned by root"; else ok; fi

# --- what is inside works ---
dpkg-deb -x "$deb" "$WORK/root"
if "$WORK/root/usr/bin/open-bucket" --version | grep -q "^open-bucket 0\.1\.0"; then ok; else bad "the packaged binary does not run"; fi
if file "$WORK/root/usr/bin/open-bucket" | grep -q "stripped" && ! file "$WORK/root/usr/bin/open-bucket" | grep -q "not stripped"; then
  ok
else
  bad "the packaged binary is not stripped"
fi
if zcat "$WORK/root/usr/share/man/man1/open-bucket.1.gz" | grep -q "producer"; then ok; else bad "the man page does not show the commands"; fi
if grep -q '^ExecStart=/usr/bin/open-bucket daemon$' "$WORK/root/usr/lib/systemd/user/open-bucket.service"; then ok; else bad "the daemon unit's ExecStart"; fi
if command -v systemd-analyze >/dev/null; then
  # --man=no: the Documentation= man page is not installed on this machine.
  if systemd-analyze verify --man=no "$WORK/root/usr/lib/systemd/user/"*.service 2>"$WORK/units.err" ||
    ! grep -qv 'Command /usr/bin/open-bucket is not executable' "$WORK/units.err"; then
    ok
  else
    bad "systemd-analyze: $(cat "$WORK/units.err")"
  fi
fi

# --- lintian: no errors (warnings are printed, not fatal) ---
if lintian --fail-on error --tag-display-limit 0 "$deb" >"$WORK/lintian.txt" 2>&1; then
  ok
else
  bad "lintian found errors: $(grep '^E:' "$WORK/lintian.txt")"
fi
sed 's/^/lintian: /' "$WORK/lintian.txt"

# --- apt accepts it: its Depends resolve against this machine's package lists (nothing installed) ---
if apt-get install --simulate "$deb" >"$WORK/apt.txt" 2>&1 && grep -q "^Inst open-bucket " "$WORK/apt.txt"; then
  ok
else
  bad "apt-get install --simulate: $(tail -5 "$WORK/apt.txt")"
fi
# A real `apt install` and `apt remove` would change this shared machine's /usr: they run in a
# clean Debian 12 root made by debootstrap, in package_install (ctest -L install, OB_INSTALL_TEST=1).
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
