#!/usr/bin/env bash
# Issue 13's FUSE mount end to end, as real processes on loopback: a tracker, 6 consumers and a
# producer (k=4, m=2, availability 3: every slot on its own consumer). A real 100 MB file of
# random bytes is copied into the mount (`cp`), reaches UPLOADED, and then sha256sum, cmp,
# tail -c, dd skip= at random offsets and ls -l through the mount all agree with the original;
# with the producer's own encoded copy gone and 2 consumers killed (SIGKILL), reads still
# succeed, from the 4 left; with a third killed a read gets EIO and the mount stays up. Writes
# to an uploaded file are refused (EROFS); mv is producer edit; rm through the
# mount removes the file from the producer's list; bad mount points get one line and a
# non-zero exit; a mount whose process was killed is cleaned up by `unmount`.
# Skipped (77) when /dev/fuse or fusermount3 is missing.
# Usage: mount_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: mount_test.sh PATH/TO/open-bucket}
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
  echo "SKIP: mount_test needs /dev/fuse and fusermount3 (apt-get install fuse3)"
  exit 77
fi
e2e_setup
MNT="$WORK/mnt"
mounted() { grep -q " $1 fuse" /proc/mounts; }
# Unmount before anything else goes: a mount left behind would outlive the test.
trap 'mounted "$MNT" && "$BIN" unmount "$MNT"; mounted "$WORK/crash" && "$BIN" unmount "$WORK/crash"; e2e_cleanup' EXIT

start_producer_network 6
ob() { "$BIN" --home "$WORK/producer" "$@"; }

# --- bad mount points: one line, non-zero, nothing mounted ----------------------------------
ob mount "$WORK/missing" 2>"$WORK/err" && bad "a mount on a missing directory succeeded"
[ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "does not exist" "$WORK/err" && ok || bad "missing directory: $(cat "$WORK/err")"
mkdir -p "$WORK/full" && touch "$WORK/full/x"
ob mount "$WORK/full" 2>"$WORK/err" && bad "a mount on a non-empty directory succeeded"
[ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "is not empty" "$WORK/err" && ok || bad "non-empty directory: $(cat "$WORK/err")"
"$BIN" unmount "$WORK/full" 2>/dev/null && bad "unmount of a directory that is not a mount succeeded" || ok

# --- the mount: returns once usable ------------------------------------------------------------
mkdir -p "$MNT"
ob mount "$MNT" 2>"$WORK/mount.err" && ok || bad "mount: $(cat "$WORK/mount.err")"
check "the mount is up when the command returns" mounted "$MNT"
check "an empty producer shows an empty root" [ -z "$(ls -A "$MNT")" ]

# --- cp into the mount: uploaded on close ---------------------------------------------------------
head -c 100000000 /dev/urandom >"$WORK/big.bin"
SIZE=$(stat -c %s "$WORK/big.bin")
check "mkdir in the mount" mkdir "$MNT/videos"
check "cp of 100 MB into the mount" cp "$WORK/big.bin" "$MNT/videos/big.bin"
id_of() { files_json | jq -r --arg p "$1" '.[] | select(.path == $p) | .id'; }
ID=$(id_of videos/big.bin)
[ -n "$ID" ] && ok || bad "the producer lists videos/big.bin after the cp: $(files_json)"
wait_for 120 file_is "$ID" UPLOADED 3 && ok || bad "the file reaches UPLOADED at availability 3: $(files_json)"
# The producer drops its encoded copy once UPLOADED: every read below comes from consumers.
wait_for 30 [ ! -e "$WORK/producer/slots/$ID" ] && ok || bad "the producer kept its encoded copy: $(ls "$WORK/producer/slots")"

# --- reads through the mount agree with the original --------------------------------------------
check "ls -l shows the exact size" [ "$(stat -c %s "$MNT/videos/big.bin")" = "$SIZE" ]
ls -l "$MNT/videos" | grep -q " $SIZE .* big.bin$" && ok || bad "ls -l: $(ls -l "$MNT/videos")"
check "sha256sum through the mount" [ "$(sha256sum <"$MNT/videos/big.bin" | cut -d' ' -f1)" = "$(sha256sum <"$WORK/big.bin" | cut -d' ' -f1)" ]
check "tail -c 1000 through the mount" cmp -s <(tail -c 1000 "$MNT/videos/big.bin") <(tail -c 1000 "$WORK/big.bin")
# dd at random 4 KiB-aligned offsets, each a random read of one block.
random_dd() {
  local i skip
  for i in 1 2 3 4 5 6; do
    skip=$(((RANDOM * 32768 + RANDOM) % (SIZE / 4096)))
    cmp -s <(dd if="$MNT/videos/big.bin" bs=4096 skip="$skip" count=3 2>/dev/null) \
      <(dd if="$WORK/big.bin" bs=4096 skip="$skip" count=3 2>/dev/null) || { echo "dd skip=$skip differs" >&2; return 1; }
  done
}
check "dd skip= at random offsets through the mount" random_dd
check "writes to an uploaded file are refused" bash -c "! echo more 2>/dev/null >>'$MNT/videos/big.bin'"

# --- m consumers killed: reads still succeed from the k left --------------------------------------
for i in 1 2; do
  kill -9 "${PIDS[c$i]}"
  wait "${PIDS[c$i]}" 2>/dev/null
  unset "PIDS[c$i]"
done
BEFORE=$(fetched producer)
check "cmp with 2 consumers killed" cmp -s "$MNT/videos/big.bin" "$WORK/big.bin"
AFTER=$(fetched producer)
# The mount caches 8 MiB at most: the rest of the file came from the 4 consumers left.
[ -n "$BEFORE" ] && [ -n "$AFTER" ] && [ $((AFTER - BEFORE)) -ge $((SIZE - 8 * 1048576)) ] && ok ||
  bad "cmp read from the network: $BEFORE -> $AFTER bytes of blocks fetched"
check "dd skip= with 2 consumers killed" random_dd
check "tail -c 1000 with 2 consumers killed" cmp -s <(tail -c 1000 "$MNT/videos/big.bin") <(tail -c 1000 "$WORK/big.bin")

# --- mv is producer edit --path -------------------------------------------------------------------
check "mv through the mount" mv "$MNT/videos/big.bin" "$MNT/moved.bin"
check "the producer lists it under its new path" [ "$(id_of moved.bin)" = "$ID" ]
check "the old name is gone" [ ! -e "$MNT/videos/big.bin" ]

# --- fewer than k slots: that read gets EIO, and the mount stays up ---------------------------------
kill -9 "${PIDS[c3]}"
wait "${PIDS[c3]}" 2>/dev/null
unset "PIDS[c3]"
dd if="$MNT/moved.bin" of=/dev/null bs=4096 count=1 2>"$WORK/eio.err" && bad "a read with 3 of 6 slots gone succeeded"
grep -q "Input/output error" "$WORK/eio.err" && ok || bad "a read with 3 of 6 slots gone gets EIO: $(cat "$WORK/eio.err")"
check "the mount stays up after a failed read" [ "$(stat -c %s "$MNT/moved.bin")" = "$SIZE" ]

# --- rm through the mount removes the file ---------------------------------------------------------
check "rm through the mount" rm "$MNT/moved.bin"
check "the producer no longer lists it" [ -z "$(id_of moved.bin)" ]
check "gone from the mount" [ ! -e "$MNT/moved.bin" ]

# --- unmount, and a crashed mount cleaned up ---------------------------------------------------------
check "unmount" "$BIN" unmount "$MNT"
check "no longer mounted" bash -c "! grep -q ' $MNT fuse' /proc/mounts"
mkdir -p "$WORK/crash"
"$BIN" --home "$WORK/producer" mount --foreground "$WORK/crash" 2>"$WORK/crash.log" &
CRASH=$!
wait_for 20 mounted "$WORK/crash" && ok || bad "mount --foreground: $(cat "$WORK/crash.log")"
kill -9 "$CRASH"
wait "$CRASH" 2>/dev/null
ls "$WORK/crash" 2>"$WORK/stale.err" && bad "a killed mount still answers"
grep -q "not connected" "$WORK/stale.err" && ok || bad "a killed mount is stale: $(cat "$WORK/stale.err")"
check "unmount cleans up a stale mount" "$BIN" unmount "$WORK/crash"
check "the stale mount is gone" bash -c "! grep -q ' $WORK/crash fuse' /proc/mounts"

echo "mount_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
