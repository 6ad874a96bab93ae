#!/usr/bin/env bash
# End-to-end test of the daemon and its REST API (docs/api.md): a real daemon on an ephemeral
# port of 127.0.0.1, driven with curl and with the CLI, which must go through the API while the
# daemon holds the store. Also: authentication, bad input, clean stop on SIGTERM, and a second
# daemon for the same home refused.
# Usage: rest_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: rest_test.sh PATH/TO/open-bucket}
e2e_setup
export OPEN_BUCKET_HOME="$WORK/home"


# --- a home on an ephemeral port, and its daemon ---
"$BIN" init >/dev/null || { echo "init failed" >&2; exit 1; }
sed -i 's/^port = 8080$/port = 0/; s/^port = 4040$/port = 0/; s/^dht_port = 4222$/dht_port = 0/' "$OPEN_BUCKET_HOME/config.toml"
check "config has an [api] port" grep -q '^port = 0$' "$OPEN_BUCKET_HOME/config.toml"
check "api.token is private" [ "$(stat -c %a "$OPEN_BUCKET_HOME/keys/api.token")" = "600" ]

"$BIN" daemon --log-level debug 2>"$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 1 300); do  # up to 30 s (sanitizer builds start slowly)
  [ -s "$OPEN_BUCKET_HOME/daemon.json" ] && break
  kill -0 "$DAEMON_PID" 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$OPEN_BUCKET_HOME/daemon.json" ]; then
  echo "the daemon did not start:" >&2
  cat "$WORK/daemon.log" >&2
  exit 1
fi
PORT=$(sed -n 's/.*"apiPort":\([0-9]*\).*/\1/p' "$OPEN_BUCKET_HOME/daemon.json")
TOKEN=$(cat "$OPEN_BUCKET_HOME/keys/api.token")
URL="http://127.0.0.1:$PORT"
check "daemon.json names the daemon's pid" grep -q "\"pid\":$DAEMON_PID" "$OPEN_BUCKET_HOME/daemon.json"

# api METHOD PATH [CURL ARGS...]: one request with the token; sets STATUS, BODY is the file
# holding the reply and HEADERS its headers.
BODY="$WORK/body"
HEADERS="$WORK/headers"
api() {
  local method=$1 path=$2
  shift 2
  STATUS=$(curl -s -X "$method" -H "Authorization: Bearer $TOKEN" -o "$BODY" -D "$HEADERS" \
    -w '%{http_code}' "$@" "$URL$path")
}
# is_error STATUS: the reply has that status and a {"msg": ...} body.
is_error() { [ "$STATUS" = "$1" ] && grep -q '^{"msg":".*"}$' "$BODY"; }
header() { grep -i "^$1:" "$HEADERS" | tr -d '\r' | cut -d' ' -f2-; }

# --- upload, download, list: the binary itself is the test file ---
cp "$BIN" "$WORK/binary"
api POST /v1/data --data-binary @"$WORK/binary" -H "Content-Type: application/x-executable" \
  -H 'Content-Disposition: attachment; filename="open bucket.bin"'
CID=$(cat "$BODY")
{ [ "$STATUS" = 200 ] && [[ "$CID" == bagaibqab* ]]; } && ok || bad "POST /v1/data returns a CID"
api GET "/v1/data/$CID"
{ [ "$STATUS" = 200 ] && cmp -s "$WORK/binary" "$BODY"; } && ok || bad "GET /v1/data/{cid} is byte-identical"
check "the MIME type comes back" [ "$(header Content-Type)" = "application/x-executable" ]
check "the name comes back" [ "$(header Content-Disposition)" = 'attachment; filename="open bucket.bin"' ]
check "Content-Length is the file size" [ "$(header Content-Length)" = "$(stat -c %s "$WORK/binary")" ]
api GET "/v1/data/$CID/network/stream"
{ [ "$STATUS" = 200 ] && cmp -s "$WORK/binary" "$BODY"; } && ok || bad "network/stream serves the local copy"
# Ranges (issue 13): one range gives 206 and those bytes only; several are ignored (200).
SIZE=$(stat -c %s "$WORK/binary")
api GET "/v1/data/$CID" -H "Range: bytes=0-99"
{ [ "$STATUS" = 206 ] && cmp -s <(head -c 100 "$WORK/binary") "$BODY"; } && ok || bad "Range: bytes=0-99 gives 206 and the first 100 bytes"
check "Content-Range names the range and the size" [ "$(header Content-Range)" = "bytes 0-99/$SIZE" ]
api GET "/v1/data/$CID/network/stream" -H "Range: bytes=-1000"
{ [ "$STATUS" = 206 ] && cmp -s <(tail -c 1000 "$WORK/binary") "$BODY"; } && ok || bad "a suffix range gives the last 1000 bytes"
MID=$((SIZE / 2 - 12345))
api GET "/v1/data/$CID/network/stream" -H "Range: bytes=$MID-$((MID + 199999))"
{ [ "$STATUS" = 206 ] && cmp -s <(tail -c +$((MID + 1)) "$WORK/binary" | head -c 200000) "$BODY"; } &&
  ok || bad "a range in the middle, across stripes, is byte-identical"
api GET "/v1/data/$CID" -H "Range: bytes=$SIZE-"
{ is_error 416 && [ "$(header Content-Range)" = "bytes */$SIZE" ]; } && ok || bad "a range past the end gets 416"
api GET "/v1/data/$CID" -H "Range: bytes=0-1,5-6"
{ [ "$STATUS" = 200 ] && cmp -s "$WORK/binary" "$BODY"; } && ok || bad "several ranges are ignored: the whole file, 200"

api POST "/v1/data?k=2&m=1&blockSize=8192" --data-binary "hello" -H "Accept: application/json"
{ [ "$STATUS" = 200 ] &&
  grep -q '"k":2' "$BODY" && grep -q '"blockSize":8192' "$BODY" && grep -q '"size":5' "$BODY"; } && ok || bad "Accept: application/json gives the file as JSON"
SMALL=$(sed -n 's/.*"cid":"\([^"]*\)".*/\1/p' "$BODY")
api GET "/v1/data/$SMALL"
{ [ "$STATUS" = 200 ] && [ "$(cat "$BODY")" = "hello" ]; } && ok || bad "small file round trip"
printf 'chunked body' | api POST /v1/data -H "Transfer-Encoding: chunked" --data-binary @-
CHUNKED=$(cat "$BODY")
api GET "/v1/data/$CHUNKED"
{ [ "$STATUS" = 200 ] && [ "$(cat "$BODY")" = "chunked body" ]; } && ok || bad "a chunked upload round-trips"
api POST /v1/data -H "Content-Type:" --data-binary ""
EMPTY=$(cat "$BODY")
api GET "/v1/data/$EMPTY"
{ [ "$STATUS" = 200 ] && [ ! -s "$BODY" ]; } && ok || bad "an empty file round-trips"

api GET /v1/data
{ [ "$STATUS" = 200 ] &&
  grep -q "\"cid\":\"$CID\"" "$BODY" && grep -q '"name":"open bucket.bin"' "$BODY" &&
  grep -q '"mimeType":"application/x-executable"' "$BODY" && grep -q '"storedBytes":' "$BODY"; } && ok || bad "GET /v1/data lists the file with its name and type"
api GET /v1/space
{ [ "$STATUS" = 200 ] && grep -q '"quotaMaxBytes":0' "$BODY" &&
  grep -q '"storedFiles":4' "$BODY" && grep -q '"slotBytes":' "$BODY" && grep -q '"quotaUsedBytes":' "$BODY"; } && ok || bad "GET /v1/space"
api GET /v1/debug/info
{ [ "$STATUS" = 200 ] && grep -q '"id":"12D3KooW' "$BODY" &&
  grep -q "\"apiPort\":$PORT" "$BODY" && grep -q '"addrs":\["127.0.0.1:[0-9]*"\]' "$BODY" &&
  grep -q '"version":"0.1.0"' "$BODY"; } && ok || bad "GET /v1/debug/info names the peer"
api GET /v1/peers
{ [ "$STATUS" = 200 ] && [ "$(cat "$BODY")" = "[]" ]; } && ok || bad "GET /v1/peers"
api POST "/v1/data/$CID/network"
{ [ "$STATUS" = 200 ] && grep -q '"msg"' "$BODY"; } && ok || bad "POST network on a local file"
api HEAD "/v1/data/$CID" -I
{ [ "$STATUS" = 200 ] && [ "$(header Content-Length)" = "$(stat -c %s "$WORK/binary")" ]; } && ok || bad "HEAD gives the headers"

# --- concurrent requests: each is served on its own thread, against one engine ---
for i in 1 2 3 4; do
  head -c $((700000 + i * 1000)) /dev/urandom >"$WORK/par$i"
  curl -s -o "$WORK/par$i.cid" -H "Authorization: Bearer $TOKEN" --data-binary @"$WORK/par$i" "$URL/v1/data" &
  curl -s -o "$WORK/par$i.get" -H "Authorization: Bearer $TOKEN" "$URL/v1/data/$CID" &
  curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/v1/data" &
done
wait_ok=1
for job in $(jobs -p); do [ "$job" = "$DAEMON_PID" ] || wait "$job" || wait_ok=0; done
[ "$wait_ok" = 1 ] && ok || bad "a concurrent curl failed"
for i in 1 2 3 4; do
  api GET "/v1/data/$(cat "$WORK/par$i.cid")"
  { [ "$STATUS" = 200 ] && cmp -s "$WORK/par$i" "$BODY" && cmp -s "$WORK/binary" "$WORK/par$i.get"; } && ok ||
    bad "concurrent round trip $i"
  api DELETE "/v1/data/$(cat "$WORK/par$i.cid")"
done

# --- slow clients (docs/api.md "Limits"): a header trickling in holds no worker thread ---
# slow_headers N: keeps N connections sending a request header one byte a second, never ending
# it, and opens a new one whenever the daemon closes one (as an attacker would), until killed
# (or 90 s passed: nothing outlives the test).
slow_headers() {
  trap '' PIPE
  local fds=() i fd
  for ((i = 0; i < $1; i++)); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    printf 'GET /v1/debug/info HTTP/1.1\r\nX-Slow: ' >&"$fd"
    fds+=("$fd")
  done
  touch "$WORK/slow.connected"
  local t
  for ((t = 0; t < 90; t++)); do
    for i in "${!fds[@]}"; do
      if ! printf 'x' >&"${fds[$i]}" 2>/dev/null; then
        exec {fd}>&- {fd}<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null || continue
        fds[$i]=$fd
      fi
    done
    sleep 1
  done
}
head -c 2500000 /dev/urandom >"$WORK/steady"
# A legitimately slow upload: 2.5 MB at 200 kB/s takes longer than the header deadline.
curl -s -o "$WORK/steady.cid" -H "Authorization: Bearer $TOKEN" --limit-rate 200k --data-binary @"$WORK/steady" \
  "$URL/v1/data" &
STEADY_PID=$!
slow_headers 64 &
SLOW_PID=$!
wait_for 30 [ -e "$WORK/slow.connected" ] && ok || bad "64 slow connections could not be opened"
STATUS=$(curl -s -m 15 -o "$BODY" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/v1/debug/info")
check "64 slow headers do not keep /v1/debug/info from answering" [ "$STATUS" = 200 ]
# One more, watched: it is answered 408 and closed once the header deadline passes, although a
# byte keeps arriving every second (each read on its own would never time out).
exec {probe}<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /v1/debug/info HTTP/1.1\r\nAuthorization: Bearer %s\r\nX-Slow: ' "$TOKEN" >&"$probe"
(
  trap '' PIPE
  for ((i = 0; i < 60; i++)); do printf 'x' >&"$probe" 2>/dev/null || exit 0; sleep 1; done
) &
TRICKLE_PID=$!
reply=""
IFS= read -r -t 45 -u "$probe" reply
[[ "$reply" == "HTTP/1.1 408 "* ]] && ok || bad "a header still incomplete after the deadline gets 408 (got '$reply')"
exec {probe}>&-
STATUS=$(curl -s -m 15 -o "$BODY" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/v1/debug/info")
check "still answering while the slow clients reconnect" [ "$STATUS" = 200 ]
kill "$SLOW_PID" "$TRICKLE_PID" 2>/dev/null
wait "$SLOW_PID" "$TRICKLE_PID" 2>/dev/null
wait "$STEADY_PID" && api GET "/v1/data/$(cat "$WORK/steady.cid")" && [ "$STATUS" = 200 ] && cmp -s "$WORK/steady" "$BODY" &&
  ok || bad "a slow but steady upload outlasting the header deadline is stored whole"
api DELETE "/v1/data/$(cat "$WORK/steady.cid")"

# --- authentication ---
STATUS=$(curl -s -o "$BODY" -w '%{http_code}' "$URL/v1/data")
check "no token: 401 with a message" is_error 401
grep -q "missing or invalid API token" "$BODY" && ok || bad "401 message"
if [ "${TOKEN: -1}" = 0 ]; then WRONG="${TOKEN%?}1"; else WRONG="${TOKEN%?}0"; fi  # last digit changed
STATUS=$(curl -s -o "$BODY" -w '%{http_code}' -H "Authorization: Bearer $WRONG" "$URL/v1/data")
check "wrong token: 401" is_error 401
STATUS=$(curl -s -o "$BODY" -w '%{http_code}' -H "Authorization: Basic $TOKEN" "$URL/v1/data")
check "another scheme: 401" is_error 401
STATUS=$(curl -s -o "$BODY" -w '%{http_code}' --data-binary "x" "$URL/v1/data")
check "an upload without a token: 401" is_error 401
STATUS=$(curl -s -o "$BODY" -w '%{http_code}' -X DELETE "$URL/v1/data/$CID")
check "a delete without a token: 401" is_error 401
STATUS=$(curl -s -o "$BODY" -w '%{http_code}' "$URL/v1/nowhere")
check "an unknown path without a token: 401" is_error 401

# --- bad requests: a clear error, nothing stored ---
api GET /v1/data
before=$(cat "$BODY")
api GET /v1/data/not-a-cid
check "malformed CID: 400" is_error 400
api DELETE /v1/data/bnot-base32
check "malformed CID on DELETE: 400" is_error 400
api GET /v1/data/bagaibqabciqlk546ubfhj3gt6wxe7pklnls6rfqqnfr2nkea6nyqzzwqeg3jrgy
check "unknown CID: 404" is_error 404
api GET /v1/data/bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e
check "a raw block's CID is no file: 400" is_error 400
api POST "/v1/data?k=0" --data-binary "x"
{ is_error 400 && grep -q "k must be at least 1" "$BODY"; } && ok || bad "k=0: 400"
api POST "/v1/data?k=300" --data-binary "x"
check "k=300: 400" is_error 400
api POST "/v1/data?k=abc" --data-binary "x"
check "k=abc: 400" is_error 400
api POST "/v1/data?k=-1" --data-binary "x"
check "k=-1: 400" is_error 400
api POST "/v1/data?blockSize=1000" --data-binary "x"
{ is_error 400 && grep -q "block size must be" "$BODY"; } && ok || bad "blockSize=1000: 400"
api POST "/v1/data?blockSize=99999999999" --data-binary "x"
check "blockSize out of range: 400" is_error 400
api POST /v1/data --data-binary "x" -H 'Content-Disposition: attachment; filename="unterminated'
check "malformed Content-Disposition: 400" is_error 400
api POST /v1/data -F "file=@$WORK/binary"
check "multipart/form-data: 415" is_error 415
STATUS=$(curl -s -o "$BODY" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$URL/v1/data")
check "an upload without a length: 411" is_error 411
api PUT /v1/data --data-binary "x"
{ is_error 405 && [ "$(header Allow)" = "GET, POST" ]; } && ok || bad "PUT /v1/data: 405"
api PATCH "/v1/data/$CID"
check "PATCH /v1/data/{cid}: 405" is_error 405
api POST /v1/space
check "POST /v1/space: 405" is_error 405
api GET /v1/nowhere
check "unknown path: 404" is_error 404
api GET /v1/data/x/y/z
check "unknown nested path: 404" is_error 404
api POST /v1/data/bagaibqabciqlk546ubfhj3gt6wxe7pklnls6rfqqnfr2nkea6nyqzzwqeg3jrgy/network
{ [ "$STATUS" = 202 ] && grep -q '"msg":"fetching' "$BODY"; } && ok || bad "POST network on an unknown file: 202, fetching in the background"
# A NUL byte in a path would cut it short where the system sees it ("f.bin\u0000.evil" is
# "f.bin"): every route refuses it, before anything happens.
nul_body() { api POST "$1" -H "Content-Type: application/json" --data-binary "$2"; }
for route_and_body in \
  "/v1/producer/files/upload|{\"path\": \"$WORK/binary\\u0000.evil\"}" \
  "/v1/producer/files/download|{\"path\": \"/binary\", \"destination\": \"$WORK/nul\\u0000dir\"}" \
  "/v1/producer/files/download|{\"path\": \"/bin\\u0000ary\", \"destination\": \"$WORK\"}" \
  "/v1/producer/files/remove|{\"remotePath\": \"/bin\\u0000ary\"}" \
  "/v1/producer/edit|{\"fileId\": \"$CID\", \"path\": \"/new\\u0000name\"}" \
  "/v1/producer/configs|{\"directory\": \"$WORK/nul\\u0000dir\"}" \
  "/v1/consumer/configs|{\"directory\": \"$WORK/nul\\u0000dir\"}"; do
  nul_body "${route_and_body%%|*}" "${route_and_body#*|}"
  { is_error 400 && grep -q 'NUL' "$BODY"; } && ok || bad "a NUL in a path on ${route_and_body%%|*}: $STATUS $(cat "$BODY")"
done
check "a path cut at its NUL was not created" [ ! -e "$WORK/nul" ]
api GET /v1/data
check "bad requests stored nothing" [ "$before" = "$(cat "$BODY")" ]

# --- delete ---
api DELETE "/v1/data/$SMALL"
check "DELETE: 204" [ "$STATUS" = 204 ]
api GET "/v1/data/$SMALL"
check "GET after DELETE: 404" is_error 404
api DELETE "/v1/data/$SMALL"
check "DELETE again: 404" is_error 404

# --- the CLI goes through the daemon (which holds the store's lock) ---
cli_cid=$("$BIN" data put --mime text/plain "$WORK/binary" 2>"$WORK/err") && ok || bad "CLI put: $(cat "$WORK/err")"
"$BIN" data get "$cli_cid" "$WORK/cli.out" 2>/dev/null && cmp -s "$WORK/binary" "$WORK/cli.out" && ok ||
  bad "CLI get round trip"
mkdir -p "$WORK/outdir"
"$BIN" data get "$cli_cid" "$WORK/outdir" 2>/dev/null && cmp -s "$WORK/binary" "$WORK/outdir/binary" && ok ||
  bad "CLI get into a directory uses the stored name"
"$BIN" data get "$cli_cid" - 2>/dev/null | cmp -s "$WORK/binary" - && ok || bad "CLI get to stdout"
"$BIN" data ls | grep -q "$cli_cid" && ok || bad "CLI ls"
"$BIN" data ls --json | grep -q '"mimeType": "text/plain"' && ok || bad "CLI ls --json"
json=$(printf 'from stdin' | "$BIN" data put --json --k 2 --m 2 -)
printf '%s' "$json" | grep -q '"k":2' && printf '%s' "$json" | grep -q '"size":10' && ok || bad "CLI put --json from stdin: $json"
err=$("$BIN" data get bagaibqabciqlk546ubfhj3gt6wxe7pklnls6rfqqnfr2nkea6nyqzzwqeg3jrgy "$WORK/none" 2>&1 >/dev/null)
[ $? -eq 1 ] && printf '%s' "$err" | grep -q "not stored here" && [ ! -e "$WORK/none" ] && ok ||
  bad "CLI get of an unknown CID: $err"
err=$("$BIN" data put --k 0 "$WORK/binary" 2>&1 >/dev/null)
[ $? -eq 1 ] && printf '%s' "$err" | grep -q "k must be at least 1" && ok || bad "CLI put --k 0: $err"
"$BIN" data rm "$cli_cid" >/dev/null && ok || bad "CLI rm"
! "$BIN" data ls | grep -q "$cli_cid" && ok || bad "CLI rm left the file listed"
err=$("$BIN" data verify "$CID" 2>&1 >/dev/null)
[ $? -eq 1 ] && printf '%s' "$err" | grep -q "stop the daemon first" && ok || bad "verify while the daemon runs: $err"
grep -q "GET /v1/debug/info" "$WORK/daemon.log" && grep -q "DELETE /v1/data/$cli_cid" "$WORK/daemon.log" && ok ||
  bad "the daemon's log does not show the CLI's requests"

# --- one daemon per home ---
err=$("$BIN" daemon 2>&1 >/dev/null)
[ $? -eq 1 ] && printf '%s' "$err" | grep -q "a daemon is already running for $OPEN_BUCKET_HOME (pid $DAEMON_PID)" && ok ||
  bad "second daemon: $err"
[ -s "$OPEN_BUCKET_HOME/daemon.json" ] && kill -0 "$DAEMON_PID" && ok || bad "the second daemon disturbed the first"
# Another home configured with the same port must not share it (no SO_REUSEPORT).
"$BIN" --home "$WORK/other" init >/dev/null
sed -i "s/^port = 8080\$/port = $PORT/" "$WORK/other/config.toml"
err=$(timeout 20 "$BIN" --home "$WORK/other" daemon 2>&1 >/dev/null)
[ $? -eq 1 ] && printf '%s' "$err" | grep -q "cannot listen on 127.0.0.1:$PORT" && [ ! -e "$WORK/other/daemon.json" ] && ok ||
  bad "a daemon of another home on a port in use: $err"

# --- SIGTERM: a clean stop ---
kill -TERM "$DAEMON_PID"
stopped=""
for _ in $(seq 1 100); do  # up to 10 s
  if ! kill -0 "$DAEMON_PID" 2>/dev/null; then stopped=1; break; fi
  sleep 0.1
done
if [ -n "$stopped" ]; then
  wait "$DAEMON_PID"
  rc=$?
  DAEMON_PID=""
  check "the daemon exits 0 on SIGTERM" [ "$rc" -eq 0 ]
else
  bad "the daemon did not stop within 10 s of SIGTERM"
fi
check "daemon.json is removed" [ ! -e "$OPEN_BUCKET_HOME/daemon.json" ]
# With no daemon the CLI works on the store directly again.
"$BIN" data get "$CID" "$WORK/local.out" 2>/dev/null && cmp -s "$WORK/binary" "$WORK/local.out" && ok ||
  bad "local get after the daemon stopped"
"$BIN" data verify "$CID" >/dev/null && ok || bad "local verify after the daemon stopped"

# --- a stale daemon.json: its pid gone, or a live pid that is no daemon ---
true &
dead_pid=$!
wait "$dead_pid"
printf '{"apiPort":%s,"peerId":"x","pid":%s}\n' "$PORT" "$dead_pid" >"$OPEN_BUCKET_HOME/daemon.json"
"$BIN" data ls | grep -q "$CID" && ok || bad "data ls with a daemon.json whose pid is gone"
printf '{"apiPort":%s,"peerId":"x","pid":%s}\n' "$PORT" "$$" >"$OPEN_BUCKET_HOME/daemon.json"
"$BIN" data ls | grep -q "$CID" && ok || bad "data ls with a daemon.json naming a live non-daemon"

# --- files the daemon cannot rebuild: refused before the headers, or cut off mid-stream ---
head -c 3000000 /dev/urandom >"$WORK/three-mb"
LOST=$("$BIN" data put "$WORK/three-mb")
CORRUPT=$("$BIN" data put "$WORK/three-mb")
for slot in 0 1 2; do  # 3 of 6 slots with k = 4: more than m = 2
  "$BIN" data damage "$LOST" --slot "$slot" >/dev/null
  "$BIN" data damage "$CORRUPT" --slot "$slot" --corrupt >/dev/null  # the slot indexes stay intact
done
"$BIN" daemon 2>"$WORK/daemon2.log" &
DAEMON_PID=$!
for _ in $(seq 1 300); do
  grep -q "\"pid\":$DAEMON_PID" "$OPEN_BUCKET_HOME/daemon.json" 2>/dev/null && break
  kill -0 "$DAEMON_PID" 2>/dev/null || break
  sleep 0.1
done
check "a restarted daemon replaces a stale daemon.json" grep -q "\"pid\":$DAEMON_PID" "$OPEN_BUCKET_HOME/daemon.json"
PORT=$(sed -n 's/.*"apiPort":\([0-9]*\).*/\1/p' "$OPEN_BUCKET_HOME/daemon.json")
URL="http://127.0.0.1:$PORT"
api GET "/v1/data/$LOST"
{ is_error 500 && grep -q "slots are usable, need 4" "$BODY"; } && ok || bad "fewer than k slots: 500 with the reason"
curl -s -o "$WORK/cut.out" -H "Authorization: Bearer $TOKEN" "$URL/v1/data/$CORRUPT"
rc=$?
# curl: 18 = transfer closed with bytes outstanding (56 = connection reset, just as short)
{ { [ "$rc" -eq 18 ] || [ "$rc" -eq 56 ]; } && [ "$(stat -c %s "$WORK/cut.out")" -lt 3000000 ]; } && ok ||
  bad "an unrecoverable stripe mid-stream cuts the transfer short (curl exit $rc)"
err=$("$BIN" data get "$CORRUPT" "$WORK/cut.cli" 2>&1 >/dev/null)
{ [ $? -eq 1 ] && [ ! -e "$WORK/cut.cli" ] && [ -z "$(ls -A "$WORK" | grep '^\.ob-tmp-')" ]; } && ok ||
  bad "CLI get of a file cut mid-stream fails and leaves nothing: $err"
api GET /v1/debug/info
check "the daemon still serves after those failures" [ "$STATUS" = 200 ]
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=""
check "the restarted daemon exits 0 on SIGTERM" [ "$rc" -eq 0 ]

if [ "$failed" -ne 0 ]; then
  echo "--- daemon log" >&2
  tail -n 50 "$WORK/daemon.log" >&2
fi
echo "rest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
