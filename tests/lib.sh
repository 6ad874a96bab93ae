# Shared by the end-to-end tests (source it): counting checks, polling with a deadline, the processes.
#   ok                      one check passed
#   bad MESSAGE...          one check failed: says so on stderr
#   wait_for SECONDS CMD... runs CMD every 0.25 s until it succeeds (0) or SECONDS pass (1)
#   e2e_setup               WORK (a new temporary directory), PIDS (name -> pid of what the test
#                           starts) and DAEMON_PID (a lone daemon's pid, empty: none): at exit those
#                           are stopped and WORK removed (kept when a check failed and KEEP_LOGS is set)
#   start_daemon NAME       the daemon of home $WORK/NAME ($BIN), PIDS[NAME] its pid, waiting
#                           (bounded) for its daemon.json
#   files_json              the producer's (home $WORK/producer) file list, as JSON
#   file_is ID STATUS A     that list says file ID is STATUS at actual availability A
# The caller prints "$passed passed, $failed failed" and exits non-zero when failed > 0.
passed=0
failed=0
ok() { passed=$((passed + 1)); }
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
files_json() { "$BIN" --home "$WORK/producer" producer ls --json 2>/dev/null; }
file_is() {
  files_json | jq -e --arg id "$1" --arg st "$2" --argjson a "$3" \
    '.[] | select(.id == $id) | select(.status == $st and .actualAvailability == $a)' >/dev/null
}
