#!/usr/bin/env bash
# Three real daemons on loopback (issue 3): B and C join the DHT through A; a file put on A comes
# back byte-identical on C by CID through the network (discovery + TLS block exchange); C then
# holds it locally and the DHT lists A and C as providers. All traffic stays on 127.0.0.1.
# Usage: network_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: network_test.sh PATH/TO/open-bucket}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
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

node a
start a
A_DHT=$(json_field a dhtPort)
[ -n "$A_DHT" ] && ok || bad "daemon.json has the DHT port"
node b "127.0.0.1:$A_DHT"
node c "127.0.0.1:$A_DHT"
cp "$WORK/a/keys/master.key" "$WORK/c/keys/master.key"  # C is the same owner on another machine
start b
start c

head -c 3000000 /dev/urandom >"$WORK/file"
CID=$("$BIN" --home "$WORK/a" data put --k 4 --m 2 "$WORK/file") && ok || bad "put on A"

# C fetches through the network (the DHT may take a moment to spread A's announcement).
got=0
for _ in $(seq 1 40); do
  if "$BIN" --home "$WORK/c" data get "$CID" "$WORK/from-c" 2>"$WORK/get.err"; then got=1; break; fi
  sleep 0.5
done
[ $got = 1 ] && cmp -s "$WORK/file" "$WORK/from-c" && ok || bad "get on C through the network: $(cat "$WORK/get.err")"
"$BIN" --home "$WORK/c" data ls --json | grep -q "$CID" && ok || bad "C holds the file locally afterwards"

# The DHT lists A and C as providers (as seen from B).
TOKEN=$(cat "$WORK/b/keys/api.token")
B_API=$(json_field b apiPort)
A_ID=$(sed -n 's/.*"peerId":"\([^"]*\)".*/\1/p' "$WORK/a/daemon.json")
C_ID=$(sed -n 's/.*"peerId":"\([^"]*\)".*/\1/p' "$WORK/c/daemon.json")
found=0
for _ in $(seq 1 40); do
  providers=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$B_API/v1/providers/$CID")
  if printf '%s' "$providers" | grep -q "$A_ID" && printf '%s' "$providers" | grep -q "$C_ID"; then found=1; break; fi
  sleep 0.5
done
[ $found = 1 ] && ok || bad "providers of the file list A and C: $providers"

# The CLI's network commands, through C's daemon.
A_P2P=$(sed -n 's/.*"p2pAddress":"\([^"]*\)".*/\1/p' "$WORK/a/daemon.json")
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

# Killing a provider mid-transfer: with a second provider the transfer completes from it.
head -c 150000000 /dev/urandom >"$WORK/big"
BIG=$("$BIN" --home "$WORK/a" data put --k 4 --m 2 "$WORK/big") && ok || bad "put the big file on A"
"$BIN" --home "$WORK/c" network connect "$A_ID" "$A_P2P" >/dev/null
"$BIN" --home "$WORK/c" data get "$BIG" "$WORK/big-on-c" 2>"$WORK/big-c.err" && cmp -s "$WORK/big" "$WORK/big-on-c" &&
  ok || bad "C fetches the big file from A: $(cat "$WORK/big-c.err")"
C_P2P=$(sed -n 's/.*"p2pAddress":"\([^"]*\)".*/\1/p' "$WORK/c/daemon.json")
"$BIN" --home "$WORK/b" network connect "$A_ID" "$A_P2P" >/dev/null
"$BIN" --home "$WORK/b" network connect "$C_ID" "$C_P2P" >/dev/null
"$BIN" --home "$WORK/b" data get "$BIG" "$WORK/big-on-b" 2>"$WORK/big-b.err" &
getter=$!
staged_bytes() { du -sb "$WORK/b/slots"/.staging* 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
for _ in $(seq 1 200); do [ "$(staged_bytes)" -gt 20000000 ] && break; sleep 0.05; done
kill -9 "${PIDS[0]}"  # A, the first daemon started, while B is fetching
wait "$getter"
rc=$?
# B is another owner (its own master secret): the bytes cannot be decrypted there, but the fetch
# itself must complete from C; B then holds the whole file.
"$BIN" --home "$WORK/b" data ls --json | grep -q "$BIG" && ok ||
  bad "B completes the fetch from C after A was killed mid-transfer (exit $rc: $(cat "$WORK/big-b.err"))"
grep -q "fetched $BIG from the network (150208512 bytes, [1-9] peer(s) dropped)" "$WORK/b.log" && ok ||
  bad "B read from A, dropped it when it died and went on: $(grep -i fetched "$WORK/b.log")"

# Killing the only provider: a clear error within the deadline, never a hang, nothing written.
head -c 150000000 /dev/urandom >"$WORK/big2"
BIG2=$("$BIN" --home "$WORK/c" data put --k 4 --m 2 "$WORK/big2") && ok || bad "put a second big file on C only"
start_time=$(date +%s)
"$BIN" --home "$WORK/b" data get "$BIG2" "$WORK/big2-on-b" 2>"$WORK/big2-b.err" &
getter=$!
for _ in $(seq 1 200); do [ "$(staged_bytes)" -gt 20000000 ] && break; sleep 0.05; done
kill -9 "${PIDS[2]}"  # C, while B is fetching
wait "$getter"
rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/big2-on-b" ] && [ $(( $(date +%s) - start_time )) -lt 60 ] && [ -s "$WORK/big2-b.err" ] && ok ||
  bad "the only provider killed mid-transfer: exit $rc after $(( $(date +%s) - start_time )) s: $(cat "$WORK/big2-b.err")"
"$BIN" --home "$WORK/b" data ls --json | grep -q "$BIG2" && bad "a half-fetched file is listed on B" || ok

echo "network: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
