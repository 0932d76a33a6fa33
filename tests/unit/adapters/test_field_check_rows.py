"""Field checks as the verifications row keeps them (JSON), old rows included."""

from __future__ import annotations

import datetime as dt

from service.adapters.storage.verification_rows import field_check_from_json, field_check_to_json
from service.domain.registry_sources import SourceKind
from service.domain.verification import FieldCheck, FieldResult


def test_sources_and_disagreement_round_trip() -> None:
    check = FieldCheck(
        "licence.enterprise_name",
        FieldResult.MATCH,
        source=SourceKind.GOVERNMENT_REGISTRY,
        source_snapshot_time=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        disagreeing_source=SourceKind.DATA_PROVIDER,
        disagreeing_result=FieldResult.MISMATCH,
    )
    assert field_check_from_json(field_check_to_json(check)) == check


def test_rows_written_before_sources_were_named_still_read() -> None:
    old = {"field": "licence.uscc", "result": "match"}
    assert field_check_from_json(old) == FieldCheck("licence.uscc", FieldResult.MATCH)
    assert field_check_to_json(FieldCheck("licence.uscc", FieldResult.MATCH)) == old
