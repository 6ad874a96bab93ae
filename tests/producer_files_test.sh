#!/usr/bin/env bash
# The producer's files on the daemon's disk, with a real daemon: a daemon killed with SIGKILL in
# the middle of copying a file into the Producer directory leaves a temporary file that the
# next start removes (and that is never taken for a new upload); a private file stays private
# in the Producer directory, which, like the home, is created private. The tracker address
# points where nothing listens: copying happens before any tracker call.
# Usage: producer_files_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: producer_files_test.sh PATH/TO/open-bucket}
e2e_setup
HOME_DIR="$WORK/home"
PRODUCE="$HOME_DIR/produce"
# A well-formed tracker address on a port where nothing listens (9: discard).
"$BIN" --home "$HOME_DIR" init -d --api-port 0 --p2p-port 0 --dht-port 0 --no-sync \
  --tracker "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq@127.0.0.1:9" >/dev/null ||
  { echo "init failed" >&2; exit 1; }

start_daemon() {
  rm -f "$HOME_DIR/daemon.json"
  "$BIN" --home "$HOME_DIR" daemon --log-level debug 2>>"$WORK/daemon.log" &
  DAEMON_PID=$!
  wait_for 30 test -s "$HOME_DIR/daemon.json" || { echo "the daemon did not start:" >&2; cat "$WORK/daemon.log" >&2; exit 1; }
  URL="http://127.0.0.1:$(jq -r .apiPort "$HOME_DIR/daemon.json")"
  TOKEN=$(cat "$HOME_DIR/keys/api.token")
}
# upload FILE: asks the daemon to upload FILE, in the background (the reply waits for the
# unreachable tracker).
upload() {
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data "{\"path\": \"$1\"}" "$URL/v1/producer/files/upload" &
}
# entries: the names in the Producer directory, hidden ones included.
entries() { ls -A "$PRODUCE" 2>/dev/null; }

# --- killed in the middle of a copy into the Producer directory ---
start_daemon
# Big enough that copying it takes seconds (it is read twice, hashed), sparse so that it costs
# no disk; only the part copied before the kill is written.
truncate -s 3G "$WORK/big.bin"
upload "$WORK/big.bin"
# The copy is under way once its temporary file exists and has data.
copying() { local f; f=$(entries | head -n 1); [ -n "$f" ] && [ -s "$PRODUCE/$f" ]; }
if wait_for 120 copying; then
  kill -KILL "$DAEMON_PID"
  wait "$DAEMON_PID" 2>/dev/null
  left=$(entries)
  [ -n "$left" ] && [ "$left" != "big.bin" ] && ok || bad "the kill did not interrupt the copy (found '$left')"
  start_daemon
  wait_for 30 [ -z "$(entries)" ] && ok || bad "the next start did not remove the copy's temporary file: $(entries)"
  local_files=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/v1/producer/files/local")
  [ "$local_files" = "[]" ] && ok || bad "a temporary file was taken for a file to upload: $local_files"
else
  bad "the copy of big.bin never started"
fi

# --- a private file stays private ---
mkdir -m 700 "$WORK/secret"
head -c 100000 /dev/urandom >"$WORK/secret/diary.txt"
chmod 600 "$WORK/secret/diary.txt"
upload "$WORK/secret/diary.txt"
wait_for 30 test -e "$PRODUCE/diary.txt" && ok || bad "diary.txt was not copied in"
[ "$(stat -c %a "$PRODUCE/diary.txt")" = 600 ] && ok || bad "the copy of a 0600 file is $(stat -c %a "$PRODUCE/diary.txt")"
[ "$(stat -c %a "$PRODUCE")" = 700 ] && ok || bad "the Producer directory is $(stat -c %a "$PRODUCE"), not 700"
[ "$(stat -c %a "$HOME_DIR")" = 700 ] && ok || bad "the home is $(stat -c %a "$HOME_DIR"), not 700"
cmp -s "$WORK/secret/diary.txt" "$PRODUCE/diary.txt" && ok || bad "the copy differs from the file"

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
DAEMON_PID=""
if [ "$failed" -ne 0 ]; then
  echo "--- daemon log" >&2
  tail -n 40 "$WORK/daemon.log" >&2
fi
echo "producer files: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
