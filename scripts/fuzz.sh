#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (build-fuzz/, -DOB_FUZZ=ON) and runs each for a bounded
# time on a scratch copy of its seed corpus. Fails if any target crashes: an ASan or UBSan
# report, a violated property, a leak, an input slower than 10 s or a run over 2 GiB.
# Usage: scripts/fuzz.sh [TARGET...]     (default: every target, parsers then services)
#   FUZZ_SECONDS  seconds per target (default 45: six targets stay within CI's 6 minutes)
#   JOBS          build parallelism (default: all cores)
# A crashing input is saved in the artifacts directory printed below; replay it with
# `build-fuzz/TARGET FILE`. fuzz/README.md says what each target checks and how to run longer.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-45}
if (($# > 0)); then targets=("$@"); else
  targets=(cid_fuzz multibase_fuzz manifest_fuzz rest_fuzz tracker_fuzz exchange_fuzz)
fi

# Longest input per target: CIDs are at most 256 characters, but multibase text has no limit of
# its own; a manifest is refused above 64 KiB; a service target's input is a sequence of calls
# (fuzz/frames.h), 16 KiB of them is dozens of requests.
max_len() {
  case $1 in
    manifest_fuzz) echo 65536 ;;
    rest_fuzz | tracker_fuzz | exchange_fuzz) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

echo "fuzz: building build-fuzz (-DOB_FUZZ=ON)"
cmake -S . -B build-fuzz -G Ninja -DOB_FUZZ=ON -DOB_BENCHMARKS=OFF -DOB_WERROR=ON >/dev/null
ninja -C build-fuzz -j "$JOBS" fuzz

work=$(mktemp -d "${TMPDIR:-/tmp}/ob-fuzz.XXXXXX")
artifacts=$work/artifacts
mkdir -p "$artifacts"
echo "fuzz: ${FUZZ_SECONDS} s per target; scratch corpora and logs in $work"
echo "fuzz: crash artifacts go to $artifacts"

# Picks "name: value" out of a libFuzzer status line ("#9 INITED cov: 733 ft: 1104 corp: 7/302b").
field() { sed -nE "s/.* $1: ([^ ]+).*/\\1/p" <<<"$2"; }

failed=()
for target in "${targets[@]}"; do
  corpus=$work/corpus/$target
  mkdir -p "$corpus"
  cp build-fuzz/fuzz/corpus/"${target%_fuzz}"/* "$corpus"/
  log=$work/$target.log
  if UBSAN_OPTIONS=print_stacktrace=1 build-fuzz/"$target" "$corpus" \
      -max_total_time="$FUZZ_SECONDS" -max_len="$(max_len "$target")" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
      >"$log" 2>&1; then
    inited=$(grep -E '^#[0-9]+[[:space:]]+INITED' "$log" | tail -n 1)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    runs=$(sed -nE 's/^stat::number_of_executed_units:[[:space:]]+([0-9]+)/\1/p' "$log")
    rate=$(sed -nE 's/^stat::average_exec_per_sec:[[:space:]]+([0-9]+)/\1/p' "$log")
    rss=$(sed -nE 's/^stat::peak_rss_mb:[[:space:]]+([0-9]+)/\1/p' "$log")
    printf '%-15s ok  %9s execs (%s/s)  cov: %s -> %s  ft: %s -> %s  corpus: %s -> %s files  peak rss %s MB\n' \
      "$target" "$runs" "$rate" "$(field cov "$inited")" "$(field cov "$done_line")" \
      "$(field ft "$inited")" "$(field ft "$done_line")" \
      "$(ls build-fuzz/fuzz/corpus/"${target%_fuzz}" | wc -l)" "$(ls "$corpus" | wc -l)" "$rss"
  else
    echo "$target FAILED; the end of its log ($log):"
    tail -n 60 "$log"
    failed+=("$target")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz: FAILED: ${failed[*]}; inputs in $artifacts:"
  ls -l "$artifacts"
  echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
  exit 1
fi
rm -rf "$work"  # nothing found: the scratch corpora and logs are not worth keeping
echo "fuzz: ${#targets[@]} passed, 0 failed"
