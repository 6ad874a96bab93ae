#!/usr/bin/env bash
# The storage market wired into the product (issue 11), end to end with real processes against
# anvil (a real EVM node from the npm registry); every figure is read from the chain with the
# `rpc` helper (eth_getCode, eth_call, eth_getBalance), never by asking our own code:
#   - tracker --chain-rpc --deploy-market: the StorageMarket built into the binary is deployed
#     from the tracker's wallet account, its parameters read back on chain, and a restart reuses
#     it (<home>/market.json) instead of deploying again
#   - every bad start (no --market/--deploy-market, both, a wrong passphrase, an unknown account,
#     an address with no contract, a node that is down) says one clear line, exits non-zero and
#     deploys nothing (the deployer's nonce is unchanged)
#   - market requests|request show a storage request that ethers opened (state, slots, escrow,
#     the escrow matching the contract's balance), and refuse bad input in one line
#   - the vertical slice: 4 consumers with funded accounts (anvil's developer keys imported with
#     --private-key-file) and a producer; a Basic-tier upload pays its storage request
#     (requestStorage) and reaches UPLOADED, every slot is Filled on chain by the consumer the
#     tracker chose and the request Started (`producer ls` says so too), the escrow left the
#     producer's account and each collateral its consumer's (eth_getBalance), ProofSubmitted
#     events appear as periods pass (a background loop mines a block every 0.4 s), and a
#     consumer killed with SIGKILL gets a proof marked missing by the tracker (ProofMissed, its
#     slot slashed, the tracker's account credited the validator share)
#   - market holders names each slot's consumer (the tracker's CheckHolders) and, for the paid
#     file, the account hosting it on chain and the slot's state
#   - seed 000's contract termination and payouts: a slot file deleted on a live consumer is
#     freed on chain by it (SlotFreed from its account, its pay settled); `producer rm` without
#     the paying passphrase removes nothing, with it cancels the request (Cancelled on chain),
#     leaving the producer's refund and each host's pay and collateral withdrawable;
#     `producer withdraw` and `consumer withdraw` move them (eth_getBalance rises by the amount
#     less the receipt's gasUsed x effectiveGasPrice), and a second withdraw fails in one line
# Usage: market_chain_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/market_lib.sh"

BIN=${1:?usage: market_chain_test.sh PATH/TO/open-bucket}
chain_e2e_setup market_chain

start_anvil "$WORK/anvil.log" || exit 1
echo "not it" >"$WORK/wrong"
# The tracker's home and wallet: anvil's developer account 0 as the default, and account 1
# (funded) as "placer", the one the tracker is told to use.
market_tracker_home

# tracker_refuses NAME EXPECTED_TEXT ARGS...: the tracker exits non-zero at once with that text
# on stderr, in one line, and nothing was sent from the placer.
tracker_refuses() {
  local name=$1 expected=$2
  shift 2
  local before
  before=$(nonce_of "$PLACER")
  timeout 60 "$BIN" --home "$WORK/tracker" tracker --listen 127.0.0.1:0 --metrics off "$@" \
    >"$WORK/refused.out" 2>"$WORK/refused.err"
  local code=$?
  if [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && grep -q -- "$expected" "$WORK/refused.err" &&
    [ "$(grep -c . "$WORK/refused.err")" -le 2 ] && [ "$(nonce_of "$PLACER")" = "$before" ]; then
    ok
  else
    bad "$name (exit $code): $(cat "$WORK/refused.err")"
  fi
}
tracker_refuses "--chain-rpc alone" "either --market ADDRESS or --deploy-market" \
  --chain-rpc "$ANVIL_URL" --account placer --password-file "$WORK/pw"
tracker_refuses "--market without --chain-rpc" "need --chain-rpc" \
  --market 0x5FbDB2315678afecb367f032d93F642f64180aa3
tracker_refuses "--market and --deploy-market" "excludes" \
  --chain-rpc "$ANVIL_URL" --market 0x5FbDB2315678afecb367f032d93F642f64180aa3 --deploy-market --password-file "$WORK/pw"
tracker_refuses "a wrong passphrase" "passphrase" \
  --chain-rpc "$ANVIL_URL" --deploy-market --account placer --password-file "$WORK/wrong"
tracker_refuses "an unknown account" "no account 'nobody'" \
  --chain-rpc "$ANVIL_URL" --deploy-market --account nobody --password-file "$WORK/pw"
tracker_refuses "an address without a contract" "no StorageMarket at" \
  --chain-rpc "$ANVIL_URL" --market "$PLACER" --account placer --password-file "$WORK/pw"
tracker_refuses "a node that is down" "cannot reach the Ethereum node" \
  --chain-rpc http://127.0.0.1:1 --deploy-market --account placer --password-file "$WORK/pw"
check "no market was remembered by the refused starts" [ ! -e "$WORK/tracker/market.json" ]

# --- the tracker deploys the market from its account -------------------------------------------
start_tracker
check "tracker.json names the market's chain" [ "$(jq -r .market.chainId "$WORK/tracker/tracker.json")" = 31337 ]
check "tracker.json names the tracker's account as the placer" \
  [ "$(jq -r .market.placer "$WORK/tracker/tracker.json")" = "$PLACER" ]
code=$(rpc "$ANVIL_URL" eth_getCode "[\"$MARKET\",\"latest\"]" | jq -r .)
check "the market has code on chain" [ "${#code}" -gt 1000 ]
# Read the parameter the tracker deployed with (10 blocks).
period=$(rpc "$ANVIL_URL" eth_call "[{\"to\":\"$MARKET\",\"data\":\"0x$(selector 'proofPeriod()')\"},\"latest\"]" | jq -r .)
check "the market was deployed with a 10-block proof period ($period)" [ "$((period))" = 10 ]
deployer_nonce=$(nonce_of "$PLACER")

# --- a restart reuses it -----------------------------------------------------------------------
stop_tracker
start_tracker
check "a restarted tracker reuses the market it deployed" \
  [ "$(jq -r .market.address "$WORK/tracker/tracker.json")" = "$MARKET" ]
check "and deploys nothing" [ "$(nonce_of "$PLACER")" = "$deployer_nonce" ]
stop_tracker

# --- market requests|request read the chain: a request opened by ethers, independently ---------
ARTIFACT="$(cd "$(dirname "$0")/.." && pwd)/contracts/artifacts/StorageMarket.json"
CLIENT_KEY=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a  # anvil account 2
(cd "$JS_DIR" && node --input-type=module -e "
  import { ethers } from 'ethers';
  import { readFileSync } from 'node:fs';
  const { abi } = JSON.parse(readFileSync('$ARTIFACT'));
  const wallet = new ethers.Wallet('$CLIENT_KEY', new ethers.JsonRpcProvider('$ANVIL_URL'));
  const market = new ethers.Contract('$MARKET', abi, wallet);
  const ask = { manifestCid: '0x01551220' + 'ab'.repeat(32), datasetRoot: '0x' + '11'.repeat(32), n: 3, k: 2,
    blockSize: 2048, slotSize: 6144, duration: 3600, expiry: 600, pricePerByteSecond: 1000n, collateralPerByte: 10n,
    proofProbability: 4, placer: '$PLACER' };
  const escrow = 3n * 6144n * 3600n * 1000n;
  await (await market.requestStorage(ethers.id('ethers request'), ask, { value: escrow })).wait();
") >"$WORK/ethers.out" 2>&1 || bad "ethers opens a storage request: $(cat "$WORK/ethers.out")"
market_cli request 1 --json >"$WORK/request.json" 2>"$WORK/request.err" || bad "market request 1: $(cat "$WORK/request.err")"
json_has() { jq -e "$@" >/dev/null; }
check "market request shows the request ethers opened" json_has --arg p "$PLACER" '.requestId == "1" and .state == "New"
  and .n == 3 and .k == 2 and .filled == 0 and .placer == $p and .escrowWei == "66355200000"
  and .slotSize == 6144 and (.slots | length) == 3 and all(.slots[]; .state == "Free" and .host == null)' "$WORK/request.json"
check "the escrow it shows is what the contract holds (eth_getBalance)" \
  [ "$(($(rpc "$ANVIL_URL" eth_getBalance "[\"$MARKET\",\"latest\"]" | jq -r .)))" = 66355200000 ]
check "market requests lists it" [ "$(market_cli requests --json | jq -r '.[0].manifestCid')" = \
  "$(jq -r .manifestCid "$WORK/request.json")" ]
market_refuses() {
  local name=$1 expected=$2
  shift 2
  if "$BIN" --home "$WORK/tracker" market "$@" >/dev/null 2>"$WORK/refused.err"; then
    bad "$name: accepted"
  elif grep -q -- "$expected" "$WORK/refused.err" && [ "$(grep -c . "$WORK/refused.err")" -eq 1 ]; then
    ok
  else
    bad "$name: $(cat "$WORK/refused.err")"
  fi
}
market_refuses "an unknown request" "RequestNotFound(requestId: 9)" request 9 --rpc "$ANVIL_URL" --market "$MARKET"
market_refuses "a request ID that is not one" "not a request ID: 0x1" request 0x1 --rpc "$ANVIL_URL" --market "$MARKET"
market_refuses "an address without the market" "no StorageMarket at" requests --rpc "$ANVIL_URL" --market "$PLACER"
market_refuses "a node that is down" "cannot reach the Ethereum node" requests --rpc http://127.0.0.1:1 --market "$MARKET"

# --- the vertical slice: a Basic-tier upload paid on chain, filled, proven and slashed ---------
# anvil mines a block per transaction; a background loop mines one more every 0.4 s, so that a
# 10-block proof period lasts about 4 s and its 5-block validation timeout about 2 s.
start_tracker
start_miner 0.4

CONSUMERS=4
start_paid_network $CONSUMERS
market_before=$(balance "$MARKET")

head -c 300000 /dev/urandom >"$WORK/paid.bin"
# A wrong passphrase is refused before anything is copied or charged.
payer_nonce=$(nonce_of "$PAYER")
if "$BIN" --home "$WORK/producer" producer upload --tier basic --duration 1d --password-file "$WORK/wrong" \
  "$WORK/paid.bin" >/dev/null 2>"$WORK/upload.err"; then
  bad "an upload with a wrong passphrase was accepted"
else
  check "a wrong passphrase is refused in one line: $(cat "$WORK/upload.err")" grep -q passphrase "$WORK/upload.err"
fi
check "and nothing was sent from the paying account" [ "$(nonce_of "$PAYER")" = "$payer_nonce" ]
check "nor copied into the Producer directory" [ "$("$BIN" --home "$WORK/producer" producer ls -l --json | jq length)" = 0 ]
"$BIN" --home "$WORK/producer" producer upload --k 2 --m 2 --tier basic --duration 1d --price 1 \
  --password-file "$WORK/pw" --json "$WORK/paid.bin" >"$WORK/upload.json" 2>"$WORK/upload.err" ||
  bad "a Basic-tier upload: $(cat "$WORK/upload.err")"
ID=$(jq -r .id "$WORK/upload.json")
check "the paid file reaches UPLOADED" wait_for 60 file_is "$ID" UPLOADED 3
RID=$(files_json | jq -r --arg id "$ID" '.[] | select(.id == $id) | .requestId')
slots_filled() {
  market_cli request "$RID" --json >"$WORK/paid.json" 2>/dev/null &&
    jq -e --arg p "$PAYER" '.state == "Started" and .n == 4 and .k == 2 and .client == $p
      and all(.slots[]; .state == "Filled")' "$WORK/paid.json" >/dev/null
}
check "every slot is Filled on chain and the request Started" wait_for 60 slots_filled
shows_request() {
  "$BIN" --home "$WORK/producer" producer ls --json | jq -e --arg id "$ID" --arg r "$RID" '.[] | select(.id == $id)
    | .tier == "basic" and .requestId == $r and (.requestId | test("^[0-9]+$")) and .requestState == "Started"' >/dev/null
}
check "producer ls shows the tier, the request ($RID) and that it started" shows_request
hosts=$(jq -r '[.slots[].host] | sort | join(" ")' "$WORK/paid.json")
check "the four consumers host one slot each" [ "$hosts" = "$(printf '%s\n' "${HOST[@]}" | sort | tr '\n' ' ' | sed 's/ $//')" ]

# Balances, from eth_getBalance: the escrow left the producer, each collateral its consumer.
slot_size=$(jq -r .slotSize "$WORK/paid.json")
escrow=$((4 * slot_size * 86400 * 1))
collateral=$((slot_size * 86400))
check "the market holds the escrow and four collaterals" \
  [ "$(balance "$MARKET")" = "$((market_before + escrow + 4 * collateral))" ]
spent=$((payer_before - $(balance "$PAYER")))
check "the escrow ($escrow wei) left the producer's account (spent $spent, gas < 0.01 ETH)" in_range "$spent" "$escrow"
for i in $(seq 1 $CONSUMERS); do
  spent=$((HOST_BEFORE[$i] - $(balance "${HOST[$i]}")))
  check "c$i's collateral ($collateral wei) left its account (spent $spent)" in_range "$spent" "$collateral"
done

# Proofs: consumers answer the challenges that require one (Basic: one period in four). The
# contract's events, read with eth_getLogs: ProofSubmitted for the request (topic 1).
SUBMITTED=$(topic 'ProofSubmitted(uint256,uint256,uint64)')
MISSED=$(topic 'ProofMissed(uint256,uint256,uint64,address,uint256,uint256)')
RID_TOPIC=$(uint_topic "$RID")
events() { logs "$1" "$RID_TOPIC" | jq length; }
proofs_submitted() { [ "$(events "$SUBMITTED")" -ge 2 ]; }
check "challenged consumers submit proofs (ProofSubmitted on chain)" wait_for 60 proofs_submitted

# A consumer killed with SIGKILL misses its proofs; the tracker marks one missing.
kill -9 "${PIDS[c1]}"
wait "${PIDS[c1]}" 2>/dev/null
unset 'PIDS[c1]'
missed() { grep -q "validator: marked the proof of request $RID slot [0-9]* period [0-9]* missing (host ${HOST[1]})" \
  "$WORK/tracker.log"; }
check "the killed consumer's proof is marked missing by the tracker" wait_for 90 missed
check "ProofMissed is on chain" [ "$(events "$MISSED")" -ge 1 ]
market_cli request "$RID" --json >"$WORK/paid.json" 2>/dev/null
slashed() { jq -e --arg h "${HOST[1]}" 'any(.slots[]; .host == $h and .slashes >= 1)' "$WORK/paid.json" >/dev/null; }
check "the killed consumer's slot was slashed" slashed
placer_credit=$(withdrawable "$PLACER")
check "the tracker's account earned the validator share ($placer_credit)" [ "$placer_credit" -gt 0 ]

# --- market holders: the tracker's holders and, for a paid file, each slot's host on chain -----
"$BIN" --home "$WORK/producer" market holders "$ID" --json >"$WORK/holders.json" 2>"$WORK/holders.err" ||
  bad "market holders: $(cat "$WORK/holders.err")"
# holds I: c$I's peer (daemon.json) holds a slot whose host on chain is c$I's account, Filled.
holds() {
  jq -e --arg p "$(jq -r .peerId "$WORK/c$1/daemon.json")" --arg h "${HOST[$1]}" --arg r "$RID" \
    '.requestId == $r and .requestState == "Started" and
     any(.holders[]; .peerId == $p and .host == $h and .slotState == "Filled")' "$WORK/holders.json" >/dev/null
}
for i in 2 3 4; do check "market holders names c$i's peer and, on chain, its account hosting the slot" holds $i; done
market_refuses "holders of a file the tracker does not know" "not exists" holders --tracker "$TRACKER" \
  "$(jq -r .manifestCid "$WORK/request.json")"

# --- a consumer whose slot file is deleted terminates its slot's contract (freeSlot) -----------
FREED=$(topic 'SlotFreed(uint256,uint256,address,uint8,bool,uint256)')
C2_TOPIC=$(address_topic "${HOST[2]}")
c2_slot=$(jq -r --arg h "${HOST[2]}" '.slots[] | select(.host == $h) | .index' "$WORK/paid.json")
# Deleted while c2's daemon is stopped, so that CWatcher's scan at start finds it before the
# tracker's audits (every 500 ms here) can: a running c2 races them, and when an audit wins the
# tracker repairs the slot onto c2 itself, which then just goes on holding it.
kill "${PIDS[c2]}" && wait "${PIDS[c2]}"
rm -f "$WORK/c2/consume/$ID/"*
OPEN_BUCKET_PASSWORD=$(cat "$WORK/pw") start_daemon c2
freed_by_c2() {
  logs "$FREED" "$RID_TOPIC" "$C2_TOPIC" | jq -e 'length >= 1' >/dev/null
}
check "c2, its slot $c2_slot deleted on disk, frees it on chain (SlotFreed from its account)" wait_for 60 freed_by_c2
check "c2 says why: CWatcher found the slot gone" grep -q "slot $c2_slot of storage request $RID is given up" "$WORK/c2.log"
check "c2 got the pay earned until then (withdrawable > 0)" [ "$(withdrawable "${HOST[2]}")" -gt 0 ]
c2_round=$(jq -r --argjson s "$c2_slot" '.slots[] | select(.index == $s) | .round' "$WORK/paid.json")
# c2 proves that slot no more (market_slots.json), unless the tracker's repair gave the slot back
# to it (the only consumer free to take it here) and it filled it anew, in a later round.
not_proving() {
  jq -e --argjson s "$c2_slot" 'all(.slots[]; .slot != $s or .release == true)' "$WORK/c2/state/market_slots.json" >/dev/null ||
    [ "$(market_cli request "$RID" --json | jq -r --argjson s "$c2_slot" '.slots[] | select(.index == $s) | .round')" -gt "$c2_round" ]
}
check "c2 no longer proves what it gave up (market_slots.json, or a new round on chain)" not_proving

# --- producer rm cancels the request; both sides withdraw --------------------------------------
# Without the paying account's passphrase nothing is removed: the contract would go on billing.
if "$BIN" --home "$WORK/producer" producer rm "$ID" >/dev/null 2>"$WORK/rm.err"; then
  bad "producer rm of a paid file without a passphrase was accepted"
else
  check "rm without the passphrase says why in one line: $(cat "$WORK/rm.err")" \
    grep -q "is not removed: its storage request $RID still runs and bills" "$WORK/rm.err"
fi
listed() { files_json | jq -e --arg id "$ID" 'any(.[]; .id == $id)' >/dev/null; }
check "and the file stays" listed
check "and the request still runs" [ "$(market_cli request "$RID" --json | jq -r .state)" = Started ]
"$BIN" --home "$WORK/producer" producer rm --password-file "$WORK/pw" "$ID" >"$WORK/rm.out" 2>"$WORK/rm.err" ||
  bad "producer rm of the paid file: $(cat "$WORK/rm.err")"
check "the request is Cancelled on chain" [ "$(market_cli request "$RID" --json | jq -r .state)" = Cancelled ]
check "the file is gone from the producer's list" \
  [ "$("$BIN" --home "$WORK/producer" producer ls --json | jq --arg id "$ID" '[.[] | select(.id == $id)] | length')" = 0 ]
refund=$(withdrawable "$PAYER")
check "the producer's refund is withdrawable ($refund wei)" [ "$refund" -gt 0 ]
for i in 3 4; do
  credit=$(withdrawable "${HOST[$i]}")
  check "c$i's pay and collateral are withdrawable ($credit > $collateral wei)" [ "$credit" -gt "$collateral" ]
done
earned=$("$BIN" --home "$WORK/c3" consumer earnings --json | jq -r .withdrawable)
check "consumer earnings shows what the chain says ($earned)" [ "$earned" = "$(withdrawable "${HOST[3]}")" ]
"$BIN" --home "$WORK/c3" consumer earnings >"$WORK/earnings.txt" 2>&1 || bad "consumer earnings: $(cat "$WORK/earnings.txt")"
check "and as a table, in ETH: $(head -1 "$WORK/earnings.txt")" \
  grep -q "^Account ${HOST[3]}: [0-9.]* ETH to withdraw$" "$WORK/earnings.txt"

withdraws "producer withdraw" "$PAYER" "$BIN" --home "$WORK/producer" producer withdraw --password-file "$WORK/pw"
withdraws "consumer withdraw on c3" "${HOST[3]}" "$BIN" --home "$WORK/c3" consumer withdraw
# Twice: one clear line, nothing sent.
payer_nonce=$(nonce_of "$PAYER")
if "$BIN" --home "$WORK/producer" producer withdraw --password-file "$WORK/pw" >/dev/null 2>"$WORK/withdraw.err"; then
  bad "a second producer withdraw was accepted"
else
  one_line_nothing() { [ "$(grep -c . "$WORK/withdraw.err")" = 1 ] && grep -q "Nothing to withdraw" "$WORK/withdraw.err"; }
  check "a second withdraw says there is nothing, in one line: $(cat "$WORK/withdraw.err")" one_line_nothing
fi
check "and sends nothing" [ "$(nonce_of "$PAYER")" = "$payer_nonce" ]
if "$BIN" --home "$WORK/c3" consumer withdraw >/dev/null 2>"$WORK/withdraw.err"; then
  bad "a second consumer withdraw was accepted"
else
  check "a second consumer withdraw says there is nothing" grep -q "Nothing to withdraw" "$WORK/withdraw.err"
fi
stop_miner

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
