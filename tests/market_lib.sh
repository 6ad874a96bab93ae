# Shared by the storage market's end-to-end tests (source it after lib.sh and chain_e2e_setup):
# a tracker that deploys the market from anvil's developer account 1, homes paying from anvil's
# developer accounts, and readers of the chain that never ask our own code (eth_getBalance,
# eth_call, eth_getLogs, receipts). Uses BIN, WORK, PIDS and ANVIL_URL; sets TRACKER, MARKET,
# PLACER and NETWORK_ID.
#   market_tracker_home          $WORK/tracker: account 0 of anvil's mnemonic as its default, account 1
#                                (funded) as "placer"; every passphrase is the one in $WORK/pw
#   start_tracker [FLAGS...]     the tracker on a free port, deploying (or reusing) the market with
#                                the placer; FLAGS are added (e.g. --proof-timeout 10)
#   stop_tracker                 stops it
#   start_miner SECONDS          mines one block every SECONDS besides anvil's block per transaction
#                                (so proof periods pass); stop_miner stops it
#   paid_node NAME INDEX         a home $WORK/NAME on the tracker's network whose default account
#                                "acct" is anvil's developer account INDEX (imported by private key)
#   address_of NAME              that account's address
#   start_paid_network N         consumers c1..cN (developer accounts 4..N+3, price 1 wei per
#                                byte-second, daemons started) and a producer (account 3);
#                                sets HOST[i] (c$i's address), HOST_BEFORE[i] (its balance),
#                                PAYER and payer_before likewise for the producer
#   dev_key INDEX                the private key of anvil's developer account INDEX (hex, no 0x)
#   nonce_of ADDRESS             its transaction count
#   balance ADDRESS              its Ether in wei (eth_getBalance; 64-bit: compare differences only)
#   withdrawable ADDRESS         the market's withdrawable(ADDRESS) in wei (eth_call)
#   in_range VALUE LOW           LOW <= VALUE < LOW + 0.01 ETH (what gas may add to a payment)
#   fee_of TX                    gasUsed x effectiveGasPrice of TX's receipt, in wei
#   topic SIGNATURE              an event's topic 0 (keccak256 of the signature, by ethers)
#   logs TOPIC0 [TOPIC...]       the market's events with those topics (eth_getLogs, JSON array)
#   uint_topic N / address_topic ADDRESS: a topic word for an indexed uint256 / address
#   market_cli ARGS...           `open-bucket market ARGS` against this chain and market
#   withdraws NAME ADDRESS CMD...  CMD (given --json) withdraws ADDRESS's whole balance: checks the
#                                reply's amount, the account's gain less the receipt's fee, and
#                                that nothing is left to withdraw
PLACER=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
ANVIL_MNEMONIC="test test test test test test test test test test test junk"
# Keystores in these tests use scrypt n = 4096 instead of 2^18 (seconds saved per keystore).
export OPEN_BUCKET_TEST_SCRYPT_N=4096
unset OPEN_BUCKET_PASSWORD OPEN_BUCKET_HOME

market_tracker_home() {
  echo "$ANVIL_MNEMONIC" >"$WORK/junk.txt"
  echo "tracker passphrase" >"$WORK/pw"
  "$BIN" --home "$WORK/tracker" init -d --rpc "$ANVIL_URL" --mnemonic-file "$WORK/junk.txt" --password-file "$WORK/pw" \
    --api-port 0 --p2p-port 0 --dht-port 0 >"$WORK/init.out" 2>&1 || { cat "$WORK/init.out" >&2; exit 1; }
  "$BIN" --home "$WORK/tracker" wallet import --mnemonic-file "$WORK/junk.txt" --index 1 --name placer \
    --password-file "$WORK/pw" >/dev/null || { echo "wallet import failed" >&2; exit 1; }
  NETWORK_ID=$(((RANDOM << 8) + 4242))
}

start_tracker() {
  : >"$WORK/tracker.out"
  "$BIN" --home "$WORK/tracker" tracker --listen 127.0.0.1:0 --heartbeat-ms 300 --offline-after-ms 2000 \
    --audit-interval-ms 500 --repair-tick-ms 250 --chain-rpc "$ANVIL_URL" --deploy-market \
    --account placer --password-file "$WORK/pw" "$@" >>"$WORK/tracker.out" 2>>"$WORK/tracker.log" &
  PIDS[tracker]=$!
  wait_for 60 grep -q '^tracker ' "$WORK/tracker.out" || { echo "tracker did not start:" >&2; cat "$WORK/tracker.log" >&2; exit 1; }
  TRACKER=$(sed -n 's/^tracker //p' "$WORK/tracker.out" | head -1)
  MARKET=$(jq -r .market.address "$WORK/tracker/tracker.json")
}
stop_tracker() {
  kill "${PIDS[tracker]}" && wait "${PIDS[tracker]}"
  unset 'PIDS[tracker]'
}

start_miner() {
  ( while sleep "$1"; do rpc "$ANVIL_URL" anvil_mine '["0x1"]' >/dev/null; done ) &
  PIDS[miner]=$!
}
stop_miner() {
  kill "${PIDS[miner]}" 2>/dev/null
  wait "${PIDS[miner]}" 2>/dev/null
  unset 'PIDS[miner]'
}

dev_key() {
  (cd "$JS_DIR" && node -e "
    const {HDNodeWallet}=require('ethers');
    console.log(HDNodeWallet.fromPhrase('$ANVIL_MNEMONIC', undefined, \"m/44'/60'/0'/0/$1\").privateKey.slice(2))")
}
paid_node() {
  "$BIN" --home "$WORK/$1" init -d --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$NETWORK_ID" --no-sync \
    --tracker "$TRACKER" --limit "1 GB" --k 2 --m 2 --rpc "$ANVIL_URL" >/dev/null || { echo "init $1 failed" >&2; exit 1; }
  dev_key "$2" >"$WORK/$1.key"
  "$BIN" --home "$WORK/$1" wallet import --private-key-file "$WORK/$1.key" --name acct --password-file "$WORK/pw" \
    >/dev/null || { echo "wallet import on $1 failed" >&2; exit 1; }
  "$BIN" --home "$WORK/$1" wallet default acct >/dev/null || { echo "wallet default on $1 failed" >&2; exit 1; }
}
start_paid_network() {
  local i
  for i in $(seq 1 "$1"); do
    paid_node c$i $((3 + i))
    OPEN_BUCKET_PASSWORD=$(cat "$WORK/pw") start_daemon c$i
    "$BIN" --home "$WORK/c$i" consumer config -d -c acct --price 1 >/dev/null || bad "consumer config on c$i"
    "$BIN" --home "$WORK/c$i" consumer start >/dev/null || bad "consumer start on c$i"
    HOST[$i]=$(address_of c$i)
    HOST_BEFORE[$i]=$(balance "${HOST[$i]}")
  done
  paid_node producer 3
  start_daemon producer
  PAYER=$(address_of producer)
  payer_before=$(balance "$PAYER")
}
address_of() { "$BIN" --home "$WORK/$1" wallet ls --json | jq -r '.[] | select(.name == "acct") | .address'; }

nonce_of() { rpc "$ANVIL_URL" eth_getTransactionCount "[\"$1\",\"latest\"]"; }
balance() { echo $(($(rpc "$ANVIL_URL" eth_getBalance "[\"$1\",\"latest\"]" | jq -r .))); }
# selector SIGNATURE: a function's 4-byte selector, hex without 0x (by ethers).
selector() { (cd "$JS_DIR" && node -e "console.log(require('ethers').id('$1').slice(2,10))"); }
address_word() { printf '%064s' "$(echo "${1#0x}" | tr 'A-F' 'a-f')" | tr ' ' 0; }
withdrawable() {
  [ -n "${WITHDRAWABLE_SELECTOR:-}" ] || WITHDRAWABLE_SELECTOR=$(selector 'withdrawable(address)')
  echo $(($(rpc "$ANVIL_URL" eth_call \
    "[{\"to\":\"$MARKET\",\"data\":\"0x$WITHDRAWABLE_SELECTOR$(address_word "$1")\"},\"latest\"]" | jq -r .)))
}
in_range() { [ "$1" -ge "$2" ] && [ "$1" -lt "$(($2 + 10000000000000000))" ]; }
fee_of() {
  local receipt
  receipt=$(rpc "$ANVIL_URL" eth_getTransactionReceipt "[\"$1\"]")
  echo $(($(jq -r .gasUsed <<<"$receipt") * $(jq -r .effectiveGasPrice <<<"$receipt")))
}
topic() { (cd "$JS_DIR" && node -e "console.log(require('ethers').id('$1'))"); }
uint_topic() { echo "0x$(printf '%064x' "$1")"; }
address_topic() { echo "0x$(address_word "$1")"; }
logs() {
  local topics
  topics=$(printf '"%s",' "$@")
  rpc "$ANVIL_URL" eth_getLogs "[{\"address\":\"$MARKET\",\"fromBlock\":\"0x0\",\"topics\":[${topics%,}]}]"
}
market_cli() { "$BIN" --home "$WORK/tracker" market "$@" --rpc "$ANVIL_URL" --market "$MARKET"; }

withdraws() {
  local name=$1 address=$2
  shift 2
  local owed before reply
  owed=$(withdrawable "$address")
  before=$(balance "$address")
  if ! reply=$("$@" --json 2>"$WORK/withdraw.err"); then
    bad "$name: $(cat "$WORK/withdraw.err")"
    return
  fi
  local gained=$(($(balance "$address") - before)) fee
  fee=$(fee_of "$(jq -r .transaction <<<"$reply")")
  check "$name: the reply names the $owed wei" [ "$(jq -r .amount <<<"$reply")" = "$owed" ]
  check "$name: the account gained $owed wei less the gas ($gained = $owed - $fee)" [ "$gained" = "$((owed - fee))" ]
  check "$name: nothing is withdrawable any more" [ "$(withdrawable "$address")" = 0 ]
}
