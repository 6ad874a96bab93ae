#!/usr/bin/env bash
# Chaos, as a test and as a benchmark: a live network of real processes on loopback (a tracker,
# 8 consumers, a producer), and ROUNDS rounds of: upload a random-size file, do one random fault at
# a random moment during an upload, a download or a repair, restart what was killed, then check
# that every file ever reported UPLOADED downloads byte-identical and that availability is back to
# the desired level within a bound. Faults:
#   kill_consumers  kill -9 of 1..m consumers holding slots of the round's file
#   kill_producer   kill -9 of the producer's daemon (restarted: the upload resumes)
#   kill_tracker    kill -9 of the tracker (restarted on the same port and database)
#   stop_consumer   SIGSTOP of a holder for longer than the tracker's offline_after, then SIGCONT
#   corrupt_slot    every byte of one holder's slot overwritten on disk
#   truncate_slot   one holder's slot cut to half its length on disk
#   full_disk       one consumer's file system filled until the round's checks end (each consumer's
#                   directory is a small tmpfs when this runs as root; otherwise this fault is
#                   skipped and said so)
# Every file has m = 2, and no round damages more than 2 consumers at once, so no fault may lose
# data: a file lost is a defect.
# Prints rounds run, faults by kind, files lost (must be 0) and the slowest recovery; exits 1 on
# any failed check.
# Usage: chaos.sh PATH/TO/open-bucket [ROUNDS]   (SEED=N replays a run; KEEP_LOGS=1 keeps its logs)
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: chaos.sh PATH/TO/open-bucket [ROUNDS]}
ROUNDS=${2:-5}
SEED=${SEED:-$(($(date +%s) % 100000))}
RANDOM=$SEED
RECOVERY_BOUND=${RECOVERY_BOUND:-180}  # seconds for availability to come back after a fault
CONSUMERS=8
M=2
DISK_MIB=64
TRACKER_PORT=$((20000 + RANDOM % 20000))
NETWORK_ID=$(((RANDOM << 8) + 4343))
e2e_setup
MOUNTS=()
chaos_cleanup() {  # stopped processes are continued first, so that they can die; then the disks go
  for name in "${!PIDS[@]}"; do kill -CONT "${PIDS[$name]}" 2>/dev/null; kill "${PIDS[$name]}" 2>/dev/null; done
  wait 2>/dev/null
  for mnt in "${MOUNTS[@]}"; do umount "$mnt" 2>/dev/null; done
  e2e_cleanup
}
trap chaos_cleanup EXIT
echo "chaos: seed $SEED, $ROUNDS rounds"

start_tracker() {
  "$BIN" --home "$WORK/tracker" tracker --listen "127.0.0.1:$TRACKER_PORT" --heartbeat-ms 300 --offline-after-ms 2000 \
    --audit-interval-ms 500 --repair-tick-ms 250 >>"$WORK/tracker.out" 2>>"$WORK/tracker.log" &
  PIDS[tracker]=$!
  : >"$WORK/tracker.ready"
  wait_for 30 grep -q '^tracker ' "$WORK/tracker.out" || { echo "tracker did not start:" >&2; tail "$WORK/tracker.log" >&2; exit 1; }
}
node() {  # node NAME [CONSUMER_DIR]: a home on free ports in this test's network
  "$BIN" --home "$WORK/$1" init -d --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$NETWORK_ID" --no-sync \
    --tracker "$TRACKER" --limit "1 GB" ${2:+--consumer-dir "$2"} >/dev/null || { echo "init $1 failed" >&2; exit 1; }
}
holders() {  # holders ID: live consumers with a slot of ID on disk
  local i
  for i in $(seq 1 $CONSUMERS); do
    [ -n "${PIDS[c$i]:-}" ] && compgen -G "$(consumer_dir c$i)/$1/*.blocks" >/dev/null && echo "c$i"
  done
}
consumer_dir() { echo "$WORK/disk-$1"; }
live_consumers() {
  local i
  for i in $(seq 1 $CONSUMERS); do [ -n "${PIDS[c$i]:-}" ] && echo "c$i"; done
}
audit_drops() {
  curl -s "http://$(jq -r .metrics "$WORK/tracker/tracker.json")/metrics" |
    awk '$1 == "ob_tracker_slots_dropped_by_audit_total" {print $2}'
}
given_up() {  # slots given up so far by the live consumers' CWatchers, summed
  local name n total=0
  for name in $(live_consumers); do
    n=$(curl -s --max-time 5 -H "Authorization: Bearer $(cat "$WORK/$name/keys/api.token")" \
      "http://127.0.0.1:$(jq -r .apiPort "$WORK/$name/daemon.json")/metrics" |
      awk '$1 == "ob_consumer_slots_given_up_total" {print $2}')
    total=$((total + ${n:-0}))
  done
  echo "$total"
}
# caught BLOCKS_FILE DROPS_BEFORE GIVEN_UP_BEFORE: the slot is gone, failed an audit or was given up.
# Counted, not only looked for on disk: repair may put the slot back on the same consumer at once.
caught() { ! test -e "$1" || [ "$(audit_drops)" -gt "$2" ] || [ "$(given_up)" -gt "$3" ]; }
pick() { local a=("$@"); [ ${#a[@]} -gt 0 ] && echo "${a[RANDOM % ${#a[@]}]}"; }

# --- the network -------------------------------------------------------------------------------------
start_tracker
TRACKER=$(sed -n 's/^tracker //p' "$WORK/tracker.out" | head -1)
TMPFS=0
mkdir -p "$WORK/probe" && mount -t tmpfs -o size=1m tmpfs "$WORK/probe" 2>/dev/null && umount "$WORK/probe" && TMPFS=1
[ $TMPFS = 1 ] || echo "chaos: cannot mount tmpfs here (not root?): full_disk faults are skipped"
for i in $(seq 1 $CONSUMERS); do
  dir=$(consumer_dir c$i)
  mkdir -p "$dir"
  if [ $TMPFS = 1 ]; then mount -t tmpfs -o size=${DISK_MIB}m,mode=0700 tmpfs "$dir" && MOUNTS+=("$dir"); fi
  node c$i "$dir"
  start_daemon c$i
  "$BIN" --home "$WORK/c$i" consumer start >/dev/null || { echo "consumer start on c$i failed" >&2; exit 1; }
done
node producer
start_daemon producer
"$BIN" --home "$WORK/producer" producer start >/dev/null || { echo "producer start failed" >&2; exit 1; }

# --- faults ------------------------------------------------------------------------------------------
declare -A FAULTS=()
KILLED=()    # processes to restart after the fault
STOPPED=()   # processes to SIGCONT
FILLERS=()   # files filling a consumer's disk
DAMAGED=()   # slot files corrupted or truncated: the network must notice before it can be healthy
damage_budget=$M

kill_proc() { kill -9 "${PIDS[$1]}" 2>/dev/null; wait "${PIDS[$1]}" 2>/dev/null; unset "PIDS[$1]"; KILLED+=("$1"); }

# fault KIND FILE_ID: does it now, within the round's damage budget.
fault() {
  local kind=$1 id=$2 victim n i blocks
  mapfile -t hs < <(holders "$id")
  # Early in an upload no consumer holds a slot yet: any live consumer will do.
  [ ${#hs[@]} -gt 0 ] || mapfile -t hs < <(live_consumers)
  case $kind in
    kill_consumers)
      n=$((1 + RANDOM % damage_budget))
      mapfile -t hs < <(printf '%s\n' "${hs[@]}" | shuf --random-source=<(yes "$RANDOM") | head -n "$n")
      for victim in "${hs[@]}"; do kill_proc "$victim"; done
      damage_budget=$((damage_budget - ${#hs[@]})) ;;
    kill_producer) kill_proc producer ;;
    kill_tracker) kill_proc tracker ;;
    stop_consumer)
      victim=$(pick "${hs[@]}") || return 0
      kill -STOP "${PIDS[$victim]}"
      STOPPED+=("$victim")
      damage_budget=$((damage_budget - 1)) ;;
    corrupt_slot | truncate_slot)
      victim=$(pick "${hs[@]}") || return 0
      blocks=$(compgen -G "$(consumer_dir "$victim")/$id/*.blocks" | head -1)
      [ -n "$blocks" ] || return 0
      if [ "$kind" = corrupt_slot ]; then
        head -c "$(stat -c %s "$blocks")" /dev/urandom | dd of="$blocks" conv=notrunc status=none 2>/dev/null
      else
        truncate -s $(($(stat -c %s "$blocks") / 2)) "$blocks"
      fi
      DAMAGED+=("$blocks")
      damage_budget=$((damage_budget - 1)) ;;
    full_disk)
      victim=c$((1 + RANDOM % CONSUMERS))
      [ -n "${PIDS[$victim]:-}" ] || return 0
      # Leave a few KiB: less than any slot, so nothing more fits.
      dd if=/dev/zero of="$(consumer_dir "$victim")/.chaos-filler" bs=1M status=none 2>/dev/null
      FILLERS+=("$(consumer_dir "$victim")/.chaos-filler") ;;
  esac
}

restore() {
  local name
  # A stopped consumer stays stopped past the tracker's offline_after (2 s), so it is missed.
  [ ${#STOPPED[@]} -eq 0 ] || sleep $((3 + RANDOM % 3))
  for name in "${STOPPED[@]}"; do kill -CONT "${PIDS[$name]}" 2>/dev/null; done
  for name in "${KILLED[@]}"; do
    if [ "$name" = tracker ]; then start_tracker; else start_daemon "$name"; fi
  done
  KILLED=() STOPPED=()
}

# --- rounds ------------------------------------------------------------------------------------------
declare -A SOURCE=() WANT=()  # file ID -> its original; desired availability
ALL_KINDS=(kill_consumers kill_producer kill_tracker stop_consumer corrupt_slot truncate_slot)
[ $TMPFS = 1 ] && ALL_KINDS+=(full_disk)
lost=0
slowest=0
healthy() {  # every file at its desired availability, UPLOADED
  local json id
  json=$(files_json) || return 1
  for id in "${!WANT[@]}"; do
    jq -e --arg id "$id" --argjson a "${WANT[$id]}" \
      '.[] | select(.id == $id) | select(.status == "UPLOADED" and .actualAvailability >= $a)' <<<"$json" >/dev/null ||
      return 1
  done
}
download_ok() {  # download_ok ID: byte-identical in a fresh directory
  local dir="$WORK/down-$1-$RANDOM"
  mkdir -p "$dir"
  "$BIN" --home "$WORK/producer" producer cp "$1" "$dir" >/dev/null 2>>"$WORK/cp.log" &&
    cmp -s "${SOURCE[$1]}" "$dir/$(basename "${SOURCE[$1]}")"
  local rc=$?
  rm -rf "$dir"
  return $rc
}

for round in $(seq 1 "$ROUNDS"); do
  damage_budget=$M
  case $((RANDOM % 6)) in
    0) size=$((RANDOM % 100)) ;;                          # a tiny file, sometimes empty
    1) size=$((65536 * (1 + RANDOM % 8))) ;;              # whole blocks
    *) size=$((RANDOM * 64 + RANDOM % 65536)) ;;           # up to ~2 MiB, odd sizes
  esac
  coding=$(pick "--k 4 --m 2" "--k 2 --m 2" "--k 3 --m 2" "--availability 3")
  src="$WORK/src/r$round.bin"
  mkdir -p "$WORK/src"
  head -c "$size" /dev/urandom >"$src"
  kind=$(pick "${ALL_KINDS[@]}")
  moment=$(pick upload download repair)
  delay=$(printf '0.%03d' $((RANDOM % 1000)))
  FAULTS[$kind]=$((${FAULTS[$kind]:-0} + 1))
  drops_before=$(audit_drops)
  given_before=$(given_up)
  echo "round $round: $size bytes ($coding), $kind during $moment after ${delay}s"

  # shellcheck disable=SC2086
  id=$("$BIN" --home "$WORK/producer" producer upload $coding --json "$src" 2>>"$WORK/upload.log" | jq -r .id)
  if [ -z "$id" ] || [ "$id" = null ]; then bad "round $round: upload gives a file ID"; continue; fi
  SOURCE[$id]=$src
  case $moment in
    upload)
      sleep "$delay"
      fault "$kind" "$id" ;;
    download)
      wait_for "$RECOVERY_BOUND" file_is "$id" UPLOADED 3 || bad "round $round: $id reaches UPLOADED before the fault"
      WANT[$id]=3
      dest="$WORK/dest-$round"
      mkdir -p "$dest"
      other=$(pick "${!WANT[@]}")
      "$BIN" --home "$WORK/producer" producer cp "$other" "$dest" >/dev/null 2>>"$WORK/cp.log" &
      cp_pid=$!
      sleep "$delay"
      fault "$kind" "$id"
      wait "$cp_pid"
      # Whatever happened to the download, nothing half-written stands under the file's name.
      out="$dest/$(basename "${SOURCE[$other]}")"
      if [ ! -e "$out" ] || cmp -s "$out" "${SOURCE[$other]}"; then ok; else
        bad "round $round: a download interrupted by $kind left a wrong $out"
      fi ;;
    repair)
      wait_for "$RECOVERY_BOUND" file_is "$id" UPLOADED 3 || bad "round $round: $id reaches UPLOADED before the fault"
      WANT[$id]=3
      # The repair under way is the one of a holder killed first.
      mapfile -t hs < <(holders "$id")
      first=$(pick "${hs[@]}") && kill_proc "$first" && damage_budget=$((damage_budget - 1))
      sleep "$delay"
      fault "$kind" "$id" ;;
  esac
  WANT[$id]=3
  restore

  # A damaged slot still counts until the consumer gives it up (CWatcher) or fails an audit.
  for blocks in "${DAMAGED[@]}"; do
    wait_for 60 caught "$blocks" "$drops_before" "$given_before" && ok || bad "round $round: the damaged slot $blocks is caught"
  done
  DAMAGED=()
  t0=$(date +%s)
  if wait_for "$RECOVERY_BOUND" healthy; then
    took=$(($(date +%s) - t0))
    [ $took -gt $slowest ] && slowest=$took
    ok
  else
    bad "round $round: availability is not back to 3 within ${RECOVERY_BOUND}s after $kind: $(files_json | jq -c '[.[] | {id: .id[0:16], status, actualAvailability}]')"
  fi
  for f in "${!WANT[@]}"; do
    if wait_for 60 download_ok "$f"; then ok; else
      lost=$((lost + 1))
      bad "round $round: file $f (from ${SOURCE[$f]}) does not download byte-identical"
    fi
  done
  # A full disk stays full until the round's checks are done: repair had to go around it.
  rm -f "${FILLERS[@]}"
  FILLERS=()
  # Long runs keep the newest KEEP_FILES files: the oldest is removed (`producer rm`), which is
  # also a path under test.
  mapfile -t ids < <(for f in "${!WANT[@]}"; do echo "${SOURCE[$f]##*/r} $f"; done | sort -n | awk '{print $2}')
  if [ ${#ids[@]} -gt "${KEEP_FILES:-8}" ]; then
    "$BIN" --home "$WORK/producer" producer rm "${ids[0]}" >/dev/null 2>>"$WORK/rm.log" && ok ||
      bad "round $round: producer rm of ${ids[0]}"
    unset "WANT[${ids[0]}]"
  fi
done

kinds=""
for kind in "${!FAULTS[@]}"; do kinds+=" $kind=${FAULTS[$kind]}"; done
echo "chaos: $ROUNDS rounds (seed $SEED); faults:$kinds; files lost: $lost; slowest recovery: ${slowest}s"
echo "chaos: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$lost" -eq 0 ]
