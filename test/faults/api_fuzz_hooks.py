"""Schemathesis hooks for test/faults/api-fuzz.test.ts: a refused request changes nothing.

Before each call the catalog's fingerprint is fetched from the test (HINDSIGHT_FUZZ_FINGERPRINT_URL,
one digest per table of configuration and identity); after a 4xx answer it must be unchanged,
table by table. Success answers may change data: they are checked by the other checks only.
"""

import json
import os
import urllib.request

import schemathesis

FINGERPRINT_URL = os.environ["HINDSIGHT_FUZZ_FINGERPRINT_URL"]
_before: dict[int, dict[str, str]] = {}


def _fingerprint() -> dict[str, str]:
    with urllib.request.urlopen(FINGERPRINT_URL, timeout=30) as answer:
        return json.load(answer)


@schemathesis.hook
def before_call(context, case, kwargs):
    _before[id(case)] = _fingerprint()


@schemathesis.check
def refused_request_changes_nothing(ctx, response, case):
    before = _before.pop(id(case), None)
    if before is None or not 400 <= response.status_code < 500:
        return None
    after = _fingerprint()
    changed = sorted(table for table in set(before) | set(after) if before.get(table) != after.get(table))
    if changed:
        raise AssertionError(
            f"{case.method} {case.formatted_path} was refused with {response.status_code} "
            f"but changed the catalog tables {', '.join(changed)}"
        )
    return None
