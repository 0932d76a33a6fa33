"""Platform data files: each line a PlatformRecord in proto JSON, or why it is not one."""

from __future__ import annotations

import json
from pathlib import Path

from service.adapters.platform_files import read_platform_file
from service.domain.licence import DateParts
from service.domain.platform_ingest import RecordDraft
from service.domain.registry_rows import RowRejected


def test_lines_become_drafts_and_a_bad_line_says_why_at_its_number(tmp_path: Path) -> None:
    membership = {
        "event_id": "e-1",
        "uscc": "X",
        "membership": {"memberSince": {"year": 2017, "month": 2, "day": 1}},
    }
    store = {
        "event_id": "e-2",
        "uscc": "X",
        "store": {"storeId": "S1", "status": "STORE_STATUS_OPEN"},
    }
    path = tmp_path / "records.jsonl"
    lines = [json.dumps(membership), "", "{not json", json.dumps(store), '{"no_such_field": 1}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    rows = list(read_platform_file(path))

    assert [line for line, _ in rows] == [1, 3, 4, 5]
    first, broken, second, unknown = (row for _, row in rows)
    assert isinstance(first, RecordDraft) and first.kind == "membership"
    assert first.event_id == "e-1"
    assert first.values["member_since"] == DateParts(2017, 2, 1)
    assert isinstance(second, RecordDraft) and second.values["status"] == "open"
    assert isinstance(broken, RowRejected)
    assert isinstance(unknown, RowRejected) and "no_such_field" in str(unknown)
