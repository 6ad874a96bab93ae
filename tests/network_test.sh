#!/usr/bin/env bash
# Four real daemons on loopback (issues 3 and 12): B, C and D join the DHT through A; C and D share
# A's master secret (the same owner on other machines), B does not. A file put on A comes back
# byte-identical on C by CID, streamed from the network and stored nowhere on C; C fetches it into
# its store on request and the DHT then lists A and C as providers. A 150 MB download survives a
# provider killed mid-transfer; a downloader killed mid-download, or a download whose only
# provider dies, leaves nothing under the destination's name. All traffic stays on 127.0.0.1.
# Usage: network_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: network_test.sh PATH/TO/open-bucket}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
NETWORK_ID=$(( (RANDOM << 8) + 4242 ))

# node NAME [BOOTSTRAP]: initialises a home on free ports and this test's network ID.
node() {
  local home=$WORK/$1
  "$BIN" --home "$home" init >/dev/null || { echo "init $1 failed" >&2; exit 1; }
  sed -i "s/^port = 8080\$/port = 0/; s/^port = 4040\$/port = 0/; s/^dht_port = 4222\$/dht_port = 0/;
          s/^network_id = .*/network_id = $NETWORK_ID/; s/^sync = true/sync = false/" "$home/config.toml"
  if [ -n "${2:-}" ]; then sed -i "s/^bootstrap = .*/bootstrap = [\"$2\"]/" "$home/config.toml"; fi
}

# start NAME: starts its daemon and waits (bounded) for daemon.json.
start() {
  local home=$WORK/$1
  "$BIN" --home "$home" daemon 2>"$WORK/$1.log" &
  PIDS+=($!)
  for _ in $(seq 1 300); do
    [ -s "$home/daemon.json" ] && return 0
    sleep 0.1
  done
  echo "daemon $1 did not start:" >&2
  cat "$WORK/$1.log" >&2
  exit 1
}

json_field() { sed -n "s/.*\"$2\":\\([0-9]*\\).*/\\1/p" "$WORK/$1/daemon.json"; }
text_field() { sed -n "s/.*\"$2\":\"\\([^\"]*\\)\".*/\\1/p" "$WORK/$1/daemon.json"; }
# api NODE METHOD PATH: curl against NODE's REST API with its token; prints the body.
api() { curl -s -X "$2" -H "Authorization: Bearer $(cat "$WORK/$1/keys/api.token")" "http://127.0.0.1:$(json_field "$1" apiPort)$3"; }
stored_on() { "$BIN" --home "$WORK/$1" data ls --json | grep -q "$2"; }
# pause_download FILE PID: waits (up to 60 s) until the `data get` PID has begun writing FILE (an
# AtomicFile's hidden temporary file, .ob-tmp-*, exists beside it: the headers came and blocks
# flow), then stops it with SIGSTOP. Each download writes into a directory of its own, so a
# temporary file left by an earlier, killed download cannot be mistaken for this one's.
# A stopped reader stops its daemon too once the window fills, so what happens next (a provider
# killed, the reader killed) happens mid-transfer whatever the machine's speed: a 150 MB file
# takes far longer than the 10 ms between two looks.
pause_download() {
  local deadline=$(($(date +%s) + 60))
  until compgen -G "$(dirname "$1")/.ob-tmp-*" >/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.01
  done
  kill -STOP "$2"
}

node a
start a
A_DHT=$(json_field a dhtPort)
[ -n "$A_DHT" ] && ok || bad "daemon.json has the DHT port"
node b "127.0.0.1:$A_DHT"
node c "127.0.0.1:$A_DHT"
node d "127.0.0.1:$A_DHT"
cp "$WORK/a/keys/master.key" "$WORK/c/keys/master.key"  # C and D are the same owner on other machines
cp "$WORK/a/keys/master.key" "$WORK/d/keys/master.key"
start b
start c
start d
A_ID=$(text_field a peerId) A_P2P=$(text_field a p2pAddress)
C_ID=$(text_field c peerId) C_P2P=$(text_field c p2pAddress)

head -c 3000000 /dev/urandom >"$WORK/file"
CID=$("$BIN" --home "$WORK/a" data put --k 4 --m 2 "$WORK/file") && ok || bad "put on A"

# C reads it through the network (the DHT may take a moment to spread A's announcement).
got=0
for _ in $(seq 1 40); do
  if "$BIN" --home "$WORK/c" data get "$CID" "$WORK/from-c" 2>"$WORK/get.err"; then got=1; break; fi
  sleep 0.5
done
[ $got = 1 ] && cmp -s "$WORK/file" "$WORK/from-c" && ok || bad "get on C through the network: $(cat "$WORK/get.err")"
! stored_on c "$CID" && [ -z "$(ls -A "$WORK/c/slots")" ] && ok || bad "a download stores nothing on C"
# Asked to, C fetches the file into its store (all n slots) and provides it.
api c POST "/v1/data/$CID/network" | grep -q "in the background" && ok || bad "C starts a background fetch"
wait_for 30 stored_on c "$CID" && ok || bad "C holds the file after the background fetch"

# The DHT lists A and C as providers (as seen from B).
found=0
for _ in $(seq 1 40); do
  providers=$(api b GET "/v1/providers/$CID")
  if printf '%s' "$providers" | grep -q "$A_ID" && printf '%s' "$providers" | grep -q "$C_ID"; then found=1; break; fi
  sleep 0.5
done
[ $found = 1 ] && ok || bad "providers of the file list A and C: $providers"

# The CLI's network commands, through C's daemon.
"$BIN" --home "$WORK/c" network providers "$CID" | grep -q "$A_ID" && ok || bad "network providers lists A"
"$BIN" --home "$WORK/c" network find "$A_ID" | grep -q "$A_P2P" && ok || bad "network find gives A's address"
"$BIN" --home "$WORK/c" network connect "$A_ID" "$A_P2P" | grep -q "connected to $A_ID" && ok || bad "network connect"
"$BIN" --home "$WORK/c" network peers --json | grep -q "$A_ID" && ok || bad "network peers lists A after connect"
err=$("$BIN" --home "$WORK/c" network find not-a-peer-id 2>&1 >/dev/null)
[ $? -eq 1 ] && printf '%s' "$err" | grep -q "peer ID" && ok || bad "a malformed peer ID is refused: $err"
"$BIN" --home "$WORK/nodaemon" init >/dev/null
err=$("$BIN" --home "$WORK/nodaemon" network peers 2>&1 >/dev/null)
[ $? -eq 1 ] && printf '%s' "$err" | grep -q "no daemon runs" && ok || bad "network without a daemon says so: $err"

# A file nobody has: a clear error within the deadline, and nothing written.
start_time=$(date +%s)
"$BIN" --home "$WORK/b" data get bagaibqabciqlk546ubfhj3gt6wxe7pklnls6rfqqnfr2nkea6nyqzzwqeg3jrgy "$WORK/none" 2>"$WORK/none.err"
rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/none" ] && [ $(( $(date +%s) - start_time )) -lt 30 ] && ok ||
  bad "unknown CID over the network: exit $rc, $(cat "$WORK/none.err")"

# A big file on A and, fetched on request, on C.
head -c 150000000 /dev/urandom >"$WORK/big"
BIG=$("$BIN" --home "$WORK/a" data put --k 4 --m 2 "$WORK/big") && ok || bad "put the big file on A"
"$BIN" --home "$WORK/c" network connect "$A_ID" "$A_P2P" >/dev/null
api c POST "/v1/data/$BIG/network" >/dev/null
wait_for 120 stored_on c "$BIG" && ok || bad "C fetches the big file into its store"
grep -q "fetched $BIG from the network (150208512 bytes, 0 peer(s) dropped)" "$WORK/c.log" && ok ||
  bad "C read the big file's k slots and rebuilt the rest: $(grep -i fetched "$WORK/c.log")"

# Another owner cannot read it: refused before any byte, nothing written.
"$BIN" --home "$WORK/b" network connect "$A_ID" "$A_P2P" >/dev/null
"$BIN" --home "$WORK/b" data get "$BIG" "$WORK/big-on-b" 2>"$WORK/big-b.err"
rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/big-on-b" ] && grep -q "owner" "$WORK/big-b.err" && ok ||
  bad "another owner's download is refused: exit $rc: $(cat "$WORK/big-b.err")"

# Killing a provider mid-transfer: with a second provider the download completes from it.
"$BIN" --home "$WORK/d" network connect "$A_ID" "$A_P2P" >/dev/null
"$BIN" --home "$WORK/d" network connect "$C_ID" "$C_P2P" >/dev/null
mkdir -p "$WORK/get1" "$WORK/get3"
"$BIN" --home "$WORK/d" data get "$BIG" "$WORK/get1/big-on-d" 2>"$WORK/big-d.err" &
getter=$!
pause_download "$WORK/get1/big-on-d" "$getter" || bad "D's download did not start"
kill -9 "${PIDS[0]}"  # A, the first daemon started, while D is reading from it
kill -CONT "$getter"
wait "$getter"
rc=$?
[ $rc -eq 0 ] && cmp -s "$WORK/big" "$WORK/get1/big-on-d" && ok ||
  bad "D completes the download from C after A was killed mid-transfer (exit $rc: $(cat "$WORK/big-d.err"))"
grep -q "read $BIG from the network: [0-9]* bytes of blocks, [1-9] peer(s) dropped" "$WORK/d.log" && ok ||
  bad "D read from A, dropped it when it died and went on: $(grep "read $BIG" "$WORK/d.log")"
! stored_on d "$BIG" && ok || bad "a download stores nothing on D"

# The downloader killed mid-download: nothing under the destination's name.
mkdir -p "$WORK/get2"
"$BIN" --home "$WORK/d" data get "$BIG" "$WORK/get2/big-on-d" 2>/dev/null &
getter=$!
pause_download "$WORK/get2/big-on-d" "$getter" || bad "D's second download did not start"
kill -9 "$getter"
wait "$getter" 2>/dev/null
[ ! -e "$WORK/get2/big-on-d" ] && ok || bad "a download killed mid-way left $WORK/get2/big-on-d"

# Killing the only provider: a clear error within the deadline, never a hang, nothing written.
head -c 150000000 /dev/urandom >"$WORK/big2"
BIG2=$("$BIN" --home "$WORK/c" data put --k 4 --m 2 "$WORK/big2") && ok || bad "put a second big file on C only"
start_time=$(date +%s)
"$BIN" --home "$WORK/d" data get "$BIG2" "$WORK/get3/big2-on-d" 2>"$WORK/big2-d.err" &
getter=$!
pause_download "$WORK/get3/big2-on-d" "$getter" || bad "D's download of the second file did not start"
kill -9 "${PIDS[2]}"  # C, while D is reading from it
kill -CONT "$getter"
wait "$getter"
rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/get3/big2-on-d" ] && [ $(( $(date +%s) - start_time )) -lt 60 ] && [ -s "$WORK/big2-d.err" ] && ok ||
  bad "the only provider killed mid-transfer: exit $rc after $(( $(date +%s) - start_time )) s: $(cat "$WORK/big2-d.err")"

echo "network: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
