#!/usr/bin/env bash
# docs/openapi.yaml against the daemon it describes, with independent checkers from the npm
# registry (tests/js/openapi_check.mjs: @apidevtools/swagger-parser, Ajv):
#   (a) the document is valid OpenAPI 3.1;
#   (b) every route a real daemon serves (GET /v1/debug/routes, read from the same table the
#       server dispatches with) is described, and every described operation is served; a copy
#       of the document with one path left out must fail this check;
#   (c) every route is walked on the running daemon and each reply's status and body are
#       checked against the document.
# Usage: openapi_test.sh PATH/TO/open-bucket
set -uo pipefail
. "$(dirname "$0")/lib.sh"

BIN=${1:?usage: openapi_test.sh PATH/TO/open-bucket}
DOC="$(cd "$(dirname "$0")/.." && pwd)/docs/openapi.yaml"
CHECK="$JS_DIR/openapi_check.mjs"
if ! command -v node >/dev/null || [ ! -d "$JS_DIR/node_modules/@apidevtools/swagger-parser" ] ||
  [ ! -d "$JS_DIR/node_modules/ajv" ]; then
  echo "node or the OpenAPI checkers are missing ($JS_DIR/node_modules): run scripts/install-deps.sh" >&2
  [ -n "${CI:-}" ] && exit 1
  echo "SKIPPED: openapi_test needs the JS checkers"
  exit 77
fi
e2e_setup

# (a) the document alone.
if node "$CHECK" validate "$DOC"; then ok; else bad "docs/openapi.yaml is not valid OpenAPI 3.1"; fi
# The validator must be able to say no: a response without its required description.
sed 's/^        .204.: {description: removed}$/        "204": {}/' "$DOC" >"$WORK/broken.yaml"
if cmp -s "$DOC" "$WORK/broken.yaml"; then
  bad "the broken copy of the document is not broken (the 204 of DELETE /v1/data/{cid} moved?)"
elif node "$CHECK" validate "$WORK/broken.yaml" 2>/dev/null; then
  bad "the validator accepted a response without a description"
else
  ok
fi

# A daemon on ephemeral ports, with no tracker and no Ethereum node: the routes answer what
# such a node answers, which the walk expects.
export OPEN_BUCKET_HOME="$WORK/home"
"$BIN" init -d --api-port 0 --p2p-port 0 --dht-port 0 >/dev/null 2>"$WORK/init.log" ||
  { echo "init failed:" >&2; cat "$WORK/init.log" >&2; exit 1; }
# No Ethereum node on this port (the discard service): the wallet's chain calls fail at once.
sed -i 's|^rpc = .*|rpc = "http://127.0.0.1:9"|' "$OPEN_BUCKET_HOME/config.toml"
start_daemon home
PORT=$(jq -r .apiPort "$OPEN_BUCKET_HOME/daemon.json")
TOKEN=$(cat "$OPEN_BUCKET_HOME/keys/api.token")
URL="http://127.0.0.1:$PORT"

# (b) the routes served and the routes described, both ways; then with one path left out.
if node "$CHECK" routes "$DOC" "$URL" "$TOKEN"; then ok; else bad "served and described routes differ"; fi
awk '/^  \/v1\/space:$/ {skip = 1; next} skip && /^  [^ ]/ {skip = 0} !skip' "$DOC" >"$WORK/no-space.yaml"
if node "$CHECK" routes "$WORK/no-space.yaml" "$URL" "$TOKEN" 2>"$WORK/no-space.err"; then
  bad "a document without /v1/space passed the route check"
elif grep -q "GET /v1/space is served but not described" "$WORK/no-space.err"; then
  ok
else
  bad "the route check failed without naming GET /v1/space: $(cat "$WORK/no-space.err")"
fi

# (c) every route walked, every reply checked.
if node "$CHECK" walk "$DOC" "$URL" "$TOKEN"; then ok; else bad "replies of the daemon differ from docs/openapi.yaml"; fi

# The daemon stays up through the walk.
if kill -0 "${PIDS[home]}" 2>/dev/null; then ok; else bad "the daemon died during the walk"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
