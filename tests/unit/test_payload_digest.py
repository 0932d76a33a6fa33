"""The archive's payload digests: equal for equal payloads however they were built (key
order, tuples read back as lists), different for any change."""

from __future__ import annotations

import json

from service.adapters.registry_http.archiving import payload_digest

PAYLOAD = {
    "name": "杭州某某科技有限公司",
    "status": "存续",
    "term": {"start": "2018-03-01", "end": None, "open_ended": True},
    "shareholders": ({"name": "某公司", "ratio": "0.6"},),
    "registered_capital": 1000.5,
}


def test_equal_payloads_have_equal_digests_however_built() -> None:
    read_back = json.loads(json.dumps(PAYLOAD, ensure_ascii=False))
    reordered = dict(reversed(list(read_back.items())))
    assert payload_digest(PAYLOAD) == payload_digest(read_back) == payload_digest(reordered)


def test_any_change_changes_the_digest() -> None:
    changed = [
        {**PAYLOAD, "status": "注销"},
        {**PAYLOAD, "term": {**PAYLOAD["term"], "end": "2038-02-28"}},  # type: ignore[dict-item]
        {**PAYLOAD, "registered_capital": 1000.25},
        {k: v for k, v in PAYLOAD.items() if k != "shareholders"},
    ]
    digests = {payload_digest(p) for p in changed}
    assert len(digests) == len(changed)
    assert payload_digest(PAYLOAD) not in digests
