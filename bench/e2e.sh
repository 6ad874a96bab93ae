#!/usr/bin/env bash
# End-to-end benchmark (issue 5): a file uploaded and downloaded through a local network of a
# tracker, 6 consumers and a producer (k=4, m=2), every write durable (fsync), with the
# producer's and the consumers' peak RSS — and, measured in the same run on the same disk and
# CPU, the baselines it is judged against:
#   - disk: dd of as many bytes as the network writes (n/k x the file), conv=fdatasync;
#   - crypto: `openssl speed` for AES-256-GCM and SHA-256 on 64 KiB blocks;
#   - erasure coding: ISA-L encode alone (pipeline_bench's BM_Erasure, k=4 m=2);
#   - helia (IPFS in JavaScript, bench/helia/): add on one local peer, fetch from another.
# It prints throughput, the ratios, and DESIGN.md's target: upload >= 0.6 x disk / (n/k).
# Baselines are medians of RUNS repetitions; the network run is repeated RUNS times too.
#
# Usage: bench/e2e.sh [BUILD_DIR]          BUILD_DIR holds open-bucket and pipeline_bench
#   SIZE_MIB=1024 RUNS=3 bench/e2e.sh build
#   SKIP_HELIA=1 leaves the helia baseline out (it needs its npm packages, bench/helia/README.md).
# Exit status: 0 when the upload ratio meets the target, 1 when below, 2 when a run failed.
set -uo pipefail

BUILD=${1:-build}
BIN=$BUILD/open-bucket
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
K=4
M=2
CONSUMERS=6
for tool in jq curl openssl dd; do
  command -v "$tool" >/dev/null || { echo "e2e.sh: needs $tool (scripts/install-deps.sh)" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "e2e.sh: $BIN not found; build it first (ninja -C $BUILD open-bucket pipeline_bench)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/ob-e2e.XXXXXX")  # on disk, not tmpfs: durability costs
declare -A PIDS=()
cleanup() {
  for name in "${!PIDS[@]}"; do kill "${PIDS[$name]}" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
die() { echo "e2e.sh: $*" >&2; exit 2; }

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.1f", (s > 0 ? b / 1e6 / s : 0)}'; }
wait_for() {  # wait_for SECONDS COMMAND...
  local deadline=$(($(date +%s) + $1))
  shift
  while [ "$(date +%s)" -lt "$deadline" ]; do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}
peak_rss_mib() { awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null; }

BYTES=$((SIZE_MIB * 1024 * 1024))
echo "machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1); work dir $WORK ($(df -T "$WORK" | awk 'NR == 2 {print $2}'))"
echo "file: $SIZE_MIB MiB of random bytes, k=$K m=$M, $CONSUMERS consumers, $RUNS run(s); figures are medians"
head -c "$BYTES" /dev/urandom >"$WORK/file.bin"

# --- baselines -------------------------------------------------------------------------------------
NETWORK_BYTES=$((BYTES * (K + M) / K))
disk=()
for _ in $(seq "$RUNS"); do
  t0=$(now)
  dd if=/dev/zero of="$WORK/dd.out" bs=1M count=$((NETWORK_BYTES / 1048576)) conv=fdatasync status=none || die "dd failed"
  disk+=("$(mbps "$NETWORK_BYTES" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN {print b - a}')")")
  rm -f "$WORK/dd.out"
done
DISK=$(printf '%s\n' "${disk[@]}" | median)
# openssl speed prints "type 16 bytes ... 65536 bytes"; the last column is KB/s (1000 bytes) at 64 KiB.
speed() { openssl speed -seconds 2 -bytes 65536 -evp "$1" 2>/dev/null | awk -v t="$1" 'tolower($1) == tolower(t) {v = $NF} END {sub(/k$/, "", v); printf "%.1f\n", v / 1000}'; }
AES=$(for _ in $(seq "$RUNS"); do speed aes-256-gcm; done | median)
SHA=$(for _ in $(seq "$RUNS"); do speed sha256; done | median)
ERASURE=na
if [ -x "$BUILD/pipeline_bench" ]; then
  ERASURE=$("$BUILD/pipeline_bench" --benchmark_filter='BM_Erasure/k:4/m:2$' --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true --benchmark_format=csv 2>/dev/null |
    awk -F, '/^name,/ {for (i = 1; i <= NF; ++i) col[$i] = i; next}
             /_median"/ {print $col["bytes_per_second"] / 1e6; exit}')
  ERASURE=$(printf '%.1f' "${ERASURE:-0}")
fi

# helia (IPFS in JavaScript, bench/helia/): add on one local peer, fetch from a second, before our
# daemons start so they do not compete. Skipped, with the reason, when node/npm are missing.
HELIA=$(dirname "$0")/helia HELIA_ADD=na HELIA_FETCH=na ha=() hf=()
if [ "${SKIP_HELIA:-0}" = 1 ]; then echo "helia: skipped (SKIP_HELIA=1)"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then echo "helia: skipped, node/npm not installed"
elif [ ! -d "$HELIA/node_modules" ] && ! npm ci --prefix "$HELIA" --no-audit --no-fund >"$WORK/helia-npm.log" 2>&1; then
  echo "helia: skipped, npm ci failed: $(grep -m1 -i error "$WORK/helia-npm.log")"; rm -rf "$HELIA/node_modules"
else
  for _ in $(seq "$RUNS"); do
    j=$(TMPDIR=$WORK node "$HELIA/helia_bench.mjs" "$WORK/file.bin" 2>"$WORK/helia.log") || { echo "helia: skipped, run failed: $(tail -n1 "$WORK/helia.log")"; ha=(); break; }
    ha+=("$(jq -r .addMBps <<<"$j")"); hf+=("$(jq -r .fetchMBps <<<"$j")")
  done
  [ ${#ha[@]} -gt 0 ] && { HELIA_ADD=$(printf '%s\n' "${ha[@]}" | median); HELIA_FETCH=$(printf '%s\n' "${hf[@]}" | median); }
fi

# --- the network -------------------------------------------------------------------------------------
"$BIN" --home "$WORK/tracker" tracker --listen 127.0.0.1:0 --heartbeat-ms 500 --offline-after-ms 5000 \
  --audit-interval-ms 0 >"$WORK/tracker.out" 2>"$WORK/tracker.log" &
PIDS[tracker]=$!
wait_for 30 grep -q '^tracker ' "$WORK/tracker.out" || die "the tracker did not start: $(cat "$WORK/tracker.log")"
TRACKER=$(sed -n 's/^tracker //p' "$WORK/tracker.out")
NETWORK_ID=$(((RANDOM << 8) + 77))
start_node() {  # start_node NAME: durable (no --no-sync), free ports, its daemon running
  "$BIN" --home "$WORK/$1" init -d --api-port 0 --p2p-port 0 --dht-port 0 --network-id "$NETWORK_ID" \
    --tracker "$TRACKER" --limit "100 GB" --k $K --m $M >/dev/null || die "init $1 failed"
  "$BIN" --home "$WORK/$1" daemon 2>"$WORK/$1.log" &
  PIDS[$1]=$!
  wait_for 30 test -s "$WORK/$1/daemon.json" || die "daemon $1 did not start: $(cat "$WORK/$1.log")"
}
for i in $(seq 1 $CONSUMERS); do
  start_node "c$i"
  "$BIN" --home "$WORK/c$i" consumer start >/dev/null || die "consumer start c$i"
done
start_node producer
"$BIN" --home "$WORK/producer" producer start >/dev/null || die "producer start"

status_of() { "$BIN" --home "$WORK/producer" producer ls --json 2>/dev/null | jq -r --arg id "$1" '.[] | select(.id == $id) | "\(.status) \(.actualAvailability)"'; }
uploaded() { [ "$(status_of "$1")" = "UPLOADED $((M + 1))" ]; }
up=() down=()
for run in $(seq "$RUNS"); do
  cp "$WORK/file.bin" "$WORK/file-$run.bin"  # a new name each run: the producer would skip the same MD5 as already there
  t0=$(now)
  id=$("$BIN" --home "$WORK/producer" producer upload --k $K --m $M --json "$WORK/file-$run.bin" | jq -r .id)
  [ -n "$id" ] && [ "$id" != null ] || die "upload $run gave no file ID"
  wait_for 3600 uploaded "$id" || die "upload $run did not reach UPLOADED: $(status_of "$id")"
  up+=("$(mbps "$BYTES" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN {print b - a}')")")
  # The producer drops its encoded copy once the file is UPLOADED; until then `producer cp` would
  # decode that local copy instead of reading from the consumers.
  wait_for 120 test ! -e "$WORK/producer/slots/$id" || die "the producer kept its encoded copy of $id"
  mkdir -p "$WORK/down-$run"
  t0=$(now)
  "$BIN" --home "$WORK/producer" producer cp "$id" "$WORK/down-$run" >/dev/null || die "download $run failed"
  down+=("$(mbps "$BYTES" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN {print b - a}')")")
  cmp -s "$WORK/file.bin" "$WORK/down-$run/file-$run.bin" || die "download $run is not byte-identical"
  rm -rf "$WORK/down-$run"
  # Free the disk for the next run.
  "$BIN" --home "$WORK/producer" producer rm "$id" >/dev/null || die "rm $run failed"
  rm -f "$WORK/file-$run.bin"
done
UP=$(printf '%s\n' "${up[@]}" | median)
DOWN=$(printf '%s\n' "${down[@]}" | median)
PRODUCER_RSS=$(peak_rss_mib "${PIDS[producer]}")
CONSUMER_RSS=$(for i in $(seq 1 $CONSUMERS); do peak_rss_mib "${PIDS[c$i]}"; echo; done | sort -g | tail -1)

# --- the table -----------------------------------------------------------------------------------------
TARGET=$(awk -v d="$DISK" -v n=$((K + M)) -v k=$K 'BEGIN {printf "%.1f", 0.6 * d / (n / k)}')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
echo
printf '%-44s %12s\n' "measure" "MB/s"
printf '%-44s %12s\n' "upload (until UPLOADED, durable)" "$UP"
printf '%-44s %12s\n' "download (any k slots, verified, decrypted)" "$DOWN"
printf '%-44s %12s\n' "disk baseline: dd conv=fdatasync" "$DISK"
printf '%-44s %12s\n' "AES-256-GCM (openssl speed, 64 KiB)" "$AES"
printf '%-44s %12s\n' "SHA-256 (openssl speed, 64 KiB)" "$SHA"
printf '%-44s %12s\n' "ISA-L encode k=4 m=2 (pipeline_bench)" "$ERASURE"
printf '%-44s %12s\n' "helia add (IPFS JS, 2 local peers; no fsync)" "$HELIA_ADD" "helia fetch (bitswap)" "$HELIA_FETCH"
echo
echo "upload / (disk / (n/k))      $(ratio "$UP" "$(awk -v d="$DISK" 'BEGIN {print d / 1.5}')")   (target >= 0.60: upload >= $TARGET MB/s)"
echo "download / disk              $(ratio "$DOWN" "$DISK")"
echo "upload / AES-256-GCM         $(ratio "$UP" "$AES")"
echo "upload / SHA-256             $(ratio "$UP" "$SHA")"
echo "peak RSS: producer ${PRODUCER_RSS:-?} MiB, largest consumer ${CONSUMER_RSS:-?} MiB (VmHWM)"
if [ "$HELIA_ADD" != na ]; then
  echo "upload / helia add           $(ratio "$UP" "$HELIA_ADD")   (helia's add is one unencrypted, unsynced copy)"
  echo "download / helia fetch       $(ratio "$DOWN" "$HELIA_FETCH")"
fi
awk -v u="$UP" -v t="$TARGET" 'BEGIN {exit !(u >= t)}' && { echo "PASS"; exit 0; }
echo "BELOW target"
exit 1
