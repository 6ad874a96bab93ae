#!/usr/bin/env bash
# The chain going away in the middle of a paid upload (issue 11, "Bad input and faults"): every
# node reaches anvil through tests/js/rpc_proxy.mjs, which forwards the producer's
# requestStorage transaction (anvil mines it: the escrow is paid) and then drops the reply and
# every call after it, as a node that went away would. Figures are read from anvil directly.
#   1. The upload is left PENDING, its storage request Unpaid, with a message naming the chain.
#   2. When the node is back, the producer's own retry finds the request it paid for
#      (requestIdOf): the file reaches UPLOADED, every slot Filled, the request Started, and
#      the producer was charged one escrow, never two (eth_getBalance, requestCount).
#   3. The same fault, then the producer killed with SIGKILL while the node is away: restarted
#      (its paying key is held in memory only, so `producer upload` gives it again), it resumes
#      from chain state with the same request, charged once.
# Usage: market_outage_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: market_outage_test.sh PATH/TO/open-bucket}
chain_e2e_setup market_outage
export OPEN_BUCKET_TEST_SCRYPT_N=4096  # keystores: scrypt n = 4096, seconds saved each
unset OPEN_BUCKET_PASSWORD OPEN_BUCKET_HOME
# one_line_with FILE TEXT: FILE is one line, and it has TEXT.
one_line_with() { [ "$(grep -c . "$1")" = 1 ] && grep -q -- "$2" "$1"; }

start_anvil "$WORK/anvil.log" || exit 1
mkdir -p "$WORK/proxy"
node "$JS_DIR/rpc_proxy.mjs" "$ANVIL_URL" "$WORK/proxy" >"$WORK/proxy.out" 2>"$WORK/proxy.log" &
PIDS[proxy]=$!
wait_for 30 grep -q '^proxy ' "$WORK/proxy.out" || { echo "the RPC proxy did not start: $(cat "$WORK/proxy.log")" >&2; exit 1; }
RPC=$(sed -n 's/^proxy //p' "$WORK/proxy.out")
chain_down() { touch "$WORK/proxy/down"; }
chain_back() { rm -f "$WORK/proxy/down"; }
# The next transaction sent is mined, and then the node is gone for its sender and everyone.
trip_next_transaction() { touch "$WORK/proxy/trip"; }
tripped() { [ -e "$WORK/proxy/down" ] && [ ! -e "$WORK/proxy/trip" ]; }
( while sleep 0.4; do rpc "$ANVIL_URL" anvil_mine '["0x1"]' >/dev/null; done ) &
PIDS[miner]=$!

echo "outage test passphrase" >"$WORK/pw"
MNEMONIC="test test test test test test test test test test test junk"
# dev_key I: the private key of anvil's developer account I.
dev_key() {
  (cd "$JS_DIR" && node -e "
    const {HDNodeWallet}=require('ethers');
    console.log(HDNodeWallet.fromPhrase('$MNEMONIC', undefined, \"m/44'/60'/0'/0/$1\").privateKey.slice(2))")
}
# node_home NAME INDEX [INIT ARGS...]: a home whose chain is the proxy, with developer account
# INDEX imported as its default account "acct".
node_home() {
  local name=$1 index=$2
  shift 2
  "$BIN" --home "$WORK/$name" init -d --api-port 0 --p2p-port 0 --dht-port 0 --rpc "$RPC" "$@" >/dev/null ||
    { echo "init $name failed" >&2; exit 1; }
  dev_key "$index" >"$WORK/$name.key"
  "$BIN" --home "$WORK/$name" wallet import --private-key-file "$WORK/$name.key" --name acct --password-file "$WORK/pw" \
    >/dev/null && "$BIN" --home "$WORK/$name" wallet default acct >/dev/null ||
    { echo "wallet import on $name failed" >&2; exit 1; }
}
address_of() { "$BIN" --home "$WORK/$1" wallet ls --json | jq -r '.[] | select(.name == "acct") | .address'; }
# Balances (~10^22 wei) wrap in bash's 64 bits, but their differences are exact.
balance() { echo $(($(rpc "$ANVIL_URL" eth_getBalance "[\"$1\",\"latest\"]" | jq -r .))); }
# view SIGNATURE [ARG_HEX64]: a uint256 view of the market, read from anvil (not through our code).
view() {
  local selector
  selector=$(cd "$JS_DIR" && node -e "console.log(require('ethers').id('$1').slice(2,10))")
  echo $(($(rpc "$ANVIL_URL" eth_call "[{\"to\":\"$MARKET\",\"data\":\"0x$selector${2:-}\"},\"latest\"]" | jq -r .)))
}

# --- a tracker with a market, four paid consumers, a producer, all reaching the chain by the proxy
node_home tracker 1
"$BIN" --home "$WORK/tracker" tracker --listen 127.0.0.1:0 --heartbeat-ms 300 --offline-after-ms 4000 \
  --audit-interval-ms 500 --repair-tick-ms 250 --chain-rpc "$RPC" --deploy-market --account acct \
  --password-file "$WORK/pw" >"$WORK/tracker.out" 2>"$WORK/tracker.log" &
PIDS[tracker]=$!
wait_for 60 grep -q '^tracker ' "$WORK/tracker.out" || { echo "tracker did not start:" >&2; cat "$WORK/tracker.log" >&2; exit 1; }
TRACKER=$(sed -n 's/^tracker //p' "$WORK/tracker.out" | head -1)
MARKET=$(jq -r .market.address "$WORK/tracker/tracker.json")
NETWORK_ID=$(((RANDOM << 8) + 4343))
for i in 1 2 3 4; do
  node_home c$i $((3 + i)) --network-id "$NETWORK_ID" --no-sync --tracker "$TRACKER" --limit "1 GB"
  OPEN_BUCKET_PASSWORD=$(cat "$WORK/pw") start_daemon c$i
  "$BIN" --home "$WORK/c$i" consumer config -d -c acct --price 1 >/dev/null || bad "consumer config on c$i"
  "$BIN" --home "$WORK/c$i" consumer start >/dev/null || bad "consumer start on c$i"
done
node_home producer 3 --network-id "$NETWORK_ID" --no-sync --tracker "$TRACKER" --limit "1 GB" --k 2 --m 2
start_daemon producer
PAYER=$(address_of producer)
upload() {
  "$BIN" --home "$WORK/producer" producer upload --k 2 --m 2 --tier basic --duration 1d --price 10000000 \
    --password-file "$WORK/pw" --no-wait --json "$1"
}
row_of() { files_json | jq -c --arg p "$1" '.[] | select(.path == $p)'; }
requests_on_chain() { view 'requestCount()'; }
# escrow_of RID: what request RID escrows (4 slots for a day at 10^7 wei/byte/s: tenths of an
# ETH, far above what gas costs, so a second charge cannot hide in the gas).
escrow_of() { market_request "$1" | jq -r .escrowWei; }
market_request() {
  "$BIN" --home "$WORK/producer" market request "$1" --json --rpc "$ANVIL_URL" --market "$MARKET" 2>/dev/null
}
# one_escrow SPENT ESCROW: one escrow plus gas (< 0.01 ETH); a second escrow would add ESCROW.
one_escrow() { [ "$2" -gt 10000000000000000 ] && [ "$1" -ge "$2" ] && [ "$1" -lt $(($2 + 10000000000000000)) ]; }
started() { market_request "$1" | jq -e '.state == "Started" and all(.slots[]; .state == "Filled")' >/dev/null; }

# --- 1. the node goes away right after the escrow is paid ---------------------------------------
head -c 200000 /dev/urandom >"$WORK/first.bin"
count_before=$(requests_on_chain)
payer_before=$(balance "$PAYER")
trip_next_transaction
if upload "$WORK/first.bin" >"$WORK/first.json" 2>"$WORK/first.err"; then
  bad "the upload said it succeeded while the node was away: $(cat "$WORK/first.json")"
else
  check "upload says in one line that the node went away: $(cat "$WORK/first.err")" \
    one_line_with "$WORK/first.err" 'requestStorage: cannot reach the Ethereum node' 
fi
check "the transaction went through before the node went away" wait_for 60 tripped
pending_unpaid() {
  row_of first.bin | jq -e '.status == "PENDING" and .requestState == "Unpaid" and (.error | length) > 0' >/dev/null
}
check "the upload is PENDING, its request Unpaid, with the reason: $(row_of first.bin)" wait_for 60 pending_unpaid
reason=$(row_of first.bin | jq -r .error)
check "the reason names the Ethereum node: $reason" grep -qi 'ethereum node' <<<"$reason"
# anvil answers eth_sendRawTransaction before it has mined the block: wait for the count.
count_is() { [ "$(requests_on_chain)" = "$1" ]; }
check "the chain did mine the request (requestCount $count_before -> +1)" wait_for 30 count_is $((count_before + 1))
RID=$((count_before + 1))
paid_once=$(escrow_of "$RID")
check "the escrow left the producer once" [ $((payer_before - $(balance "$PAYER"))) -ge "$paid_once" ]

# --- 2. the node comes back: the producer's retry resumes from chain state ----------------------
chain_back
uploaded() { row_of "$1" | jq -e '.status == "UPLOADED"' >/dev/null; }
# resumed_once FILE RID ESCROW BEFORE: FILE reaches UPLOADED with request RID, which starts; no
# other request was opened, and the producer's balance (BEFORE) paid one ESCROW.
resumed_once() {
  local spent
  check "$1 is uploaded once the node is back" wait_for 120 uploaded "$1"
  check "with the request it paid for ($2)" [ "$(row_of "$1" | jq -r .requestId)" = "$2" ]
  check "which every consumer fills, and it starts" wait_for 60 started "$2"
  check "no other request was opened" [ "$(requests_on_chain)" = "$2" ]
  spent=$((${4} - $(balance "$PAYER")))
  check "the producer paid one escrow ($3 wei; spent $spent)" one_escrow "$spent" "$3"
}
# The producer's own retry.
resumed_once first.bin "$RID" "$paid_once" "$payer_before"

# --- 3. the same fault, and the producer killed while the node is away ---------------------------
head -c 300000 /dev/urandom >"$WORK/second.bin"
payer_before=$(balance "$PAYER")
trip_next_transaction
upload "$WORK/second.bin" >"$WORK/second.json" 2>"$WORK/second.err"
check "the second transaction went through before the node went away" wait_for 60 tripped
pending_second() { row_of second.bin | jq -e '.status == "PENDING" and .requestState == "Unpaid"' >/dev/null; }
check "the second upload is PENDING and Unpaid" wait_for 60 pending_second
RID2=$((RID + 1))
check "its request was mined ($RID2)" wait_for 30 count_is "$RID2"
escrow2=$(escrow_of "$RID2")
kill -9 "${PIDS[producer]}"
wait "${PIDS[producer]}" 2>/dev/null
unset 'PIDS[producer]'
chain_back
start_daemon producer
check "after the restart the file is still PENDING" wait_for 30 pending_second
upload "$WORK/second.bin" >/dev/null 2>"$WORK/again.err" ||
  bad "upload again after the restart: $(cat "$WORK/again.err")"
resumed_once second.bin "$RID2" "$escrow2" "$payer_before"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
