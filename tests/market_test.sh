#!/usr/bin/env bash
# Issue 4 end to end, as real processes on loopback: a tracker, 6 + 2 consumer daemons and a
# producer daemon. Real files go up with k=4, m=2 and with availability 3 (k=1, three copies)
# and reach UPLOADED at availability 3; two consumers are killed with SIGKILL; both files still
# come back byte-identical, the tracker reports DEGRADED and repairs onto the other consumers
# until availability is 3 again; a slot corrupted on a consumer's disk is caught and repaired;
# the tracker and the producer restart without losing anything; seed 000's REST replies and
# refusals are checked on the way; `producer rm` removes the slots from every consumer. A share
# link (`producer share`) lets a node that is neither producer nor consumer read the coded file
# from the consumers, found in the DHT; without it, or expired, it cannot.
# Usage: market_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: market_test.sh PATH/TO/open-bucket}
e2e_setup
NETWORK_ID=$(((RANDOM << 8) + 4343))
CONSUMERS=8
TRACKER_PORT=$((20000 + RANDOM % 20000))


start_tracker() {
  "$BIN" --home "$WORK/tracker" tracker --listen "127.0.0.1:$TRACKER_PORT" --heartbeat-ms 300 --offline-after-ms 2000 \
    --audit-interval-ms 500 --repair-tick-ms 250 >>"$WORK/tracker.out" 2>>"$WORK/tracker.log" &
  PIDS[tracker]=$!
  wait_for 20 grep -q '^tracker ' "$WORK/tracker.out" || { echo "tracker did not start:" >&2; cat "$WORK/tracker.log" >&2; exit 1; }
}

# node NAME: a home on free ports in this test's network, pointed at the tracker. CWatcher
# scans every 5 s, so that a change on disk that inotify did not report is still found in time.
node() {
  "$BIN" --home "$WORK/$1" init -d --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$NETWORK_ID" --no-sync \
    --tracker "$TRACKER" --limit "1 GB" --k 4 --m 2 >/dev/null || { echo "init $1 failed" >&2; exit 1; }
  sed -i 's/^scan_interval_seconds = .*/scan_interval_seconds = 5/' "$WORK/$1/config.toml"
}

# kill9 NAME: SIGKILL, and wait until the process is gone (and its store's lock with it).
kill9() {
  kill -9 "${PIDS[$1]}"
  wait "${PIDS[$1]}" 2>/dev/null
  unset "PIDS[$1]"
}

api() {  # api NAME METHOD PATH [BODY]: prints "STATUS BODY"
  local port token
  port=$(jq -r .apiPort "$WORK/$1/daemon.json")
  token=$(cat "$WORK/$1/keys/api.token")
  if [ -n "${4:-}" ]; then
    curl -s -o "$WORK/reply" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' --data "$4" "http://127.0.0.1:$port$3"
  else
    curl -s -o "$WORK/reply" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $token" "http://127.0.0.1:$port$3"
  fi
  printf ' %s' "$(cat "$WORK/reply")"
}

# expect NAME METHOD PATH BODY STATUS MSG: the reply is STATUS with {"msg": MSG}.
expect() {
  local reply
  reply=$(api "$1" "$2" "$3" "$4")
  if [ "${reply%% *}" = "$5" ] && [ "$(printf '%s' "${reply#* }" | jq -r .msg 2>/dev/null)" = "$6" ]; then ok; else
    bad "$2 $3 $4 -> expected $5 {\"msg\": \"$6\"}, got $reply"
  fi
}

# holders ID: consumer names holding a slot of file ID on disk.
holders() {
  local name
  for i in $(seq 1 $CONSUMERS); do
    name=c$i
    compgen -G "$WORK/$name/consume/$1/*.index" >/dev/null && echo "$name"
  done
}

# --- the network ------------------------------------------------------------------------------
start_tracker
TRACKER=$(sed -n 's/^tracker //p' "$WORK/tracker.out" | head -1)
[ -n "$TRACKER" ] && jq -e .tracker "$WORK/tracker/tracker.json" >/dev/null && ok || bad "the tracker says where it is"

for i in $(seq 1 $CONSUMERS); do
  node c$i
  start_daemon c$i
done
expect c1 POST /v1/consumer/start '{}' 200 "Consumer started"
expect c1 POST /v1/consumer/start '{}' 200 "Consumer had already started"
# Six consumers take the uploads; c7 and c8 run but join as consumers only after two of the
# six died, so the loss stays visible (DEGRADED) until they do, as in seed 002's redeployment.
for i in $(seq 2 $((CONSUMERS - 2))); do
  "$BIN" --home "$WORK/c$i" consumer start >/dev/null || bad "consumer start on c$i"
done
expect c1 POST /v1/consumer/configs '{"limit": "lots"}' 400 "Invalid limit"
expect c1 POST /v1/consumer/configs '{"directory": "/proc/nope"}' 400 "Invalid directory"

node producer
start_daemon producer
expect producer POST /v1/producer/start '{}' 200 "Producer started"
expect producer POST /v1/producer/start '{}' 200 "Producer had already started"

# --- uploads reach UPLOADED --------------------------------------------------------------------
head -c 3000000 /dev/urandom >"$WORK/coded.bin"
head -c 1000000 /dev/urandom >"$WORK/copies.bin"
ID1=$("$BIN" --home "$WORK/producer" producer upload --k 4 --m 2 --json "$WORK/coded.bin" | jq -r .id)
ID2=$("$BIN" --home "$WORK/producer" producer upload --availability 3 --json "$WORK/copies.bin" | jq -r .id)
[ -n "$ID1" ] && [ "$ID1" != null ] && [ -n "$ID2" ] && [ "$ID2" != null ] && ok || bad "uploads give file IDs: '$ID1' '$ID2'"
wait_for 60 file_is "$ID1" UPLOADED 3 && ok || bad "k=4 m=2 file reaches UPLOADED at availability 3: $(files_json)"
wait_for 60 file_is "$ID2" UPLOADED 3 && ok || bad "3-copy file reaches UPLOADED at availability 3: $(files_json)"
[ "$(holders "$ID1" | wc -l)" -eq 6 ] && ok || bad "six consumers hold a slot of the coded file: $(holders "$ID1" | xargs)"
[ "$(holders "$ID2" | wc -l)" -eq 3 ] && ok || bad "three consumers hold a copy: $(holders "$ID2" | xargs)"

# --- a share link: a node that is neither producer nor consumer reads the file with it ----------
node reader
start_daemon reader
"$BIN" --home "$WORK/producer" producer share "$ID1" >"$WORK/token" 2>"$WORK/share.err" ||
  bad "producer share: $(cat "$WORK/share.err")"
TOKEN=$(cat "$WORK/token")
case "$TOKEN" in z*) ok ;; *) bad "producer share prints one token (multibase base58btc): '$TOKEN'" ;; esac
mkdir -p "$WORK/shared"
# The consumers announce the file in the DHT when they store a slot; the reader finds them there.
shared_read() { "$BIN" --home "$WORK/reader" data get "$TOKEN" "$WORK/shared/coded.bin" 2>"$WORK/shared.err"; }
wait_for 60 shared_read && cmp -s "$WORK/coded.bin" "$WORK/shared/coded.bin" && ok ||
  bad "another node reads the shared file byte-identical: $(cat "$WORK/shared.err")"
# Without the token the same node cannot read it (it is not the owner), even from a holder it
# is connected to: the key check comes before any block moves.
holder=$(holders "$ID1" | head -1)
"$BIN" --home "$WORK/reader" network connect "$(jq -r .peerId "$WORK/$holder/daemon.json")" \
  "$(jq -r .p2pAddress "$WORK/$holder/daemon.json")" >/dev/null || bad "network connect to $holder"
if "$BIN" --home "$WORK/reader" data get "$ID1" "$WORK/shared/stolen.bin" 2>"$WORK/stolen.err"; then
  bad "the reader read the file without a token"
else
  grep -q "not put by this node's owner" "$WORK/stolen.err" && ok || bad "without the token: $(cat "$WORK/stolen.err")"
fi
[ ! -e "$WORK/shared/stolen.bin" ] && ok || bad "a refused read left a file"
# An expired token and a token of the wrong shape are refused, in one line.
"$BIN" --home "$WORK/producer" producer share "$ID1" --expires 1s >"$WORK/short-token" 2>/dev/null ||
  bad "producer share --expires 1s"
sleep 2
refused() {  # refused NAME TEXT ARGS...: data get ARGS fails with one line holding TEXT
  local name=$1 text=$2
  shift 2
  if "$BIN" --home "$WORK/reader" data get "$@" 2>"$WORK/refused.err" >/dev/null; then
    bad "$name was accepted"
  elif [ "$(grep -c . "$WORK/refused.err")" = 1 ] && grep -q "$text" "$WORK/refused.err"; then
    ok
  else
    bad "$name: $(cat "$WORK/refused.err")"
  fi
}
refused "an expired token" "has expired" "$(cat "$WORK/short-token")" "$WORK/shared/late.bin"
refused "a cut token" "not a share token\|not an Open Bucket file\|Invalid CID\|invalid" "${TOKEN:0:60}" "$WORK/shared/cut.bin"
expect producer POST /v1/producer/files/share '{"fileId": "'"$ID1"'", "expires": "soon"}' 400 "Invalid expires: 'soon' (e.g. 7d, 12h, 90m, 3600s)"
kill9 reader

# --- two consumers die ---------------------------------------------------------------------------
# Kill two holders of both files where possible, so that both lose availability.
mapfile -t both < <(comm -12 <(holders "$ID1" | sort) <(holders "$ID2" | sort))
victims=("${both[@]:0:2}")
if [ ${#victims[@]} -lt 2 ]; then mapfile -t victims < <(holders "$ID1" | head -2); fi
for v in "${victims[@]}"; do kill9 "$v"; done
wait_for 30 file_is "$ID1" DEGRADED 1 && ok || bad "the tracker reports the coded file DEGRADED at availability 1: $(files_json)"
# (The 3-copy file may already be repaired: three of the four live consumers hold no copy of it.)

mkdir -p "$WORK/down"
"$BIN" --home "$WORK/producer" producer cp "$ID1" "$WORK/down" >/dev/null && cmp -s "$WORK/coded.bin" "$WORK/down/coded.bin" &&
  ok || bad "the coded file downloads byte-identical with two consumers gone"
"$BIN" --home "$WORK/producer" producer cp "$ID2" "$WORK/down" >/dev/null && cmp -s "$WORK/copies.bin" "$WORK/down/copies.bin" &&
  ok || bad "the 3-copy file downloads byte-identical with two consumers gone"

for i in $((CONSUMERS - 1)) $CONSUMERS; do
  "$BIN" --home "$WORK/c$i" consumer start >/dev/null || bad "consumer start on c$i"
done
wait_for 90 file_is "$ID1" UPLOADED 3 && ok || bad "repair brings the coded file back to availability 3: $(files_json)"
wait_for 90 file_is "$ID2" UPLOADED 3 && ok || bad "repair brings the 3-copy file back to availability 3: $(files_json)"
[ "$(holders "$ID1" | grep -cvxF "$(printf '%s\n' "${victims[@]}")")" -ge 6 ] && ok ||
  bad "six live consumers hold the coded file after repair: $(holders "$ID1" | xargs)"

# --- metrics (Prometheus text) on the tracker and on the daemons ------------------------------------
metric() {  # metric PAGE NAME: the value of the sample line starting with NAME
  awk -v n="$2" 'index($0, n " ") == 1 {print $NF}' <<<"$1" | head -1
}
# The tracker also holds the producer's file index (docs/formats.md "The file index"): one
# version once it is published and the versions it replaced are gone.
index_settled() {
  jq -e '.index | .published != "" and .uploading == "" and (.dirty | not) and (.retired | length) == 0' \
    "$WORK/producer/state/producer.json" >/dev/null
}
wait_for 30 index_settled && ok || bad "the producer's file index is published: $(jq -c .index "$WORK/producer/state/producer.json")"
tracker_page=$(curl -s "http://$(jq -r .metrics "$WORK/tracker/tracker.json")/metrics")
[ "$(metric "$tracker_page" 'ob_tracker_files{status="UPLOADED"}')" = 3 ] && ok ||
  bad "the tracker's /metrics counts 2 UPLOADED files and the file index: $(grep ob_tracker_files <<<"$tracker_page")"
[ "$(metric "$tracker_page" ob_tracker_slots_lost_offline_total)" -ge 2 ] 2>/dev/null && ok ||
  bad "the tracker's /metrics counts the slots lost with the killed consumers: $(grep lost <<<"$tracker_page")"
live=$(holders "$ID1" | grep -vxF "$(printf '%s\n' "${victims[@]}")" | head -1)
api "$live" GET /metrics >/dev/null
page=$(cat "$WORK/reply")
[ "$(metric "$page" ob_consumer_slots)" -ge 1 ] 2>/dev/null && [ "$(metric "$page" ob_consumer_used_bytes)" -gt 0 ] &&
  ok || bad "a consumer's /metrics shows the slots it holds: $(grep ob_consumer <<<"$page")"
api producer GET /metrics >/dev/null
page=$(cat "$WORK/reply")
[ "$(metric "$page" ob_exchange_bytes_served_total)" -gt 1000000 ] 2>/dev/null && ok ||
  bad "the producer's /metrics counts the bytes it served: $(grep ob_exchange <<<"$page")"

# --- a slot corrupted on a consumer's disk ----------------------------------------------------------
# A slot that a consumer holds by its own account (GET /v1/consumer/slots), not only a file on
# its disk (which may be left over from a slot the tracker moved away).
held_slot() {  # held_slot NAME ID: the first slot of file ID that NAME holds, if any
  api "$1" GET /v1/consumer/slots >/dev/null &&
    jq -er --arg id "$2" 'first(.slots[] | select(.fileId == $id) | .slot)' "$WORK/reply" 2>/dev/null
}
target=
for c in $(holders "$ID1" | grep -vxF "$(printf '%s\n' "${victims[@]}")"); do
  if slot=$(held_slot "$c" "$ID1"); then target=$c; break; fi
done
blocks="$WORK/$target/consume/$ID1/$slot.blocks"
audit_drops() {
  metric "$(curl -s "http://$(jq -r .metrics "$WORK/tracker/tracker.json")/metrics")" ob_tracker_slots_dropped_by_audit_total
}
given_up() {  # given_up NAME: how many slots NAME's consumer has given up
  api "$1" GET /metrics >/dev/null
  local n
  n=$(metric "$(cat "$WORK/reply")" ob_consumer_slots_given_up_total)
  echo "${n:-0}"
}
drops_before=$(audit_drops)
given_before=$(given_up "$target")
# Every block overwritten (same size): CWatcher sees the change, and any audit of the slot fails.
# Counted, not only seen on disk: the slot may come back to the same consumer within a second.
head -c "$(stat -c %s "$blocks")" /dev/urandom | dd of="$blocks" conv=notrunc status=none
# Counted, not looked for on disk: the tracker may repair the slot onto the same consumer within
# a few hundred milliseconds, and a poll could miss the moment the file was gone.
caught() { [ "$(given_up "$target")" -gt "$given_before" ] || [ "$(audit_drops)" -gt "$drops_before" ]; }
wait_for 60 caught && ok || bad "the corrupted slot on $target is caught (given up by CWatcher, or failed an audit)"
wait_for 90 file_is "$ID1" UPLOADED 3 && ok || bad "the corrupted slot is repaired: $(files_json)"

# --- restarts lose nothing ------------------------------------------------------------------------
kill "${PIDS[tracker]}"
wait "${PIDS[tracker]}" 2>/dev/null
start_tracker
wait_for 30 file_is "$ID1" UPLOADED 3 && ok || bad "the coded file is still UPLOADED after the tracker restarted: $(files_json)"

head -c 20000000 /dev/urandom >"$WORK/big.bin"
ID3=$("$BIN" --home "$WORK/producer" producer upload --json "$WORK/big.bin" | jq -r .id)
kill9 producer
start_daemon producer  # the producer was started: the daemon starts it again and resumes the upload
wait_for 90 file_is "$ID3" UPLOADED 3 && ok || bad "an upload interrupted by a producer crash completes: $(files_json)"
"$BIN" --home "$WORK/producer" producer cp "$ID3" "$WORK/down" >/dev/null && cmp -s "$WORK/big.bin" "$WORK/down/big.bin" &&
  ok || bad "the resumed upload downloads byte-identical"

# --- seed 000's refusals --------------------------------------------------------------------------
expect producer POST /v1/producer/files/remove '{"fileId": "nope"}' 400 'File `nope` not exists'
expect producer POST /v1/producer/files/download "{\"fileId\": \"nope\", \"destination\": \"$WORK/down\"}" 400 'File `nope` not exists'
expect producer POST /v1/producer/configs '{"directory": "/proc/nope"}' 400 "Invalid directory"
expect producer POST /v1/producer/configs '{"defaultAvailability": "two"}' 400 "Invalid defaultAvailability"
reply=$(api producer POST /v1/producer/edit "{\"fileId\": \"$ID1\", \"availability\": \"two\"}")
[ "${reply%% *}" = 400 ] && ok || bad "edit with a non-number availability is refused: $reply"
expect producer POST /v1/producer/edit "{\"fileId\": \"$ID1\", \"availability\": 2}" 200 "File's metadata has changed"
wait_for 60 file_is "$ID1" UPLOADED 2 && ok || bad "lowering availability drops a slot: $(files_json)"

# --- removal reaches every consumer ---------------------------------------------------------------
expect producer POST /v1/producer/files/remove "{\"fileId\": \"$ID2\"}" 200 "File \`$ID2\` removed"
[ -z "$(holders "$ID2" | grep -vxF "$(printf '%s\n' "${victims[@]}")")" ] && ok ||
  bad "no live consumer holds the removed file: $(holders "$ID2" | xargs)"
files_json | jq -e --arg id "$ID2" 'all(.[]; .id != $id)' >/dev/null && ok || bad "the removed file is no longer listed"

expect producer POST /v1/producer/stop '{}' 200 "Producer stopped"
expect producer POST /v1/producer/stop '{}' 200 "Producer had already stopped"
expect "$target" POST /v1/consumer/stop '{}' 200 "Consumer stopped"

echo "market: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
