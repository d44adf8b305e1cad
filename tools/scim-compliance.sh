#!/usr/bin/env bash
# Checks the SCIM 2.0 service against RFC 7643/7644 with scim2-tester (PyPI, an independent checker), against a
# throwaway server (`people serve --ephemeral`): SCIM switched on and its token made through the admin session,
# then every check of scim2_tester.check_server on <url>/api/ee/scim/v2 (discovery documents, 404s and 405s,
# and for each resource type the discovery declares: create, read, list, attributes/excludedAttributes, search,
# replace, delete, and PATCH add/replace/remove of every attribute the published schema lists). Features the
# ServiceProviderConfig declares unsupported are skipped by the checker itself. Every result is printed, a
# failed one with the HTTP exchanges behind it (tools/scim_compliance.py). Fails on any failed check, any 5xx
# other than 501, or a panic in the server's log.
#
# usage: tools/scim-compliance.sh [PEOPLE_BINARY]     (default: target/debug/people)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/people}
VERSION=0.5.2
# scim2-tester and everything it runs on, exactly (pip freeze of `scim2-tester[httpx2]==0.5.2`).
PINS=(scim2-tester==$VERSION scim2-client==0.13.2 scim2-models==0.12.3 httpx2==2.16.2 httpcore2==2.16.2
      pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
      typing_extensions==4.16.0 anyio==4.16.0 h11==0.16.0 idna==3.20 truststore==0.10.5 lark==1.3.1
      email-validator==2.4.0 dnspython==2.9.2)
VENV=${PEOPLE_SCIM_COMPLIANCE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/people/scim2-tester-$VERSION}
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/pins" 2>/dev/null)" != "${PINS[*]}" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "${PINS[@]}"
  echo "${PINS[*]}" > "$VENV/pins"
fi

dir=$(mktemp -d)
"$BIN" serve --ephemeral --admin admin@example.com:Sup3r-secret1 > "$dir/ready.json" 2> "$dir/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 200); do [ -s "$dir/ready.json" ] && break; sleep 0.05; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$dir/ready.json")
session=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin_session"])' "$dir/ready.json")

curl -sf -X PUT "$url/api/setting/scim-enabled" -H "X-Metabase-Session: $session" \
  -H 'Content-Type: application/json' -d '{"value": true}' > /dev/null
SCIM_TOKEN=$(curl -sf -X POST "$url/api/ee/scim/api_key" -H "X-Metabase-Session: $session" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["unmasked_key"])')
export SCIM_TOKEN

status=0
"$VENV/bin/python" tools/scim_compliance.py "$url/api/ee/scim/v2" || status=1
if grep -q "panicked" "$dir/server.log"; then
  echo "scim-compliance: the server panicked" >&2
  grep -n "panicked" "$dir/server.log" >&2
  status=1
fi
exit $status
