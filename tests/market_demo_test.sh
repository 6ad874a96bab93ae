#!/usr/bin/env bash
# README's first command ends in `open-bucket demo`, which runs on the storage market: anvil, the
# tracker deploying the contract, a Basic-tier upload, m consumers killed, a download, repair.
# This runs it and checks the JSON summary's market figures, which the demo reads from the
# contract's events and receipts: every slot filled once, proofs submitted, the killed
# consumers' missed proofs marked and slashed, the freed slots refilled by repair, the
# download's payout to the consumers, and a gas median for each call. About 70 s.
# Usage: market_demo_test.sh PATH/TO/open-bucket
set -euo pipefail
BIN=${1:?usage: market_demo_test.sh PATH/TO/open-bucket}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
require_chain_tools market_demo_end_to_end
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
head -c 3000001 /dev/urandom >"$WORK/a.bin"
OB_ANVIL=$ANVIL_BIN "$BIN" demo --json --timeout 240 "$WORK/a.bin" >"$WORK/summary.json" || true
jq -e '.ok == true and (.files | length) == 1 and .files[0].verified == true
       and .files[0].availabilityAfterRepair == .files[0].availabilityBefore
       and (.market | .slotsFilled == 6 and .proofsSubmitted > 0 and .proofsMissed > 0 and .slashes > 0
            and .repairFills >= 1 and (.paidToConsumersWei | tonumber) > 0 and (.requestId | test("^[0-9]+$"))
            and (.gas | .requestStorage > 0 and .fillSlot > 0 and .submitProof > 0 and .markProofAsMissing > 0))' \
  "$WORK/summary.json" >/dev/null || {
  echo "FAIL: the market demo's summary lacks a figure:" >&2
  cat "$WORK/summary.json" >&2
  exit 1
}
echo "market demo: ok ($(jq -c .market "$WORK/summary.json"))"
