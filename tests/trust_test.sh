#!/usr/bin/env bash
# Issue 15 end to end, as real processes on loopback: nothing a consumer says counts without a
# proof. Two fake consumers (tests/fake_consumer.cc) register at an address where nothing
# listens and report STORED for every order; with two honest consumers beside them a k=2, m=2
# file (availability 3) must stay UPLOADING at availability 1 (its two honest slots), the fakes'
# slots must be taken back, and once honest consumers join it reaches UPLOADED with every slot
# real: killing m = 2 honest holders still leaves it downloadable. A holder killed and restarted
# after its slot was repaired elsewhere is told to delete its orphan copy.
# Usage: trust_test.sh PATH/TO/open-bucket PATH/TO/fake_consumer
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: trust_test.sh PATH/TO/open-bucket PATH/TO/fake_consumer}
FAKE=${2:?usage: trust_test.sh PATH/TO/open-bucket PATH/TO/fake_consumer}
e2e_setup
NETWORK_ID=$(((RANDOM << 8) + 5151))
TRACKER_PORT=$((20000 + RANDOM % 20000))

# A slot reported stored must be proven within 4 s, or it is taken back.
"$BIN" --home "$WORK/tracker" tracker --listen "127.0.0.1:$TRACKER_PORT" --heartbeat-ms 300 --offline-after-ms 2000 \
  --audit-interval-ms 1000 --unanswered-after-ms 4000 --repair-tick-ms 250 \
  >>"$WORK/tracker.out" 2>>"$WORK/tracker.log" &
PIDS[tracker]=$!
wait_for 20 grep -q '^tracker ' "$WORK/tracker.out" || { echo "tracker did not start:" >&2; cat "$WORK/tracker.log" >&2; exit 1; }
TRACKER=$(sed -n 's/^tracker //p' "$WORK/tracker.out" | head -1)

metric() {  # metric NAME: the tracker's value of sample NAME
  curl -s "http://$(jq -r .metrics "$WORK/tracker/tracker.json")/metrics" | awk -v n="$1" 'index($0, n " ") == 1 {print $NF}' | head -1
}
at_least() { [ "$(metric "$1")" -ge "$2" ] 2>/dev/null; }
lines() { [ "$(grep -c "$1" "$2")" -ge "$3" ]; }  # lines PATTERN FILE N: at least N lines match

node() {
  "$BIN" --home "$WORK/$1" init -d --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$NETWORK_ID" --no-sync \
    --tracker "$TRACKER" --limit "1 GB" --k 2 --m 2 >/dev/null || { echo "init $1 failed" >&2; exit 1; }
}
consumer() {  # consumer NAME: a daemon whose consumer runs
  node "$1"
  start_daemon "$1"
  "$BIN" --home "$WORK/$1" consumer start >/dev/null || bad "consumer start on $1"
}
holders() {  # holders ID: honest consumers holding a slot of file ID on disk
  for c in c1 c2 c3 c4 c5; do
    compgen -G "$WORK/$c/consume/$1/*.index" >/dev/null && echo "$c"
  done
}

# --- two liars and two honest consumers ---------------------------------------------------------
mkdir -p "$WORK/fakes"
"$FAKE" "$TRACKER" 2 "$WORK/fakes" >"$WORK/fakes.out" 2>"$WORK/fakes.log" &
PIDS[fakes]=$!
wait_for 20 lines '^fake ' "$WORK/fakes.out" 2 || { echo "fakes did not register:" >&2; cat "$WORK/fakes.log" >&2; exit 1; }
consumer c1
consumer c2
wait_for 30 at_least ob_tracker_consumers_online 4 && ok || bad "four consumers online: $(metric ob_tracker_consumers_online)"

node producer
start_daemon producer
"$BIN" --home "$WORK/producer" producer start >/dev/null || bad "producer start"
head -c 1500000 /dev/urandom >"$WORK/file.bin"
ID=$("$BIN" --home "$WORK/producer" producer upload --k 2 --m 2 --json "$WORK/file.bin" | jq -r .id)
[ -n "$ID" ] && [ "$ID" != null ] && ok || bad "the upload gives a file ID: '$ID'"

# The fakes lie about their slots; their slots are taken back, twice over, and all the while
# the file stands at availability 1: its two honest slots, no more.
wait_for 30 lines "^STORED $ID " "$WORK/fakes.out" 2 && ok || bad "the fakes reported their slots stored"
wait_for 60 at_least ob_tracker_slots_dropped_unanswered_total 4 && ok ||
  bad "the fakes' slots are taken back for want of a proof: $(metric ob_tracker_slots_dropped_unanswered_total)"
file_is "$ID" UPLOADING 1 && ok || bad "two real slots of four: UPLOADING at availability 1, whatever the fakes say: $(files_json)"
[ "$(holders "$ID" | wc -l)" -eq 2 ] && ok || bad "two honest consumers hold a slot: $(holders "$ID" | xargs)"
test -d "$WORK/producer/slots/$ID" && ok || bad "the producer keeps its encoded copy while the file is not UPLOADED"

# --- honest consumers join: UPLOADED on real slots only --------------------------------------------
consumer c3
consumer c4
wait_for 90 file_is "$ID" UPLOADED 3 && ok || bad "with honest consumers the file reaches UPLOADED at availability 3: $(files_json)"
[ "$(holders "$ID" | wc -l)" -eq 4 ] && ok || bad "four honest consumers hold its four slots: $(holders "$ID" | xargs)"
wait_for 30 test ! -e "$WORK/producer/slots/$ID" && ok || bad "the producer drops its encoded copy once UPLOADED"

# --- a holder away long enough to lose its slot gets rid of its copy on return --------------------
consumer c5  # a spare to repair onto
victim=$(holders "$ID" | head -1)
[ -n "$victim" ] || { bad "no honest holder to kill"; echo "trust: $passed passed, $failed failed"; exit 1; }
kill -9 "${PIDS[$victim]}"
unset "PIDS[$victim]"
wait_for 60 at_least ob_tracker_slots_lost_offline_total 1 && ok || bad "the tracker sees $victim's slot gone"
wait_for 90 file_is "$ID" UPLOADED 3 && ok || bad "the slot is repaired onto the spare: $(files_json)"
compgen -G "$WORK/$victim/consume/$ID/*.index" >/dev/null && ok || bad "$victim's orphan copy is still on its disk while it is down"
start_daemon "$victim"  # its consumer was started: the daemon starts it again, registers and lists its slots
wait_for 60 eval '! compgen -G "$WORK/$victim/consume/$ID/*.index" >/dev/null' && ok ||
  bad "$victim deletes the copy the tracker placed elsewhere"

# --- m honest holders die: the file still downloads -------------------------------------------------
mapfile -t live < <(holders "$ID")
for v in "${live[@]:0:2}"; do kill -9 "${PIDS[$v]}"; unset "PIDS[$v]"; done
mkdir -p "$WORK/down"
"$BIN" --home "$WORK/producer" producer cp "$ID" "$WORK/down" >/dev/null 2>"$WORK/cp.err" && cmp -s "$WORK/file.bin" "$WORK/down/file.bin" &&
  ok || bad "the file downloads byte-identical with two holders killed: $(cat "$WORK/cp.err")"

echo "trust: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
