# Shared by the end-to-end tests (source it): counting checks, polling with a deadline, the processes.
#   ok                      one check passed
#   bad MESSAGE...          one check failed: says so on stderr
#   wait_for SECONDS CMD... runs CMD every 0.25 s until it succeeds (0) or SECONDS pass (1)
#   e2e_setup               WORK (a new temporary directory), PIDS (name -> pid of what the test
#                           starts) and DAEMON_PID (a lone daemon's pid, empty: none): at exit those
#                           are stopped and WORK removed (kept when a check failed and KEEP_LOGS is set)
#   start_daemon NAME       the daemon of home $WORK/NAME ($BIN), PIDS[NAME] its pid, waiting
#                           (bounded) for its daemon.json
#   start_producer_network N  a tracker, N consumers and a producer, started (k=4, m=2)
#   fetched NAME            bytes of blocks daemon NAME has received from peers
#   files_json              the producer's (home $WORK/producer) file list, as JSON
#   file_is ID STATUS A     that list says file ID is STATUS at actual availability A
#   check NAME COMMAND...   ok when COMMAND succeeds, else the failure NAME
# The caller prints "$passed passed, $failed failed" and exits non-zero when failed > 0.
passed=0
failed=0
ok() { passed=$((passed + 1)); }
# check NAME COMMAND...: runs the command; ok when it succeeds, else a failure named NAME.
check() {
  local name=$1
  shift
  if "$@"; then ok; else bad "$name"; fi
}
bad() {
  failed=$((failed + 1))
  echo "FAIL: $*" >&2
}
wait_for() {
  local deadline=$(($(date +%s) + $1))
  shift
  while [ "$(date +%s)" -lt "$deadline" ]; do
    "$@" && return 0
    sleep 0.25
  done
  return 1
}
e2e_setup() {
  WORK=$(mktemp -d)
  declare -gA PIDS=()
  DAEMON_PID=""
  trap e2e_cleanup EXIT
}
e2e_cleanup() {
  for name in "${!PIDS[@]}"; do kill "${PIDS[$name]}" 2>/dev/null; done
  if [ -n "${DAEMON_PID:-}" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then kill -KILL "$DAEMON_PID" 2>/dev/null; fi
  wait 2>/dev/null
  if [ "${failed:-0}" -ne 0 ] && [ -n "${KEEP_LOGS:-}" ]; then echo "logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
start_daemon() {
  rm -f "$WORK/$1/daemon.json"
  "$BIN" --home "$WORK/$1" daemon 2>>"$WORK/$1.log" &
  PIDS[$1]=$!
  wait_for 30 test -s "$WORK/$1/daemon.json" || { echo "daemon $1 did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1; }
}
# start_producer_network CONSUMERS: a tracker, CONSUMERS consumer daemons (homes $WORK/c1...,
# consumer started) and a producer daemon (home $WORK/producer, producer started), every home
# on free ports in a network of its own with k=4, m=2; TRACKER is the tracker's address.
start_producer_network() {
  local i port=$((20000 + RANDOM % 20000)) network_id=$(((RANDOM << 8) + 1313))
  "$BIN" --home "$WORK/tracker" tracker --listen "127.0.0.1:$port" --heartbeat-ms 300 --offline-after-ms 2000 \
    --audit-interval-ms 1000 --repair-tick-ms 250 >>"$WORK/tracker.out" 2>>"$WORK/tracker.log" &
  PIDS[tracker]=$!
  wait_for 20 grep -q '^tracker ' "$WORK/tracker.out" || { echo "tracker did not start:" >&2; cat "$WORK/tracker.log" >&2; exit 1; }
  TRACKER=$(sed -n 's/^tracker //p' "$WORK/tracker.out" | head -1)
  for i in $(seq 1 "$1") producer; do
    [ "$i" = producer ] || i=c$i
    "$BIN" --home "$WORK/$i" init -d --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$network_id" --no-sync \
      --tracker "$TRACKER" --limit "10 GB" --k 4 --m 2 >/dev/null || { echo "init $i failed" >&2; exit 1; }
    start_daemon "$i"
    if [ "$i" = producer ]; then
      "$BIN" --home "$WORK/$i" producer start >/dev/null || { echo "producer start failed" >&2; exit 1; }
    else
      "$BIN" --home "$WORK/$i" consumer start >/dev/null || { echo "consumer start on $i failed" >&2; exit 1; }
    fi
  done
}
# fetched NAME: bytes of blocks daemon NAME received from peers so far (its GET /metrics).
fetched() {
  curl -s -H "Authorization: Bearer $(cat "$WORK/$1/keys/api.token")" \
    "http://127.0.0.1:$(jq -r .apiPort "$WORK/$1/daemon.json")/metrics" |
    awk '$1 == "ob_exchange_bytes_fetched_total" { print $2 }'
}
files_json() { "$BIN" --home "$WORK/producer" producer ls --json 2>/dev/null; }
file_is() {
  files_json | jq -e --arg id "$1" --arg st "$2" --argjson a "$3" \
    '.[] | select(.id == $id) | select(.status == $st and .actualAvailability == $a)' >/dev/null
}

# The test-only npm packages (anvil, ethers, jsQR) that scripts/install-deps.sh installs with
# `npm ci` into tests/js/node_modules.
JS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/js"
ANVIL_BIN=${ANVIL_BIN:-$JS_DIR/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}
# need_chain_tools: 0 when anvil and node with the checkers are installed. Otherwise says what
# is missing and returns 1 in CI (a test that cannot run must fail there), 2 outside it (the
# caller skips, with the message).
need_chain_tools() {
  if [ -x "$ANVIL_BIN" ] && command -v node >/dev/null && [ -d "$JS_DIR/node_modules/ethers" ]; then return 0; fi
  echo "anvil or the JS checkers are missing ($ANVIL_BIN, $JS_DIR/node_modules): run scripts/install-deps.sh" >&2
  if [ -n "${CI:-}" ]; then return 1; fi
  return 2
}
# require_chain_tools NAME: need_chain_tools, then, when they are missing, exits the test: 1 in CI,
# 77 (ctest's SKIP_RETURN_CODE: reported as skipped, never as passed) with "NAME: skipped" outside it.
require_chain_tools() {
  need_chain_tools
  case $? in
    1) exit 1 ;;
    2) echo "$1: skipped (not in CI): anvil or the JS checkers are not installed"; exit 77 ;;
  esac
}
# chain_e2e_setup NAME: a chain test's start: require_chain_tools NAME, e2e_setup, and anvil
# (ANVIL_PID, once start_anvil ran) stopped at exit too.
chain_e2e_setup() {
  require_chain_tools "$1"
  e2e_setup
  ANVIL_PID=""
  trap 'stop_anvil "$ANVIL_PID"; e2e_cleanup' EXIT
}
# start_anvil LOG [ARGS...]: starts anvil on a free port of 127.0.0.1 (port 0: the system picks),
# waits up to 30 s for it to print where it listens and answer; sets ANVIL_PID and ANVIL_URL.
# Returns 1 (saying why) otherwise. Stop it with stop_anvil PID.
start_anvil() {
  local log=$1
  shift
  "$ANVIL_BIN" --host 127.0.0.1 --port 0 "$@" >"$log" 2>&1 &
  ANVIL_PID=$!
  ANVIL_URL=""
  local deadline=$(($(date +%s) + 30))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    local port
    port=$(sed -n 's/^Listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
    if [ -n "$port" ] && curl -s -m 2 -H 'Content-Type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "http://127.0.0.1:$port" | grep -q result; then
      ANVIL_URL="http://127.0.0.1:$port"
      return 0
    fi
    kill -0 "$ANVIL_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "anvil did not start: $(tail -n 3 "$log")" >&2
  stop_anvil "$ANVIL_PID"
  return 1
}
# stop_anvil PID: stops that anvil and waits for it.
stop_anvil() {
  [ -n "${1:-}" ] || return 0
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}
# rpc URL METHOD PARAMS_JSON: the "result" of one JSON-RPC call, as JSON text.
rpc() {
  curl -s -m 10 -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "$1" | jq -c .result
}
