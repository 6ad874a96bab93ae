#!/usr/bin/env bash
# Issue 13 end to end, as real processes on loopback: a tracker, 3 consumers and a producer made
# from a mnemonic. The producer uploads 5 files of different sizes and publishes its file index
# (docs/formats.md "The file index"); then its home is deleted, and a new home made with
# `init --recover` from the words alone lists all 5 again, downloads them byte-identical, and
# has the wallet's account back. Other words find nothing, say so in one line, and leave no home.
# Usage: recover_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: recover_test.sh PATH/TO/open-bucket}
e2e_setup
NETWORK_ID=$(((RANDOM << 8) + 1313))
TRACKER_PORT=$((20000 + RANDOM % 20000))
export OPEN_BUCKET_TEST_SCRYPT_N=4096  # the wallet's keystore: scrypt n = 4096 (seconds saved)
echo "test test test test test test test test test test test junk" >"$WORK/words"
echo "legal winner thank year wave sausage worth useful legal winner thank yellow" >"$WORK/other-words"
echo "keystore passphrase" >"$WORK/pw"

"$BIN" --home "$WORK/tracker" tracker --listen "127.0.0.1:$TRACKER_PORT" --heartbeat-ms 300 --offline-after-ms 3000 \
  --audit-interval-ms 2000 --repair-tick-ms 250 >>"$WORK/tracker.out" 2>>"$WORK/tracker.log" &
PIDS[tracker]=$!
wait_for 20 grep -q '^tracker ' "$WORK/tracker.out" || { echo "tracker did not start:" >&2; cat "$WORK/tracker.log" >&2; exit 1; }
TRACKER=$(sed -n 's/^tracker //p' "$WORK/tracker.out" | head -1)

# node NAME [INIT FLAGS...]: a home on free ports in this test's network, joined to c1's DHT node.
node() {
  local name=$1
  shift
  "$BIN" --home "$WORK/$name" init -d --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$NETWORK_ID" --no-sync \
    --tracker "$TRACKER" --limit "1 GB" --k 2 --m 1 --default-availability 2 ${DHT:+--bootstrap "$DHT"} "$@" \
    >"$WORK/$name.init" 2>&1 || { echo "init $name failed: $(cat "$WORK/$name.init")" >&2; exit 1; }
}

DHT=""
for i in 1 2 3; do
  node c$i
  start_daemon c$i
  "$BIN" --home "$WORK/c$i" consumer start >/dev/null || bad "consumer start on c$i"
  [ -z "$DHT" ] && DHT="127.0.0.1:$(jq -r .dhtPort "$WORK/c1/daemon.json")"
done

node producer --mnemonic-file "$WORK/words" --password-file "$WORK/pw"
ACCOUNT=$("$BIN" --home "$WORK/producer" wallet ls --json | jq -r '.[0].address')
start_daemon producer
"$BIN" --home "$WORK/producer" producer start >/dev/null || bad "producer start"

# --- 5 files of different sizes reach UPLOADED, and the index of all 5 is published ------------
declare -A SIZES=([tiny.bin]=1 [one-k.bin]=1024 [three-hundred-k.bin]=307200 [three-m.bin]=3000000 [twenty-m.bin]=20000000)
mkdir -p "$WORK/src"
IDS=()
for name in "${!SIZES[@]}"; do
  head -c "${SIZES[$name]}" /dev/urandom >"$WORK/src/$name"
  id=$("$BIN" --home "$WORK/producer" producer upload --json "$WORK/src/$name" | jq -r .id)
  [ -n "$id" ] && [ "$id" != null ] && ok || bad "upload $name gives a file ID"
  IDS+=("$id")
done
for id in "${IDS[@]}"; do
  wait_for 60 file_is "$id" UPLOADED 2 && ok || bad "$id reaches UPLOADED: $(files_json)"
done
# The index follows edits and removals too: a sixth file is uploaded and removed, and one file
# is renamed (the new path is what comes back).
head -c 5000 /dev/urandom >"$WORK/src/gone.bin"
GONE=$("$BIN" --home "$WORK/producer" producer upload --json "$WORK/src/gone.bin" | jq -r .id)
wait_for 60 file_is "$GONE" UPLOADED 2 && ok || bad "the sixth file reaches UPLOADED: $(files_json)"
"$BIN" --home "$WORK/producer" producer rm "$GONE" >/dev/null 2>"$WORK/rm.err" && ok || bad "producer rm: $(cat "$WORK/rm.err")"
RENAMED=$(files_json | jq -r '.[] | select(.path == "three-m.bin") | .id')
"$BIN" --home "$WORK/producer" producer edit --remotePath docs/renamed.bin "$RENAMED" >/dev/null 2>"$WORK/edit.err" && ok ||
  bad "producer edit: $(cat "$WORK/edit.err")"
SIZES[docs/renamed.bin]=${SIZES[three-m.bin]}
mv "$WORK/src/three-m.bin" "$WORK/src/renamed.bin"
unset "SIZES[three-m.bin]"
published() {
  jq -e --arg gone "$GONE" '.index | .published != "" and .uploading == "" and (.dirty | not) and
         (.entries | length) == 5 and all(.entries[]; .fileId != $gone) and
         any(.entries[]; .path == "docs/renamed.bin") and .sequence >= 1' "$WORK/producer/state/producer.json" >/dev/null
}
wait_for 60 published && ok || bad "the index of 5 files is published: $(jq -c .index "$WORK/producer/state/producer.json")"
INDEX=$(jq -r .index.published "$WORK/producer/state/producer.json")
files_json | jq -e --arg index "$INDEX" 'length == 5 and all(.[]; .id != $index)' >/dev/null && ok ||
  bad "producer ls lists the 5 files and not the index: $(files_json)"
# Older versions go once the newest is published.
wait_for 30 bash -c '[ "$(jq -r ".index.retired | length" "$1")" = 0 ]' _ "$WORK/producer/state/producer.json" && ok ||
  bad "old index versions are removed: $(jq -c .index.retired "$WORK/producer/state/producer.json")"

# --- the machine is lost; a new home recovers from the words alone -------------------------------
kill "${PIDS[producer]}"
wait "${PIDS[producer]}" 2>/dev/null
unset "PIDS[producer]"
rm -rf "$WORK/producer"

# Other words derive another locator and identity: nothing is found, and no home is left.
if "$BIN" --home "$WORK/stranger" init --recover -d --mnemonic-file "$WORK/other-words" --password-file "$WORK/pw" \
  --tracker "$TRACKER" --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$NETWORK_ID" --bootstrap "$DHT" \
  >"$WORK/stranger.out" 2>"$WORK/stranger.err"; then
  bad "other words recovered something: $(cat "$WORK/stranger.out")"
else
  grep -qx "open-bucket: no file index found for these words" "$WORK/stranger.err" && ok ||
    bad "other words: one clear line: $(cat "$WORK/stranger.err")"
fi
[ ! -e "$WORK/stranger" ] && ok || bad "a failed recovery left a home: $(ls -A "$WORK/stranger")"

"$BIN" --home "$WORK/producer" init --recover -d --mnemonic-file "$WORK/words" --password-file "$WORK/pw" \
  --tracker "$TRACKER" --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$NETWORK_ID" --bootstrap "$DHT" \
  >"$WORK/recover.out" 2>"$WORK/recover.err" && ok || bad "init --recover: $(cat "$WORK/recover.out" "$WORK/recover.err")"
grep -q "^recover: searching the DHT" "$WORK/recover.err" && ok || bad "a progress line while searching: $(cat "$WORK/recover.err")"
grep -q "5 file(s) in the file index (sequence [0-9]*, found in the DHT)" "$WORK/recover.out" && ok ||
  bad "recovery finds the record in the DHT and says what it found: $(cat "$WORK/recover.out")"
# With no DHT node to ask, the tracker's copy of the record is found instead.
"$BIN" --home "$WORK/no-dht" init --recover -d --mnemonic-file "$WORK/words" --password-file "$WORK/pw" \
  --tracker "$TRACKER" --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$NETWORK_ID" \
  >"$WORK/no-dht.out" 2>"$WORK/no-dht.err" && grep -q "5 file(s) in the file index (sequence [0-9]*, found in the tracker)" \
  "$WORK/no-dht.out" && ok || bad "recovery through the tracker: $(cat "$WORK/no-dht.out" "$WORK/no-dht.err")"
[ "$("$BIN" --home "$WORK/producer" wallet ls --json | jq -r '.[0].address')" = "$ACCOUNT" ] && ok ||
  bad "the wallet has account 0 of the words again"
# Recovering onto a home that is not empty is refused and changes nothing.
before=$(sha256sum "$WORK/producer/state/producer.json")
"$BIN" --home "$WORK/producer" init --recover -d --mnemonic-file "$WORK/words" --tracker "$TRACKER" \
  >/dev/null 2>"$WORK/again.err" && bad "recovery over an existing home" ||
  { grep -q "needs an empty home" "$WORK/again.err" && ok || bad "recovery over an existing home: $(cat "$WORK/again.err")"; }
[ "$before" = "$(sha256sum "$WORK/producer/state/producer.json")" ] && ok || bad "a refused recovery changed the home"

start_daemon producer
for name in "${!SIZES[@]}"; do
  files_json | jq -e --arg p "$name" 'any(.[]; .path == $p and .status == "UPLOADED")' >/dev/null && ok ||
    bad "producer ls lists $name again: $(files_json)"
done
[ "$(files_json | jq -r '.[].id' | sort | xargs)" = "$(printf '%s\n' "${IDS[@]}" | sort | xargs)" ] && ok ||
  bad "producer ls lists the same 5 file IDs and nothing else: $(files_json | jq -c '[.[].id]')"
mkdir -p "$WORK/back"
for name in "${!SIZES[@]}"; do
  base=${name##*/}
  "$BIN" --home "$WORK/producer" producer cp "$name" "$WORK/back" >/dev/null 2>"$WORK/cp.err" &&
    cmp -s "$WORK/src/$base" "$WORK/back/$base" && ok || bad "$name downloads byte-identical: $(cat "$WORK/cp.err")"
done

echo "recover: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
