#!/usr/bin/env bash
# Issue 5 (seed 002) end to end, as real processes on loopback: a tracker, `nodes create 7`
# (seven consumer daemons under a supervisor) and a producer daemon. A 3 MB file goes up with
# k=4, m=2 and reaches UPLOADED at availability 3; `nodes rm` hands a slot holder's slots over
# and removes it; another holder's daemon is killed with SIGKILL and the supervisor starts it
# again; the file is UPLOADED at availability 3 again and downloads byte-identical. Also: errors
# (bad size, unknown ID, no tracker), `nodes status`, `nodes resize`, `nodes down`, and that no
# process is left behind.
# Usage: nodes_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: nodes_test.sh PATH/TO/open-bucket}
WORK=$(mktemp -d)
H="$WORK/home"  # the global home: the fleet lives in $H/nodes
declare -A PIDS=()
cleanup() {
  "$BIN" --home "$H" nodes down >/dev/null 2>&1
  # Whatever is still alive (a failed run): the supervisor, then each node's daemon, by pid.
  local pid
  pid=$(jq -r .pid "$H/nodes/supervisor.json" 2>/dev/null) && [ -n "$pid" ] && kill "$pid" 2>/dev/null
  for f in "$H"/nodes/node-*/daemon.json; do
    pid=$(jq -r .pid "$f" 2>/dev/null) && [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  done
  for name in "${!PIDS[@]}"; do kill "${PIDS[$name]}" 2>/dev/null; done
  wait 2>/dev/null
  if [ "${failed:-0}" -ne 0 ] && [ -n "${KEEP_LOGS:-}" ]; then echo "logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
NETWORK_ID=$(((RANDOM << 8) + 5005))
TRACKER_PORT=$((20000 + RANDOM % 20000))
T0=$(date +%s)
step() { echo "[$(($(date +%s) - T0)) s] $*"; }


nodes() { "$BIN" --home "$H" nodes "$@"; }
ls_json() { nodes ls --json 2>/dev/null; }
files_json() { "$BIN" --home "$WORK/producer" producer ls --json 2>/dev/null; }
file_is() {  # file_is ID STATUS AVAILABILITY
  files_json | jq -e --arg id "$1" --arg st "$2" --argjson a "$3" \
    '.[] | select(.id == $id) | select(.status == $st and .actualAvailability == $a)' >/dev/null
}
holders() {  # holders FILEID: IDs of the nodes holding a slot of it on disk
  local d
  for d in "$H"/nodes/node-*; do
    compgen -G "$d/consume/$1/*.index" >/dev/null && echo "${d##*/node-}"
  done
}
node_running_with_new_pid() {  # ID OLDPID
  ls_json | jq -e --argjson id "$1" --argjson old "$2" \
    '.[] | select(.id == $id) | select(.status == "running" and .pid != $old and .pid > 0 and .apiPort > 0)' >/dev/null
}

# --- the tracker and the global home -----------------------------------------------------------
"$BIN" --home "$WORK/tracker" tracker --listen "127.0.0.1:$TRACKER_PORT" --heartbeat-ms 300 --offline-after-ms 2000 \
  --audit-interval-ms 500 --repair-tick-ms 250 >>"$WORK/tracker.out" 2>>"$WORK/tracker.log" &
PIDS[tracker]=$!
wait_for 20 grep -q '^tracker ' "$WORK/tracker.out" || { echo "tracker did not start:" >&2; cat "$WORK/tracker.log" >&2; exit 1; }
TRACKER=$(sed -n 's/^tracker //p' "$WORK/tracker.out" | head -1)
step "tracker $TRACKER"

# Errors first: no tracker configured, a bad size, an unknown ID.
out=$("$BIN" --home "$WORK/empty" nodes create 1 2>&1)
[ $? -eq 1 ] && grep -q "no tracker configured" <<<"$out" && ok || bad "create without a tracker is refused: $out"
"$BIN" --home "$H" init -d --tracker "$TRACKER" --network-id "$NETWORK_ID" --no-sync --api-port 0 --p2p-port 0 \
  --dht-port 0 --k 4 --m 2 >/dev/null || { echo "init of the global home failed" >&2; exit 1; }
out=$(nodes create 1 --size "lots" 2>&1)
[ $? -eq 1 ] && grep -q 'bad size "lots"' <<<"$out" && ok || bad "a bad size is refused: $out"
out=$(nodes status 42 2>&1)
[ $? -eq 1 ] && grep -q 'unknown node ID "42"' <<<"$out" && ok || bad "an unknown ID is refused: $out"
out=$(nodes rm nope 2>&1)
[ $? -eq 1 ] && grep -q 'unknown node ID "nope"' <<<"$out" && ok || bad "rm of an unknown ID is refused: $out"
nodes --help | grep -q "create" && nodes rm --help | grep -q -- "--force" && ok || bad "--help lists the commands and flags"
[ ! -e "$H/nodes/fleet.json" ] || [ "$(jq '.nodes | length' "$H/nodes/fleet.json")" -eq 0 ] && ok ||
  bad "refused commands create no node"

# --- seven nodes ---------------------------------------------------------------------------------
t=$(date +%s)
created=$(nodes create 7 --size "1 GB" --json 2>"$WORK/create.err")
[ "$(jq length <<<"$created")" -eq 7 ] && ok || bad "nodes create 7 creates seven nodes: $created $(cat "$WORK/create.err")"
step "7 nodes created in $(($(date +%s) - t)) s"
[ "$(jq '.nodes | length' "$H/nodes/fleet.json")" -eq 7 ] && ok || bad "fleet.json lists seven nodes"
SUPERVISOR=$(jq -r .pid "$H/nodes/supervisor.json")
kill -0 "$SUPERVISOR" 2>/dev/null && ok || bad "the supervisor runs (pid $SUPERVISOR)"
wait_for 20 bash -c "'$BIN' --home '$H' nodes ls --json | jq -e 'length == 7 and all(.[]; .status == \"running\" and (.peerId | startswith(\"12D3KooW\")) and .sizeBytes == 1000000000)' >/dev/null" &&
  ok || bad "nodes ls: seven running nodes of 1 GB with peer IDs: $(ls_json)"
nodes ls | grep -q "^1 " && ok || bad "nodes ls prints a table"

# --- a producer uploads -------------------------------------------------------------------------
"$BIN" --home "$WORK/producer" init -d --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$NETWORK_ID" --no-sync \
  --tracker "$TRACKER" --k 4 --m 2 >/dev/null || { echo "init producer failed" >&2; exit 1; }
"$BIN" --home "$WORK/producer" daemon 2>>"$WORK/producer.log" &
PIDS[producer]=$!
wait_for 30 test -s "$WORK/producer/daemon.json" || { echo "producer did not start" >&2; exit 1; }
"$BIN" --home "$WORK/producer" producer start >/dev/null || bad "producer start"
head -c 3000000 /dev/urandom >"$WORK/file.bin"
t=$(date +%s)
ID=$("$BIN" --home "$WORK/producer" producer upload --k 4 --m 2 --json "$WORK/file.bin" | jq -r .id)
[ -n "$ID" ] && [ "$ID" != null ] && ok || bad "the upload gives a file ID"
wait_for 90 file_is "$ID" UPLOADED 3 && ok || bad "the file reaches UPLOADED at availability 3: $(files_json)"
step "uploaded in $(($(date +%s) - t)) s; holders: $(holders "$ID" | xargs)"
[ "$(holders "$ID" | wc -l)" -eq 6 ] && ok || bad "six nodes hold a slot: $(holders "$ID" | xargs)"

status=$(nodes status "$(holders "$ID" | head -1)" --json)
jq -e '.daemonAnswering and .consumerStarted and .registered and .slots == 1 and .usedBytes > 0 and .tracker.online' \
  <<<"$status" >/dev/null && ok || bad "nodes status of a holder: answering, registered, one slot, online: $status"
nodes status "$(holders "$ID" | head -1)" | grep -q "nice points" && ok || bad "nodes status prints the tracker's view"

# --- nodes rm hands the slot over -----------------------------------------------------------------
RM=$(holders "$ID" | head -1)
t=$(date +%s)
nodes rm "$RM" --timeout 120 >"$WORK/rm.out" 2>"$WORK/rm.err" && ok || bad "nodes rm $RM: $(cat "$WORK/rm.out" "$WORK/rm.err")"
step "nodes rm $RM took $(($(date +%s) - t)) s: $(cat "$WORK/rm.err" "$WORK/rm.out" | xargs)"
ls_json | jq -e --argjson id "$RM" 'length == 6 and all(.[]; .id != $id)' >/dev/null && ok || bad "node $RM is gone from nodes ls: $(ls_json)"
[ ! -e "$H/nodes/node-$RM" ] && ok || bad "node $RM's home is deleted"
jq -e --argjson id "$RM" 'all(.nodes[]; .id != $id)' "$H/nodes/fleet.json" >/dev/null && ok || bad "node $RM is gone from fleet.json"
wait_for 60 file_is "$ID" UPLOADED 3 && ok || bad "the file is UPLOADED at availability 3 after nodes rm: $(files_json)"
[ "$(holders "$ID" | wc -l)" -eq 6 ] && ok || bad "six nodes hold a slot after nodes rm: $(holders "$ID" | xargs)"

# --- a daemon crashes; the supervisor starts it again ---------------------------------------------
KILL=$(holders "$ID" | head -1)
OLD=$(jq -r .pid "$H/nodes/node-$KILL/daemon.json")
t=$(date +%s)
kill -9 "$OLD"
step "killed node $KILL's daemon (pid $OLD)"
wait_for 30 node_running_with_new_pid "$KILL" "$OLD" && ok || bad "the supervisor restarted node $KILL: $(ls_json)"
step "node $KILL running again after $(($(date +%s) - t)) s"
jq -e '.restarts >= 1' <<<"$(nodes status "$KILL" --json)" >/dev/null && ok || bad "nodes status counts the restart: $(nodes status "$KILL" --json)"
wait_for 30 bash -c "'$BIN' --home '$H' nodes status $KILL --json | jq -e '.registered and .consumerStarted and .slots == 1' >/dev/null" &&
  ok || bad "the restarted node registers again and still serves its slot: $(nodes status "$KILL" --json)"
grep -q "node $KILL: daemon pid $OLD exited (signal 9)" "$H/nodes/supervisor.log" && ok || bad "the supervisor logs the crash"
wait_for 90 file_is "$ID" UPLOADED 3 && ok || bad "the file is UPLOADED at availability 3 after the crash: $(files_json)"
step "file UPLOADED at availability 3 again after $(($(date +%s) - t)) s"
mkdir -p "$WORK/down"
"$BIN" --home "$WORK/producer" producer cp "$ID" "$WORK/down" >/dev/null && cmp -s "$WORK/file.bin" "$WORK/down/file.bin" &&
  ok || bad "the file downloads byte-identical"

# --- resize ---------------------------------------------------------------------------------------
OTHER=$(ls_json | jq -r '.[0].id')
nodes resize "$OTHER" "2 GB" >/dev/null && ok || bad "nodes resize $OTHER"
ls_json | jq -e --argjson id "$OTHER" '.[] | select(.id == $id) | select(.sizeBytes == 2000000000)' >/dev/null &&
  ok || bad "nodes resize updates the fleet: $(ls_json)"
jq -e '.limitBytes == 2000000000' <<<"$(nodes status "$OTHER" --json)" >/dev/null && ok || bad "nodes resize reaches the daemon"
out=$(nodes resize "$OTHER" "huge" 2>&1)
[ $? -eq 1 ] && grep -q "bad size" <<<"$out" && ok || bad "resize with a bad size is refused: $out"

# --- down: nothing left behind --------------------------------------------------------------------
nodes down >/dev/null && ok || bad "nodes down"
! kill -0 "$SUPERVISOR" 2>/dev/null && ok || bad "the supervisor stopped"
! pgrep -f -- "$H/nodes" >/dev/null && ok || bad "no node daemon is left: $(pgrep -af -- "$H/nodes")"
ls_json | jq -e 'all(.[]; .status == "stopped")' >/dev/null && ok || bad "nodes ls says stopped after down: $(ls_json)"

step "nodes: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
