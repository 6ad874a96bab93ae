#!/usr/bin/env bash
# A paid file's whole life on the storage market (issue 11's end-to-end test), with real
# processes: anvil, a tracker that deploys the market and validates, 6 consumers with funded
# accounts and a producer. Every figure is read from the chain (eth_getBalance, eth_call,
# eth_getLogs, receipts), never from our own code:
#   - a Basic-tier upload pays its escrow and every one of the n = 4 slots is filled (collateral
#     from each host's account); the 2 other consumers are spares
#   - challenged consumers prove (ProofSubmitted)
#   - 2 hosts killed with SIGKILL miss their proofs: the tracker marks them (ProofMissed), each is
#     slashed twice and removed (SlotFreed, removed), its whole collateral forfeited
#   - the tracker repairs: the spares fill the freed slots (SlotFilled with the repair reward)
#     and the file's availability is back to m + 1 = 3
#   - a download, byte-identical, is confirmed on chain by the tracker (PaymentSettled to each
#     host), `producer rm` cancels the request (RequestEnded, the refund), and everybody
#     withdraws: the producer, the 4 hosts, and the tracker its validator share; each account
#     gains what the market owed it less the receipt's gas, the killed hosts are owed nothing,
#     the refund is escrow - pay + forfeits - repair rewards, and the market ends with 0 wei
# Typically 70-150 s (the missed proofs wait on the challenges' draw).
# Usage: market_lifecycle_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/market_lib.sh"

BIN=${1:?usage: market_lifecycle_test.sh PATH/TO/open-bucket}
chain_e2e_setup market_lifecycle
start_anvil "$WORK/anvil.log" || exit 1
market_tracker_home
# The demo's market: 10-block periods and as many blocks to mark a missed proof, a host removed
# after its second missed proof; a block every 0.3 s besides anvil's one per transaction.
start_tracker --proof-period 10 --proof-timeout 10 --max-slashes 2
start_miner 0.3
PLACER_BEFORE=$(withdrawable "$PLACER")
check "the market starts empty" [ "$(balance "$MARKET")" = 0 ]

CONSUMERS=6
start_paid_network $CONSUMERS

# --- the upload pays, every slot fills --------------------------------------------------------
head -c 3000001 /dev/urandom >"$WORK/paid.bin"
"$BIN" --home "$WORK/producer" producer upload --k 2 --m 2 --tier basic --duration 1d --price 1 \
  --password-file "$WORK/pw" --json "$WORK/paid.bin" >"$WORK/upload.json" 2>"$WORK/upload.err" ||
  { bad "a Basic-tier upload: $(cat "$WORK/upload.err")"; exit 1; }
ID=$(jq -r .id "$WORK/upload.json")
# Availability (seed 000): slots that may be lost + 1, m + 1 = 3.
check "the paid file reaches UPLOADED at availability 3" wait_for 90 file_is "$ID" UPLOADED 3
RID=$(files_json | jq -r --arg id "$ID" '.[] | select(.id == $id) | .requestId')
RID_TOPIC=$(uint_topic "$RID")
request_json() { market_cli request "$RID" --json >"$WORK/request.json" 2>/dev/null; }
all_filled() { request_json && jq -e '.state == "Started" and (.slots | length) == 4 and all(.slots[]; .state == "Filled")' \
  "$WORK/request.json" >/dev/null; }
check "every slot is Filled on chain and the request Started" wait_for 90 all_filled
# Which consumer hosts which slot, by address.
index_of() {
  local i
  for i in $(seq 1 $CONSUMERS); do [ "${HOST[$i],,}" = "${1,,}" ] && echo "$i"; done
}
HOSTING=()
for slot in 0 1 2 3; do HOSTING[$slot]=$(index_of "$(jq -r --argjson s $slot '.slots[$s].host' "$WORK/request.json")"); done
SPARES=()
for i in $(seq 1 $CONSUMERS); do [[ " ${HOSTING[*]} " == *" $i "* ]] || SPARES+=("$i"); done
if [ "$(printf '%s\n' "${HOSTING[@]}" | sort -u | grep -c .)" = 4 ] && [ "${#SPARES[@]}" = 2 ]; then
  ok
else
  bad "four consumers should host one slot each, two be spares: hosts ${HOSTING[*]}, spares ${SPARES[*]}"
  exit 1
fi
# producer ls shows the request as the chain has it: escrow left and each slot's consumer.
lists_request() {
  request_json && files_json | jq -e --arg id "$ID" --slurpfile r "$WORK/request.json" '.[] | select(.id == $id)
    | .tier == "basic" and .requestId == $r[0].requestId and .requestState == "Started"
      and .escrowLeftWei == $r[0].escrowWei and .consumers == [$r[0].slots[].host]' >/dev/null
}
check "producer ls shows the request, its escrow left and the consumers of its slots" wait_for 30 lists_request
"$BIN" --home "$WORK/producer" producer ls >"$WORK/ls.txt" 2>&1
check "and its table the tier, request and escrow: $(grep -o "basic #.*" "$WORK/ls.txt")" \
  grep -q "basic #$RID Started, [0-9.]* ETH left" "$WORK/ls.txt"
slot_size=$(jq -r .slotSize "$WORK/request.json")
escrow=$((4 * slot_size * 86400))
collateral=$((slot_size * 86400))
check "the market holds the escrow and four collaterals (eth_getBalance)" \
  [ "$(balance "$MARKET")" = "$((escrow + 4 * collateral))" ]
spent=$((payer_before - $(balance "$PAYER")))
check "the escrow ($escrow wei) left the producer's account (spent $spent)" in_range "$spent" "$escrow"
for slot in 0 1 2 3; do
  i=${HOSTING[$slot]}
  spent=$((HOST_BEFORE[$i] - $(balance "${HOST[$i]}")))
  check "c$i's collateral ($collateral wei) left its account (spent $spent)" in_range "$spent" "$collateral"
done

SUBMITTED=$(topic 'ProofSubmitted(uint256,uint256,uint64)')
MISSED=$(topic 'ProofMissed(uint256,uint256,uint64,address,uint256,uint256)')
FREED=$(topic 'SlotFreed(uint256,uint256,address,uint8,bool,uint256)')
FILLED=$(topic 'SlotFilled(uint256,uint256,address,uint16,uint256)')
SETTLED=$(topic 'PaymentSettled(uint256,uint256,address,uint256)')
PAID=$(topic 'SlotPaid(uint256,uint256,address,uint256,uint256)')
ENDED=$(topic 'RequestEnded(uint256,uint8,uint256)')
# sum_word FILE N: the sum of the N-th 32-byte word of the data of every event in FILE (a JSON
# array from `logs`); 64-bit, enough for this test's amounts (< 10^15 wei).
sum_word() {
  local total=0 data
  for data in $(jq -r '.[].data' "$1"); do total=$((total + 16#${data:$((2 + 64 * $2)):64})); done
  echo "$total"
}
proofs_submitted() { [ "$(logs "$SUBMITTED" "$RID_TOPIC" | jq length)" -ge 2 ]; }
check "challenged consumers submit proofs (ProofSubmitted)" wait_for 90 proofs_submitted

# --- two hosts die: slashed, removed ---------------------------------------------------------
KILLED=("${HOSTING[0]}" "${HOSTING[1]}")
for i in "${KILLED[@]}"; do
  kill -9 "${PIDS[c$i]}"
  wait "${PIDS[c$i]}" 2>/dev/null
  unset "PIDS[c$i]"
done
# removed I: c$I's slot was freed with `removed` set (the SlotFreed event's third data word).
removed() { logs "$FREED" "$RID_TOPIC" "$(address_topic "${HOST[$1]}")" | jq -e 'any(.[]; .data[130:194] | test("1$"))' >/dev/null; }
for i in "${KILLED[@]}"; do
  check "c$i, killed, missed 2 proofs and was removed (ProofMissed x2, SlotFreed)" wait_for 240 removed "$i"
done
logs "$MISSED" "$RID_TOPIC" >"$WORK/missed.json"
logs "$FREED" "$RID_TOPIC" >"$WORK/freed.json"
# JQ_HEX: jq's `hex`, a 0x-prefixed hex string's value (block numbers, 32-byte words < 2^53).
JQ_HEX='def hex: ltrimstr("0x") | ascii_downcase | explode
  | reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end));'
for n in 0 1; do
  # The killed host's slashes up to its removal, plus what the removal forfeited: all of its
  # collateral.
  jq "$JQ_HEX"' [.[] | select((.data[2:66] | hex) == '"$n"')]' "$WORK/freed.json" >"$WORK/freed.$n.json"
  jq "$JQ_HEX"' [.[] | select((.data[2:66] | hex) == '"$n"' and (.blockNumber | hex) <= '"$(jq "$JQ_HEX"' .[0].blockNumber | hex' \
    "$WORK/freed.$n.json")"')]' "$WORK/missed.json" >"$WORK/missed.$n.json"
  slashed=$(sum_word "$WORK/missed.$n.json" 2)
  forfeited=$(sum_word "$WORK/freed.$n.json" 3)
  check "slot $n: slashed $slashed ($(jq length "$WORK/missed.$n.json") proofs missed) + forfeited $forfeited = the collateral $collateral" \
    [ "$((slashed + forfeited))" = "$collateral" ]
done
validator_share=$(sum_word "$WORK/missed.json" 3)
check "the tracker marked the missed proofs" [ "$validator_share" -gt 0 ]
check "the tracker's account earned the validator share of every slash ($validator_share wei)" \
  [ "$(($(withdrawable "$PLACER") - PLACER_BEFORE))" = "$validator_share" ]

# --- repair: the spares fill the freed slots -----------------------------------------------------
repaired() { request_json && jq -e '.state == "Started" and all(.slots[]; .state == "Filled")' "$WORK/request.json" >/dev/null; }
check "both freed slots are filled again and the request still runs" wait_for 180 repaired
is_spare() { [[ " ${SPARES[*]} " == *" $1 "* ]]; }
for n in 0 1; do
  now=$(index_of "$(jq -r --argjson s $n '.slots[$s].host' "$WORK/request.json")")
  check "slot $n is now hosted by a spare (c$now)" is_spare "$now"
  HOSTING[$n]=$now
done
logs "$FILLED" "$RID_TOPIC" >"$WORK/filled.json"
repair_rewards=$(sum_word "$WORK/filled.json" 2)
check "the repair fills earned the repair reward ($repair_rewards wei)" [ "$repair_rewards" -gt 0 ]
check "the market holds the escrow and six collaterals, none paid out yet" \
  [ "$(balance "$MARKET")" = "$((escrow + 6 * collateral))" ]
check "availability is back to 3" wait_for 120 file_is "$ID" UPLOADED 3
check "producer ls names the new consumers" wait_for 30 lists_request

# --- a download is confirmed and pays the hosts ----------------------------------------------------
mkdir -p "$WORK/down"
"$BIN" --home "$WORK/producer" producer cp "$ID" "$WORK/down" >/dev/null 2>"$WORK/cp.err" || bad "producer cp: $(cat "$WORK/cp.err")"
check "the download is byte-identical" cmp -s "$WORK/paid.bin" "$WORK/down/paid.bin"
settled_to_all() {
  logs "$SETTLED" "$RID_TOPIC" >"$WORK/settled.json"
  local slot
  for slot in 0 1 2 3; do
    jq -e --arg h "$(address_topic "${HOST[${HOSTING[$slot]}]}")" 'any(.[]; .topics[2] == $h)' "$WORK/settled.json" >/dev/null ||
      return 1
  done
}
check "the download's payout settled each of the 4 hosts' pay (PaymentSettled)" wait_for 60 settled_to_all
tx=$(jq -r '.[0].transactionHash' "$WORK/settled.json")
from=$(rpc "$ANVIL_URL" eth_getTransactionByHash "[\"$tx\"]" | jq -r .from)
check "sent by the tracker's account (confirmDownload from $from)" [ "${from,,}" = "${PLACER,,}" ]

# --- rm cancels and refunds; everybody withdraws -----------------------------------------------
"$BIN" --home "$WORK/producer" producer rm --password-file "$WORK/pw" "$ID" >"$WORK/rm.out" 2>&1 ||
  bad "producer rm of the paid file: $(cat "$WORK/rm.out")"
check "the request is Cancelled on chain" [ "$(market_cli request "$RID" --json | jq -r .state)" = Cancelled ]
logs "$ENDED" "$RID_TOPIC" >"$WORK/ended.json"
refund=$(sum_word "$WORK/ended.json" 1)
check "the refund ($refund wei) is the producer's to withdraw" [ "$(withdrawable "$PAYER")" = "$refund" ]
logs "$PAID" "$RID_TOPIC" >"$WORK/paid.json"
pay=$(($(sum_word "$WORK/settled.json" 1) + $(sum_word "$WORK/paid.json" 1)))
forfeits=$(($(sum_word "$WORK/missed.json" 2) - validator_share + $(sum_word "$WORK/freed.json" 3)))
check "refund $refund = escrow $escrow - pay $pay + forfeits $forfeits - repair rewards $repair_rewards" \
  [ "$refund" = "$((escrow - pay + forfeits - repair_rewards))" ]
for i in "${KILLED[@]}"; do check "killed c$i is owed nothing" [ "$(withdrawable "${HOST[$i]}")" = 0 ]; done

withdraws "producer withdraw" "$PAYER" "$BIN" --home "$WORK/producer" producer withdraw --password-file "$WORK/pw"
for slot in 0 1 2 3; do
  i=${HOSTING[$slot]}
  credit=$(withdrawable "${HOST[$i]}")
  check "c$i (slot $slot) is owed its pay and its collateral back ($credit > $collateral)" [ "$credit" -gt "$collateral" ]
  withdraws "consumer withdraw on c$i" "${HOST[$i]}" "$BIN" --home "$WORK/c$i" consumer withdraw
done
# The tracker's share, withdrawn with ethers from its key: an independent client of the contract.
placer_owed=$(withdrawable "$PLACER")
placer_before=$(balance "$PLACER")
ARTIFACT="$(cd "$(dirname "$0")/.." && pwd)/contracts/artifacts/StorageMarket.json"
tx=$(cd "$JS_DIR" && node --input-type=module -e "
  import { ethers } from 'ethers';
  import { readFileSync } from 'node:fs';
  const { abi } = JSON.parse(readFileSync('$ARTIFACT'));
  const wallet = new ethers.Wallet('0x$(dev_key 1)', new ethers.JsonRpcProvider('$ANVIL_URL'));
  const receipt = await (await new ethers.Contract('$MARKET', abi, wallet).withdraw()).wait();
  console.log(receipt.hash);
" 2>"$WORK/ethers.err") || bad "the tracker's account withdraws with ethers: $(cat "$WORK/ethers.err")"
check "the tracker's account gained its $placer_owed wei less the gas" \
  [ "$(($(balance "$PLACER") - placer_before))" = "$((placer_owed - $(fee_of "$tx")))" ]
check "every wei that went into the market came out: it holds 0" [ "$(balance "$MARKET")" = 0 ]
stop_miner

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
