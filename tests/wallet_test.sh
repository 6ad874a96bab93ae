#!/usr/bin/env bash
# End-to-end test of the wallet (issue 10) with the real binary against anvil (a real EVM node
# from the npm registry), and ethers v6 and jsQR as independent checkers (tests/js/check.mjs):
#   - a mnemonic made by `wallet create` gives the same address in ethers; our keystore opens
#     in ethers and ethers' keystore imports here; the raw transaction we signed parses in
#     ethers to the fields we sent
#   - `wallet send` 1.5 ETH from the imported "test ... junk" account to a fresh one: the fresh
#     balance rises by exactly 1.5 ETH, the sender's falls by 1.5 ETH plus the receipt's fee
#   - `wallet request --png` decodes with jsQR to the exact EIP-681 URI
#   - every bad input of the issue: one line on stderr, exit 1, the keystore folder and
#     wallet.json byte-identical, nothing sent (the sender's nonce and balance unchanged)
# Usage: wallet_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: wallet_test.sh PATH/TO/open-bucket}
require_chain_tools wallet
WORK=$(mktemp -d)
ANVIL_PID="" OTHER_PID=""
cleanup() {
  stop_anvil "$ANVIL_PID"
  stop_anvil "$OTHER_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
export OPEN_BUCKET_HOME="$WORK/home"
# Keystores in this test use scrypt n = 4096 instead of 2^18 (seconds saved per keystore).
export OPEN_BUCKET_TEST_SCRYPT_N=4096
unset OPEN_BUCKET_PASSWORD
js() { node "$JS_DIR/check.mjs" "$@"; }
# big EXPRESSION: exact integer arithmetic on wei (BigInt).
big() { node -e "console.log(($1).toString())"; }

start_anvil "$WORK/anvil.log" || exit 1
JUNK="test test test test test test test test test test test junk"
FUNDER=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
echo "$JUNK" >"$WORK/junk.txt"
echo "correct horse battery staple" >"$WORK/pw"
echo "their passphrase" >"$WORK/pw2"
echo "not the passphrase" >"$WORK/wrong"

# --- init: step 1 imports the junk mnemonic as the default account; [chain] is pinned ---
"$BIN" init -d --rpc "$ANVIL_URL" --mnemonic-file "$WORK/junk.txt" --password-file "$WORK/pw" \
  --api-port 0 --p2p-port 0 --dht-port 0 >"$WORK/init.out" 2>&1 || { cat "$WORK/init.out" >&2; exit 1; }
check "init imports the default account" grep -q "Imported account account1 ($FUNDER), the default account" "$WORK/init.out"
check "init records the node and its chain ID" grep -q '^chain_id = 31337$' "$OPEN_BUCKET_HOME/config.toml"
check "keystore files are private" [ "$(stat -c %a "$OPEN_BUCKET_HOME"/wallet/keystore/UTC--*)" = 600 ]
check "the keystore folder is private" [ "$(stat -c %a "$OPEN_BUCKET_HOME/wallet/keystore")" = 700 ]
check "ethers derives the same junk address" [ "$(js address "$WORK/junk.txt" 0)" = "$FUNDER" ]

# --- create: the printed mnemonic gives the address in ethers; ethers opens our keystore ---
"$BIN" wallet create --name fresh --words 24 --json --password-file "$WORK/pw" >"$WORK/create.json" || bad "wallet create"
FRESH=$(jq -r .address "$WORK/create.json")
jq -r .mnemonic "$WORK/create.json" >"$WORK/fresh.txt"
check "create prints 24 words" [ "$(wc -w <"$WORK/fresh.txt")" -eq 24 ]
check "ethers derives the created account from its words" [ "$(js address "$WORK/fresh.txt" 0)" = "$FRESH" ]
check "ethers decrypts our keystore to the same address" \
  [ "$(js decrypt "$(jq -r .keystore "$WORK/create.json")" "$WORK/pw")" = "$FRESH" ]
# A keystore ethers wrote imports here, byte for byte.
THEIRS=$(js encrypt 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d "$WORK/pw2" "$WORK/ethers.json")
"$BIN" wallet import --keystore "$WORK/ethers.json" --name theirs --password-file "$WORK/pw2" >"$WORK/import.out" 2>&1
check "ethers' keystore imports with its own address" grep -q "Imported account theirs ($THEIRS)" "$WORK/import.out"
check "an imported keystore is kept as is" cmp -s "$WORK/ethers.json" "$OPEN_BUCKET_HOME"/wallet/keystore/UTC--*"$(echo "${THEIRS#0x}" | tr A-F a-f)"
"$BIN" wallet export fresh --keystore "$WORK/exported.json" >/dev/null || bad "wallet export"
check "an exported keystore opens in ethers" [ "$(js decrypt "$WORK/exported.json" "$WORK/pw")" = "$FRESH" ]

# --- send 1.5 ETH: exact balances ---
before_funder=$("$BIN" wallet balance --json | jq -r .wei)
before_fresh=$("$BIN" wallet balance fresh --json | jq -r .wei)
check "the fresh account starts empty" [ "$before_fresh" = 0 ]
"$BIN" wallet send --to "$FRESH" --amount 1.5 --json --password-file "$WORK/pw" >"$WORK/send.json" 2>"$WORK/send.err" ||
  bad "wallet send: $(cat "$WORK/send.err")"
after_funder=$("$BIN" wallet balance "$FUNDER" --json | jq -r .wei)
after_fresh=$("$BIN" wallet balance fresh --json | jq -r .wei)
fee=$(jq -r .fee "$WORK/send.json")
check "the fresh balance rose by exactly 1.5 ETH" [ "$after_fresh" = 1500000000000000000 ]
check "the sender paid 1.5 ETH plus the receipt's gas" \
  [ "$after_funder" = "$(big "${before_funder}n - 1500000000000000000n - ${fee}n")" ]
check "the fee is gas used x effective gas price" \
  [ "$fee" = "$(big "$(jq -r .gasUsed "$WORK/send.json")n * $(jq -r .effectiveGasPrice "$WORK/send.json")n")" ]
HASH=$(jq -r .hash "$WORK/send.json")
check "the node has the receipt" [ "$(rpc "$ANVIL_URL" eth_getTransactionReceipt "[\"$HASH\"]" | jq -r .status)" = 0x1 ]
js tx "$(jq -r .raw "$WORK/send.json")" >"$WORK/tx.json"
for field in from to nonce chainId gasLimit maxFeePerGas maxPriorityFeePerGas hash; do
  ours=$(jq -r ".$field | tostring" "$WORK/send.json")
  theirs=$(jq -r ".$field | tostring" "$WORK/tx.json")
  check "ethers parses our raw transaction: $field ($ours vs $theirs)" [ "$ours" = "$theirs" ]
done
check "ethers parses our raw transaction: value" [ "$(jq -r .value "$WORK/tx.json")" = 1500000000000000000 ]
check "ethers parses our raw transaction: type 2" [ "$(jq -r .type "$WORK/tx.json")" = 2 ]
"$BIN" wallet ls --json >"$WORK/ls.json"
check "ls shows the balances" [ "$(jq -r '.[] | select(.name == "fresh") | .balanceEth' "$WORK/ls.json")" = 1.5 ]
check "ls marks the default" [ "$(jq -r '.[] | select(.default) | .name' "$WORK/ls.json")" = account1 ]

# --- request: EIP-681 URI, QR code in PNG (jsQR) and on the terminal ---
"$BIN" wallet request --amount "0.25 ETH" --png "$WORK/qr.png" --json >"$WORK/request.json" || bad "wallet request"
URI="ethereum:$FUNDER@31337?value=250000000000000000"
check "the request is the EIP-681 URI" [ "$(jq -r .uri "$WORK/request.json")" = "$URI" ]
check "jsQR decodes the PNG to the exact URI" [ "$(js qr "$WORK/qr.png")" = "$URI" ]
"$BIN" wallet request --amount 1500000000gwei --account fresh >"$WORK/request.out"
check "the terminal request shows the URI and a QR code" \
  grep -q "^ethereum:$FRESH@31337?value=1500000000000000000$" "$WORK/request.out"
check "the QR code is drawn with half blocks" grep -q "▀" "$WORK/request.out"
"$BIN" wallet default fresh >/dev/null || bad "wallet default"
check "default moves" [ "$("$BIN" wallet ls --json | jq -r '.[] | select(.default) | .name')" = fresh ]
"$BIN" wallet default account1 >/dev/null

# --- bad input: one line on stderr, exit 1, nothing changed on disk or on chain ---
snapshot() {
  (cd "$OPEN_BUCKET_HOME/wallet" && find keystore wallet.json -type f -printf '%p %m %s\n' | sort &&
    find keystore wallet.json -type f -print0 | sort -z | xargs -0 sha256sum)
}
chain_state() {
  echo "$(rpc "$ANVIL_URL" eth_getTransactionCount "[\"$FUNDER\",\"latest\"]") $(rpc "$ANVIL_URL" eth_getBalance "[\"$FUNDER\",\"latest\"]")" \
    "$(rpc "$ANVIL_URL" eth_getTransactionCount "[\"$FRESH\",\"latest\"]") $(rpc "$ANVIL_URL" eth_getBalance "[\"$FRESH\",\"latest\"]")"
}
SNAP=$(snapshot)
STATE=$(chain_state)
# refused NAME EXPECTED_MESSAGE COMMAND...: exit 1, one line on stderr holding the message,
# the wallet files and the chain as they were.
refused() {
  local name=$1 expected=$2
  shift 2
  "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  if [ "$rc" -eq 1 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -qF -- "$expected" "$WORK/err" &&
    [ "$(snapshot)" = "$SNAP" ] && [ "$(chain_state)" = "$STATE" ]; then
    ok
  else
    bad "$name: exit $rc, stderr: $(cat "$WORK/err")"
  fi
}
refused "wrong passphrase" "wrong passphrase" \
  "$BIN" wallet send --to "$FRESH" --amount 1 --password-file "$WORK/wrong"
echo "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon" >"$WORK/badsum.txt"
refused "mnemonic with a bad checksum" "checksum does not match" \
  "$BIN" wallet import --mnemonic-file "$WORK/badsum.txt" --password-file "$WORK/pw"
echo "test test test test test test test test test test test jnuk" >"$WORK/badword.txt"
refused "mnemonic with an unknown word" "word 12 ('jnuk') is not in the BIP-39 English list" \
  "$BIN" wallet import --mnemonic-file "$WORK/badword.txt" --password-file "$WORK/pw"
echo "test test test test test test test test test test junk" >"$WORK/short.txt"
refused "mnemonic with a wrong word count" "12, 15, 18, 21 or 24 words, not 11" \
  "$BIN" wallet import --mnemonic-file "$WORK/short.txt" --password-file "$WORK/pw"
jq -c '.Crypto.ciphertext |= (if .[0:1] == "0" then "1" else "0" end) + .[1:]' "$WORK/ethers.json" >"$WORK/tampered.json"
refused "tampered keystore (MAC mismatch)" "MAC does not match" \
  "$BIN" wallet import --keystore "$WORK/tampered.json" --name other --password-file "$WORK/pw2"
echo '{"version": 3, "crypto": {"cipher": "aes-128-ctr"}}' >"$WORK/malformed.json"
refused "malformed keystore" "not a keystore v3 file" \
  "$BIN" wallet import --keystore "$WORK/malformed.json" --password-file "$WORK/pw2"
WRONG_CASE=$(echo "$FRESH" | sed 's/[a-f]/\U&/; t; s/[A-F]/\L&/')
refused "address with a wrong EIP-55 checksum" "wrong EIP-55 checksum" \
  "$BIN" wallet send --to "$WRONG_CASE" --amount 1 --password-file "$WORK/pw"
refused "negative amount" "cannot be negative" \
  "$BIN" wallet send --to "$FRESH" --amount -1 --password-file "$WORK/pw"
refused "more than 18 decimals" "more than 18 decimals" \
  "$BIN" wallet send --to "$FRESH" --amount 0.0000000000000000001 --password-file "$WORK/pw"
refused "more than the balance plus fees" "insufficient funds" \
  "$BIN" wallet send --from fresh --to "$FUNDER" --amount 1.5 --password-file "$WORK/pw"
refused "more than the balance" "insufficient funds" \
  "$BIN" wallet send --from fresh --to "$FUNDER" --amount 2 --password-file "$WORK/pw"
CLOSED="http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
refused "unreachable RPC" "cannot reach the Ethereum node at $CLOSED" \
  "$BIN" wallet send --rpc "$CLOSED" --to "$FRESH" --amount 1 --password-file "$WORK/pw"
refused "unreachable RPC (balance)" "cannot reach the Ethereum node" "$BIN" wallet balance --rpc "$CLOSED"
OLD_PID=$ANVIL_PID OLD_URL=$ANVIL_URL
start_anvil "$WORK/other.log" --chain-id 1337 || exit 1
OTHER_PID=$ANVIL_PID OTHER_URL=$ANVIL_URL ANVIL_PID=$OLD_PID ANVIL_URL=$OLD_URL
refused "a node on another chain" "is on chain 1337, not chain 31337" \
  "$BIN" wallet send --rpc "$OTHER_URL" --to "$FRESH" --amount 1 --password-file "$WORK/pw"
refused "an account name that exists" "an account named 'fresh' exists already" \
  "$BIN" wallet import --mnemonic-file "$WORK/junk.txt" --index 5 --name fresh --password-file "$WORK/pw"
refused "an account already in the wallet" "the wallet holds $FUNDER already" \
  "$BIN" wallet import --mnemonic-file "$WORK/junk.txt" --name again --password-file "$WORK/pw"
refused "no passphrase and no terminal" "no terminal to ask on" \
  setsid "$BIN" wallet send --to "$FRESH" --amount 1 </dev/null
refused "export over an existing file" "exists already" "$BIN" wallet export fresh --keystore "$WORK/exported.json"
"$BIN" wallet ls --rpc "$CLOSED" --json >"$WORK/ls-down.json" 2>"$WORK/ls-down.err"
check "ls without a chain shows unknown balances and says why" \
  [ "$(jq -r '.[0].balance' "$WORK/ls-down.json")" = null ] && grep -q "balances unknown" "$WORK/ls-down.err"

# --- the daemon's REST API: the same wallet, token-protected, seed 000's {"msg": ...} replies ---
"$BIN" daemon 2>"$WORK/daemon.log" &
DAEMON_PID=$!
trap 'kill "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null; cleanup' EXIT
wait_for 30 test -s "$OPEN_BUCKET_HOME/daemon.json" || { cat "$WORK/daemon.log" >&2; exit 1; }
URL="http://127.0.0.1:$(jq .apiPort "$OPEN_BUCKET_HOME/daemon.json")"
TOKEN=$(cat "$OPEN_BUCKET_HOME/keys/api.token")
BODY="$WORK/body"
api() {  # api METHOD PATH [JSON]: sets STATUS; the reply is in $BODY
  STATUS=$(curl -s -X "$1" -H "Authorization: Bearer $TOKEN" -o "$BODY" -w '%{http_code}' ${3:+-d "$3"} "$URL$2")
}
PW=$(cat "$WORK/pw")
api GET /v1/wallet/accounts
check "GET /v1/wallet/accounts lists them with balances" \
  [ "$STATUS" = 200 ] && [ "$(jq -r '.[] | select(.name == "fresh") | .balance' "$BODY")" = 1500000000000000000 ]
api GET "/v1/wallet/accounts/$FRESH/balance"
check "GET .../balance" [ "$STATUS" = 200 ] && [ "$(jq -r .eth "$BODY")" = 1.5 ]
api GET "/v1/wallet/accounts/$WRONG_CASE/balance"
check "a mistyped address is 400" [ "$STATUS" = 400 ] && grep -q "EIP-55" "$BODY"
api POST /v1/wallet/accounts "{\"name\": \"rest\", \"passphrase\": \"$PW\", \"words\": 12}"
REST=$(jq -r .address "$BODY")
jq -r .mnemonic "$BODY" >"$WORK/rest.txt"
check "POST /v1/wallet/accounts creates one" [ "$STATUS" = 200 ] && [ "$(jq -r .msg "$BODY")" = "Account rest created" ]
check "its mnemonic gives its address in ethers" [ "$(js address "$WORK/rest.txt" 0)" = "$REST" ]
api POST /v1/wallet/accounts "{\"name\": \"rest\", \"passphrase\": \"$PW\", \"privateKey\": \"0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a\"}"
check "an existing name is 409" [ "$STATUS" = 409 ] && grep -q "exists already" "$BODY"
api POST /v1/wallet/send "{\"to\": \"$REST\", \"amount\": \"0.5\", \"passphrase\": \"wrong\"}"
check "a wrong passphrase is 400" [ "$STATUS" = 400 ] && grep -q "wrong passphrase" "$BODY"
api POST /v1/wallet/send "{\"to\": \"$REST\", \"amount\": \"0.5 ETH\", \"passphrase\": \"$PW\"}"
check "POST /v1/wallet/send pays" [ "$STATUS" = 200 ] && [ "$(jq -r .value "$BODY")" = 500000000000000000 ]
check "the payee has exactly 0.5 ETH" [ "$("$BIN" wallet balance rest --json | jq -r .wei)" = 500000000000000000 ]
api POST /v1/wallet/request '{"amount": "2", "account": "rest"}'
jq -r .png "$BODY" | base64 -d >"$WORK/rest-qr.png"
check "POST /v1/wallet/request: the PNG decodes to the URI" \
  [ "$STATUS" = 200 ] && [ "$(js qr "$WORK/rest-qr.png")" = "ethereum:$REST@31337?value=2000000000000000000" ]
api POST /v1/wallet/default '{"account": "nobody"}'
check "an unknown account is 404" [ "$STATUS" = 404 ]
api POST /v1/wallet/default '{"account": "rest"}'
check "POST /v1/wallet/default" [ "$STATUS" = 200 ] && [ "$(jq -r .msg "$BODY")" = "Default account is rest ($REST)" ]
STATUS=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/wallet/accounts")
check "the wallet needs the API token" [ "$STATUS" = 401 ]
api POST /v1/consumer/configs '{"account": "nobody"}'
check "consumer account not in the wallet: 400 Invalid account" [ "$STATUS" = 400 ] && [ "$(jq -r .msg "$BODY")" = "Invalid account" ]
check "config.toml unchanged by a refused account" grep -q '^account = ""$' "$OPEN_BUCKET_HOME/config.toml"
"$BIN" consumer config -d -c fresh >"$WORK/cc.out" 2>&1
check "consumer config -c NAME" grep -q "Consumer configs applied" "$WORK/cc.out"
check "config.toml holds the account's address" grep -q "^account = \"$FRESH\"$" "$OPEN_BUCKET_HOME/config.toml"
api GET /v1/consumer/slots
check "GET /v1/consumer/slots shows the account" [ "$(jq -r .account "$BODY")" = "$FRESH" ]

if [ "$failed" -ne 0 ]; then
  echo "--- daemon log" >&2
  tail -n 20 "$WORK/daemon.log" >&2
  echo "--- anvil log" >&2
  tail -n 20 "$WORK/anvil.log" >&2
fi
echo "wallet: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
