#!/usr/bin/env bash
# End-to-end test of the open-bucket command line on one node: real files in and out, slots
# damaged and rebuilt, and bad input refused with one line on stderr and nothing changed.
# Usage: cli_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: cli_test.sh PATH/TO/open-bucket}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OPEN_BUCKET_HOME="$WORK/home"

# expect_fail NAME EXPECTED_EXIT STDERR_PATTERN -- COMMAND...: the command must exit with
# EXPECTED_EXIT and print exactly one line matching the pattern on stderr.
expect_fail() {
  local name=$1 code=$2 pattern=$3
  shift 4
  local err rc
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne "$code" ]; then bad "$name: exit $rc, expected $code ($err)"; return; fi
  if [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then bad "$name: expected one line on stderr, got: $err"; return; fi
  if ! printf '%s' "$err" | grep -qE "$pattern"; then bad "$name: stderr '$err' does not match '$pattern'"; return; fi
  ok
}

# --- init ---
"$BIN" init >/dev/null && ok || bad "init"
[ "$(stat -c %a "$OPEN_BUCKET_HOME/keys/master.key")" = "600" ] && ok || bad "master key mode"
expect_fail "init twice" 1 "already initialised" -- "$BIN" init
key_before=$(sha256sum <"$OPEN_BUCKET_HOME/keys/master.key")
"$BIN" init --force >/dev/null && ok || bad "init --force"
[ "$key_before" = "$(sha256sum <"$OPEN_BUCKET_HOME/keys/master.key")" ] && ok || bad "init --force replaced the master secret"

# --- one mnemonic, the same keys on any machine (docs/formats.md "Keys of a home") ---
export OPEN_BUCKET_TEST_SCRYPT_N=4096  # the wallet's keystore: scrypt n = 4096 (seconds saved)
echo "test test test test test test test test test test test junk" >"$WORK/words"
echo "legal winner thank year wave sausage worth useful legal winner thank yellow" >"$WORK/other-words"
echo "keystore passphrase" >"$WORK/pw"
for h in first again other; do
  words="$WORK/words"
  [ "$h" = other ] && words="$WORK/other-words"
  "$BIN" --home "$WORK/$h" init -d --mnemonic-file "$words" --password-file "$WORK/pw" >"$WORK/$h.out" 2>&1 ||
    bad "init --mnemonic-file ($h): $(cat "$WORK/$h.out")"
done
grep -q "Derived the master secret" "$WORK/first.out" && ok || bad "init does not say the keys come from the words"
cmp -s "$WORK/first/keys/master.key" "$WORK/again/keys/master.key" && ok || bad "the same words gave another master secret"
cmp -s "$WORK/first/keys/identity.key" "$WORK/again/keys/identity.key" && ok || bad "the same words gave another identity"
cmp -s "$WORK/first/keys/master.key" "$WORK/other/keys/master.key" && bad "other words gave the same master secret" || ok
cmp -s "$WORK/first/keys/identity.key" "$WORK/other/keys/identity.key" && bad "other words gave the same identity" || ok
"$BIN" --home "$WORK/first" wallet ls --json 2>/dev/null | jq -e '.[0].address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"' \
  >/dev/null && ok || bad "account 0 of the words is not the wallet's"
# A home with random keys keeps them, and says the words cannot recover it.
"$BIN" --home "$WORK/first" init -d --force --mnemonic-file "$WORK/other-words" --password-file "$WORK/pw" \
  >"$WORK/kept.out" 2>&1 && grep -q "not derived from this mnemonic" "$WORK/kept.out" && ok ||
  bad "re-init with other words: $(cat "$WORK/kept.out")"
cmp -s "$WORK/first/keys/master.key" "$WORK/again/keys/master.key" && ok || bad "re-init replaced the master secret"
echo "test test test wrong" >"$WORK/bad-words"
expect_fail "bad words" 1 "bad-words" -- "$BIN" --home "$WORK/bad" init -d --mnemonic-file "$WORK/bad-words"
[ ! -e "$WORK/bad" ] && ok || bad "bad words still wrote a home"

# --- round trips of real files and edge sizes ---
: >"$WORK/empty"
printf 'x' >"$WORK/one"
head -c 65520 /dev/urandom >"$WORK/one-block"     # exactly one data block (64 KiB minus the tag)
head -c 1000003 /dev/urandom >"$WORK/odd"         # not a multiple of anything
cp "$BIN" "$WORK/binary"                           # a real file: this program
for f in empty one one-block odd binary; do
  cid=$("$BIN" data put "$WORK/$f") || { bad "put $f"; continue; }
  "$BIN" data get "$cid" "$WORK/$f.out" 2>/dev/null || { bad "get $f"; continue; }
  cmp -s "$WORK/$f" "$WORK/$f.out" && ok || bad "round trip $f differs"
done

# --- JSON output is valid and complete ---
json=$("$BIN" data put --json --k 3 --m 2 --block-size 8192 "$WORK/odd")
cid=$(printf '%s' "$json" | sed -n 's/.*"cid":"\([^"]*\)".*/\1/p')
[ -n "$cid" ] && printf '%s' "$json" | grep -q '"k":3' && printf '%s' "$json" | grep -q '"size":1000003' && ok || bad "put --json: $json"
"$BIN" data ls --json | grep -q "\"cid\": \"$cid\"" && ok || bad "ls --json lacks $cid"
"$BIN" data ls | grep -q "odd" && ok || bad "ls shows names"

# --- reconstruction: m = 2 slots lost (one deleted, one corrupted) ---
"$BIN" data damage "$cid" --slot 0 >/dev/null && "$BIN" data damage "$cid" --slot 3 --corrupt >/dev/null && ok || bad "damage"
"$BIN" data verify "$cid" >"$WORK/verify.txt"
rc=$?
[ $rc -eq 3 ] && grep -q "slot 0: missing" "$WORK/verify.txt" && grep -q "slot 3: damaged" "$WORK/verify.txt" && ok || bad "verify after damage: exit $rc"
"$BIN" data get "$cid" "$WORK/rebuilt" 2>/dev/null && cmp -s "$WORK/odd" "$WORK/rebuilt" && ok || bad "rebuild with 2 slots lost"
verify_json=$("$BIN" data verify --json "$cid")
printf '%s' "$verify_json" | grep -q '"recoverable": true' && printf '%s' "$verify_json" | grep -q '"state": "missing"' && ok || bad "verify --json: $verify_json"

# --- more than m lost: a clear error and no output file ---
"$BIN" data damage "$cid" --slot 4 >/dev/null
"$BIN" data verify "$cid" >"$WORK/verify.txt"
rc=$?
[ $rc -eq 4 ] && grep -q "NOT recoverable" "$WORK/verify.txt" && ok || bad "verify unrecoverable: exit $rc"
expect_fail "get unrecoverable" 1 "intact blocks, need 3|usable, need 3" -- "$BIN" data get "$cid" "$WORK/lost"
[ ! -e "$WORK/lost" ] && [ -z "$(ls -A "$WORK" | grep '^\.ob-tmp-')" ] && ok || bad "a failed get left a file behind"

# --- bad input: one line on stderr, non-zero exit, nothing stored changes ---
before=$("$BIN" data ls --json)
expect_fail "missing file" 1 "cannot open.*no-such-file" -- "$BIN" data put "$WORK/no-such-file"
expect_fail "directory" 1 "not a regular file" -- "$BIN" data put "$WORK"
expect_fail "k < 1" 1 "k must be at least 1" -- "$BIN" data put --k 0 "$WORK/one"
expect_fail "k + m > 255" 1 "k \+ m must be at most 255" -- "$BIN" data put --k 200 --m 56 "$WORK/one"
expect_fail "block size" 1 "block size must be" -- "$BIN" data put --block-size 1000 "$WORK/one"
expect_fail "block size too big" 1 "block size must be" -- "$BIN" data put --block-size 8388608 "$WORK/one"
expect_fail "malformed CID" 1 "invalid CID" -- "$BIN" data get not-a-cid "$WORK/x"
expect_fail "unknown CID" 1 "not stored here" -- "$BIN" data get bagaibqabciqlk546ubfhj3gt6wxe7pklnls6rfqqnfr2nkea6nyqzzwqeg3jrgy "$WORK/x"
expect_fail "raw CID is no file" 1 "not an Open Bucket file" -- "$BIN" data get bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e "$WORK/x"
expect_fail "rm unknown" 1 "not stored here" -- "$BIN" data rm bagaibqabciqlk546ubfhj3gt6wxe7pklnls6rfqqnfr2nkea6nyqzzwqeg3jrgy
expect_fail "damage bad slot" 1 "slot 9 does not exist" -- "$BIN" data damage "$cid" --slot 9
usage=$("$BIN" data frobnicate 2>&1 >/dev/null)
rc=$?
[ $rc -eq 2 ] && printf '%s' "$usage" | grep -q -- "--help" && ok || bad "usage error: exit $rc ($usage)"
expect_fail "no home" 1 "not initialised" -- "$BIN" --home "$WORK/nowhere" data ls
[ "$before" = "$("$BIN" data ls --json)" ] && ok || bad "bad input changed what is stored"

# --- rm ---
"$BIN" data rm "$cid" >/dev/null && ok || bad "rm"
! "$BIN" data ls --json | grep -q "$cid" && ok || bad "rm left the file listed"
[ ! -d "$OPEN_BUCKET_HOME/slots/$cid" ] && ok || bad "rm left slots behind"

# --- help exists for every command ---
for cmd in "" "init" "data" "data put" "data get" "data ls" "data rm" "data verify" "data damage" \
  "producer" "producer upload" "consumer" "consumer config" "wallet" "wallet send" "nodes" "network" "tracker" "demo"; do
  # shellcheck disable=SC2086
  "$BIN" $cmd --help | grep -q "Usage" && ok || bad "--help for '$cmd'"
done

# --- exit codes are the same in every command group (docs/cli.md "Exit codes") ---
"$BIN" --version | grep -q "^open-bucket " && ok || bad "--version"
for cmd in "" "producer" "consumer" "wallet" "nodes" "network" "consumer frobnicate" "wallet send --frobnicate" \
  "producer upload" "data get" "nodes resize 1" "data put --k two $WORK/one"; do
  # shellcheck disable=SC2086
  usage=$("$BIN" $cmd 2>&1 >/dev/null)
  rc=$?
  [ $rc -eq 2 ] && printf '%s' "$usage" | grep -q -- "--help" && ok || bad "usage error '$cmd': exit $rc ($usage)"
done
expect_fail "no daemon for consumer slots" 1 "daemon" -- "$BIN" consumer slots
expect_fail "wallet send to a bad address" 1 "address" -- "$BIN" wallet send --to 0x12 --amount 1
expect_fail "unknown peer ID" 1 "peer" -- "$BIN" network find not-a-peer

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
