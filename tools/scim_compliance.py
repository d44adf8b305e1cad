"""Runs scim2-tester's RFC 7643/7644 compliance checks against a SCIM server and prints every result.

usage: python scim_compliance.py BASE_URL        (the Bearer token in the SCIM_TOKEN environment variable)

Driven through the library (scim2_tester.check_server) rather than the `scim2 test` command of scim2-cli: the
command counts a check skipped for a feature the server declares unsupported as a failure, cannot leave checks
out, and does not show the requests. Every HTTP exchange is recorded; a failed check is printed with the
exchanges made since the previous result: its own requests, and the previous check's clean-up DELETEs when they
answered other than 204 or 404. A check fails when scim2-tester says ERROR, CRITICAL or DEVIATION; any answer
500 or 502-599 fails the run too (501 is how RFC 7644 §3.12 says "not supported"), even one to a clean-up request
that scim2-tester itself ignores. Exit status 1 on any failure. The seed of `random` (which scim2-tester uses
for booleans and choices) is fixed so that two runs send the same kinds of values (PEOPLE_SCIM_COMPLIANCE_SEED
changes it).
"""

import json
import os
import random
import sys

import httpx2
import scim2_tester.checkers.patch_add
import scim2_tester.checkers.patch_replace
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import BaseModel, Mutability
from scim2_tester import CheckResult, Status, check_server
from scim2_tester.utils import ResourceManager, fields_equality

FAILED = {Status.ERROR, Status.CRITICAL, Status.DEVIATION}
PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
BODY_LIMIT = 3000

exchanges = []  # (label, request, response)
in_cleanup = False


def on_response(response):
    response.read()
    exchanges.append(("cleanup of the previous check" if in_cleanup else None, response.request, response))


# Each result keeps the exchanges made since the result before it.
_mark = 0
_orig_init = CheckResult.__init__


def _init(self, *args, **kwargs):
    global _mark
    _orig_init(self, *args, **kwargs)
    self.exchanges = exchanges[_mark:]
    _mark = len(exchanges)


CheckResult.__init__ = _init
_orig_cleanup = ResourceManager.cleanup


def _cleanup(self):
    global in_cleanup
    in_cleanup = True
    try:
        _orig_cleanup(self)
    finally:
        in_cleanup = False


ResourceManager.cleanup = _cleanup

# One correction of scim2-tester 0.5.2: its PATCH add/replace checks compare the value sent with the value read
# back as a whole, so a readOnly sub-attribute the server fills in (Group members[].display, which only the
# service provider sets: RFC 7643 §2.2) counts as a difference. Such a sub-attribute, left out of the value
# sent, is left out of the comparison; every other difference still fails, and each use is printed at the end.
corrections = []


def _without_read_only_fill_ins(expected, actual):
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [_without_read_only_fill_ins(e, a) for e, a in zip(expected, actual)]
    if isinstance(expected, BaseModel) and type(expected) is type(actual):
        dropped = {
            name: None
            for name in type(actual).model_fields
            if getattr(expected, name) is None
            and getattr(actual, name) is not None
            and type(actual).get_field_annotation(name, Mutability) == Mutability.read_only
        }
        if dropped:
            corrections.append(f"{type(actual).__name__}: {', '.join(sorted(dropped))}")
            return actual.model_copy(update=dropped)
    return actual


def _fields_equality(expected, actual):
    return fields_equality(expected, _without_read_only_fill_ins(expected, actual))


scim2_tester.checkers.patch_add.fields_equality = _fields_equality
scim2_tester.checkers.patch_replace.fields_equality = _fields_equality


def clip(text):
    text = text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + f"… ({len(text)} characters)"
    return text.replace("\n", "\n      ")


def show_exchange(label, request, response):
    if label:
        print(f"    ({label})")
    print(f"    > {request.method} {request.url}")
    body = request.content.decode("utf-8", "replace") if request.content else ""
    if body:
        print(f"      {clip(body)}")
    ctype = response.headers.get("content-type", "-")
    print(f"    < {response.status_code} {ctype}")
    if response.text:
        print(f"      {clip(response.text)}")


def main():
    if len(sys.argv) != 2 or not os.environ.get("SCIM_TOKEN"):
        print(__doc__, file=sys.stderr)
        return 2
    base_url = sys.argv[1].rstrip("/")
    random.seed(int(os.environ.get("PEOPLE_SCIM_COMPLIANCE_SEED", "7643")))
    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {os.environ['SCIM_TOKEN']}"},
        event_hooks={"response": [on_response]},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    results = check_server(client)

    counts = {"passed": 0, "failed": 0, "skipped": 0}
    print(f"scim2-tester against {base_url}:")
    for result in results:
        kind = "failed" if result.status in FAILED else "passed" if result.status in PASSED else "skipped"
        counts[kind] += 1
        where = f" [{result.resource_type}]" if result.resource_type else ""
        print(f"{result.status.name:8} {result.title}{where}: {result.reason or ''}".rstrip())
        if kind == "failed":
            if result.data is not None:
                data = result.data
                try:
                    data = json.dumps(data, default=str)
                except (TypeError, ValueError):
                    data = repr(data)
                print(f"    data: {clip(str(data))}")
            for exchange in result.exchanges:
                # scim2-tester's clean-up deletes again every resource of the run after each check: the 404s of
                # those already deleted are expected and left out.
                if exchange[0] and exchange[2].status_code in (204, 404):
                    continue
                show_exchange(*exchange)

    server_errors = [e for e in exchanges if e[2].status_code >= 500 and e[2].status_code != 501]
    for exchange in server_errors:
        print("FAILED   server error (5xx other than 501) in an exchange:")
        show_exchange(*exchange)
    counts["failed"] += len(server_errors)
    for correction in sorted(set(corrections)):
        print(f"note: read-only sub-attributes filled in by the server, left out of a PATCH comparison: {correction}")
    print(f"scim-compliance: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
