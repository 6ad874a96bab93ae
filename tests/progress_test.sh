#!/usr/bin/env bash
# Issue 14's progress convention, on a real terminal: a tracker, three consumer daemons and a
# producer daemon on loopback; `data put`, `producer upload` (followed until UPLOADED) and
# `producer cp` run under `script` (util-linux: a pseudo-terminal for stdout and stderr) and
# must draw a progress line with bytes, a rate and an ETA; `nodes create` its wait for the
# daemons, and `wallet send` (anvil, one block a second; skipped outside CI without anvil) its
# wait for the receipt. The same commands with --json print one JSON document and no progress;
# with stdout sent to a file, no progress either.
# Usage: progress_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: progress_test.sh PATH/TO/open-bucket}
command -v script >/dev/null || { echo "progress_test needs script (util-linux)" >&2; exit 1; }
e2e_setup
NETWORK_ID=$(((RANDOM << 8) + 1414))
TRACKER_PORT=$((20000 + RANDOM % 20000))

# on_tty NAME COMMAND: runs COMMAND (a shell command line) with stdout and stderr on a
# pseudo-terminal; what the terminal showed goes to $WORK/NAME.tty, its exit code is returned.
on_tty() { script -qec "$2" /dev/null >"$WORK/$1.tty" </dev/null; }
# A progress line: a bar, "done / total" in bytes, a rate and an ETA.
BAR_RE='\[[# ]{30}\] +[0-9]+% [0-9.]+ (B|KiB|MiB) / [0-9.]+ (B|KiB|MiB)  [0-9.]+ (B|KiB|MiB)/s  ETA ([0-9]+ s|[0-9]+ min [0-9]+ s|--)'
shows_bar() { grep -aEq "$BAR_RE" "$WORK/$1.tty"; }
# no_progress FILE: nothing of a progress line in $WORK/FILE (no ETA, no escape code; the
# terminal's own CR LF line ends are not one).
no_progress() { ! grep -aq 'ETA' "$WORK/$1" && ! grep -aq $'\e' "$WORK/$1"; }
# one_json NAME: the terminal's text (CR LF line ends) is exactly one JSON document.
one_json() { tr -d '\r' <"$WORK/$1.tty" | jq -s -e 'length == 1' >/dev/null; }

"$BIN" --home "$WORK/tracker" tracker --listen "127.0.0.1:$TRACKER_PORT" --heartbeat-ms 300 \
  --audit-interval-ms 0 --repair-tick-ms 250 >>"$WORK/tracker.out" 2>>"$WORK/tracker.log" &
PIDS[tracker]=$!
wait_for 20 grep -q '^tracker ' "$WORK/tracker.out" || { echo "tracker did not start:" >&2; cat "$WORK/tracker.log" >&2; exit 1; }
TRACKER=$(sed -n 's/^tracker //p' "$WORK/tracker.out" | head -1)
for name in c1 c2 c3 producer; do
  "$BIN" --home "$WORK/$name" init -d --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$NETWORK_ID" --no-sync \
    --tracker "$TRACKER" --limit "1 GB" --k 2 --m 1 --default-availability 2 >/dev/null || { echo "init $name failed" >&2; exit 1; }
  start_daemon "$name"
done
for name in c1 c2 c3; do "$BIN" --home "$WORK/$name" consumer start >/dev/null || bad "consumer start on $name"; done

P="$BIN --home $WORK/producer"
# Big enough that its download takes several of producer cp's 100 ms polls.
head -c $((48 << 20)) /dev/urandom >"$WORK/big.bin"
head -c $((3 << 20)) /dev/urandom >"$WORK/small.bin"

# --- data put -------------------------------------------------------------------------------------
on_tty put "$P data put $WORK/small.bin" && ok || bad "data put on a terminal failed: $(cat "$WORK/put.tty")"
shows_bar put && ok || bad "data put drew no progress line with bytes, rate and ETA: $(cat -v "$WORK/put.tty")"
on_tty put_json "$P data put --json $WORK/small.bin" && one_json put_json && no_progress put_json.tty && ok ||
  bad "data put --json on a terminal: $(cat -v "$WORK/put_json.tty")"
on_tty put_file "$P data put $WORK/small.bin >$WORK/put.out" && no_progress put_file.tty && ok ||
  bad "data put with stdout in a file drew progress: $(cat -v "$WORK/put_file.tty")"

# --- producer upload, followed until UPLOADED ---------------------------------------------------
on_tty upload "$P producer upload $WORK/big.bin" && ok || bad "producer upload on a terminal failed: $(cat -v "$WORK/upload.tty")"
shows_bar upload && grep -aEq 'upload big.bin [0-9]/3 slots' "$WORK/upload.tty" && ok ||
  bad "producer upload drew no bar of slots and bytes: $(cat -v "$WORK/upload.tty")"
grep -aEq '(^|\[K)Uploaded' "$WORK/upload.tty" && ok || bad "producer upload did not end with Uploaded"
ID=$(sed -n 's/^File ID: \([a-z0-9]*\).*/\1/p' "$WORK/upload.tty" | head -1)
[ -n "$ID" ] && files_json | jq -e --arg id "$ID" '.[] | select(.id == $id and .status == "UPLOADED" and .slotsStored >= 3)' >/dev/null &&
  ok || bad "the file is not UPLOADED once the command returned: $(files_json)"
# --json and a file on stdout: the reply at once, as without a terminal.
on_tty upload_json "$P producer upload --json $WORK/small.bin" && one_json upload_json && no_progress upload_json.tty && ok ||
  bad "producer upload --json on a terminal: $(cat -v "$WORK/upload_json.tty")"
tr -d '\r' <"$WORK/upload_json.tty" | jq -e '.msg and .id' >/dev/null && ok || bad "producer upload --json lost msg or id"
on_tty upload_file "$P producer upload $WORK/small.bin >$WORK/upload.out" && no_progress upload_file.tty &&
  grep -q '^File ID: ' "$WORK/upload.out" && ! grep -q '^Uploaded' "$WORK/upload.out" && ok ||
  bad "producer upload with stdout in a file: $(cat -v "$WORK/upload_file.tty") $(cat "$WORK/upload.out")"

# --- producer cp --------------------------------------------------------------------------------
mkdir "$WORK/down" "$WORK/down_json" "$WORK/down_file"
on_tty cp "$P producer cp $ID $WORK/down" && cmp -s "$WORK/big.bin" "$WORK/down/big.bin" && ok ||
  bad "producer cp on a terminal failed: $(cat -v "$WORK/cp.tty")"
shows_bar cp && ok || bad "producer cp drew no progress line with bytes, rate and ETA: $(cat -v "$WORK/cp.tty")"
on_tty cp_json "$P producer cp --json $ID $WORK/down_json" && one_json cp_json && no_progress cp_json.tty && ok ||
  bad "producer cp --json on a terminal: $(cat -v "$WORK/cp_json.tty")"
on_tty cp_file "$P producer cp $ID $WORK/down_file >$WORK/cp.out" && no_progress cp_file.tty &&
  grep -q "^Downloading file" "$WORK/cp.out" && ok || bad "producer cp with stdout in a file: $(cat -v "$WORK/cp_file.tty")"

# --- nodes create and down: what they wait for -------------------------------------------------
"$BIN" --home "$WORK/fleet" init -d --tracker "$TRACKER" --network-id "$NETWORK_ID" --no-sync --api-port 0 \
  --p2p-port 0 --dht-port 0 >/dev/null || bad "init of the fleet's home failed"
N="$BIN --home $WORK/fleet nodes"
on_tty create "$N create 2 --size '100 MB'" && ok || bad "nodes create on a terminal failed: $(cat -v "$WORK/create.tty")"
# The supervisor runs detached: stopped at exit like the test's own processes.
SUPERVISOR=$(jq -r .pid "$WORK/fleet/nodes/supervisor.json" 2>/dev/null)
[ -n "$SUPERVISOR" ] && [ "$SUPERVISOR" != null ] && PIDS[supervisor]=$SUPERVISOR
grep -aEq "nodes create [0-2]/2 started waiting for node [0-9]+'s daemon: .* [0-9]+ s" "$WORK/create.tty" && ok ||
  bad "nodes create showed no wait for its daemons: $(cat -v "$WORK/create.tty")"
on_tty create_json "$N create 1 --size '100 MB' --json" && one_json create_json && no_progress create_json.tty && ok ||
  bad "nodes create --json on a terminal: $(cat -v "$WORK/create_json.tty")"
on_tty down "$N down" && grep -aq 'supervisor and nodes stopped' "$WORK/down.tty" && ok ||
  bad "nodes down on a terminal: $(cat -v "$WORK/down.tty")"

# --- wallet send: the wait for the receipt (anvil mining a block a second) ---------------------
need_chain_tools
case $? in
  0)
    start_anvil "$WORK/anvil.log" --block-time 1 || exit 1
    PIDS[anvil]=$ANVIL_PID
    echo "test test test test test test test test test test test junk" >"$WORK/junk.txt"
    echo "a passphrase" >"$WORK/pw"
    "$BIN" --home "$WORK/payer" init -d --rpc "$ANVIL_URL" --mnemonic-file "$WORK/junk.txt" --password-file "$WORK/pw" \
      --api-port 0 --p2p-port 0 --dht-port 0 >"$WORK/payer.init" 2>&1 || bad "init with the junk account: $(cat "$WORK/payer.init")"
    TO=0x000000000000000000000000000000000000dEaD
    W="$BIN --home $WORK/payer wallet send --to $TO --amount 0.01 --password-file $WORK/pw"
    on_tty send "$W" && grep -aEq 'send 0\.01 ETH waiting for receipt 0x[0-9a-f]{8}… [0-9]+ s' "$WORK/send.tty" && ok ||
      bad "wallet send showed no wait for its receipt: $(cat -v "$WORK/send.tty")"
    on_tty send_json "$W --json" && one_json send_json && no_progress send_json.tty && ok ||
      bad "wallet send --json on a terminal: $(cat -v "$WORK/send_json.tty")"
    ;;
  1) bad "anvil is missing (CI)" ;;
  *) echo "progress: wallet send skipped (anvil is not installed)" ;;
esac

if [ "$failed" -ne 0 ]; then
  for name in producer tracker; do echo "--- $name log" >&2; tail -n 20 "$WORK/$name.log" >&2; done
fi
echo "progress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
