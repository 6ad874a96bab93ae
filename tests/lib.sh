# Shared by the end-to-end tests (source it): counting checks and polling with a deadline.
#   ok                      one check passed
#   bad MESSAGE...          one check failed: says so on stderr
#   wait_for SECONDS CMD... runs CMD every 0.25 s until it succeeds (0) or SECONDS pass (1)
#   work_with_daemon        makes $WORK, a fresh directory removed at exit, once the daemon whose
#                           pid is in $DAEMON_PID (empty: none) is killed if it still runs
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
work_with_daemon() {
  WORK=$(mktemp -d)
  DAEMON_PID=""
  trap _remove_work_and_daemon EXIT
}
_remove_work_and_daemon() {
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -KILL "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
