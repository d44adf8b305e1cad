#!/usr/bin/env bash
# Fuzzes the API through its own OpenAPI description with Schemathesis (PyPI): every operation, 100 generated
# cases per phase, checks not_a_server_error and response_schema_conformance, against a throwaway server
# (`people serve --ephemeral`) with an admin session. Operations that end the admin's session (logout, own
# password change) run in a second pass so that they cannot starve the first of authentication.
#
# usage: tools/schemathesis.sh [PEOPLE_BINARY]     (default: target/debug/people)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/people}
VERSION=4.32.5
VENV=${PEOPLE_SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/people/schemathesis-$VERSION}
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$VERSION"
fi

dir=$(mktemp -d)
"$BIN" serve --ephemeral --admin admin@example.com:Sup3r-secret1 > "$dir/ready.json" 2> "$dir/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 200); do [ -s "$dir/ready.json" ] && break; sleep 0.05; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$dir/ready.json")
session=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_session"])' "$dir/ready.json")

common=(--checks not_a_server_error,response_schema_conformance -H "X-Metabase-Session: $session"
        --max-examples 100 --workers 2 --seed 1 --no-color)
status=0
"$VENV/bin/schemathesis" run "$url/api/docs/openapi.json" "${common[@]}" \
  --exclude-operation-id logout --exclude-operation-id password || status=1
"$VENV/bin/schemathesis" run "$url/api/docs/openapi.json" "${common[@]}" \
  --include-operation-id logout --include-operation-id password || status=1
if grep -q "panicked" "$dir/server.log"; then
  echo "schemathesis: the server panicked" >&2
  grep -n "panicked" "$dir/server.log" >&2
  status=1
fi
exit $status
