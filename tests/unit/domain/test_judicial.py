from __future__ import annotations

import datetime as dt

import pytest

from service.domain.judicial import (
    JudicialEntry,
    JudicialEntryKind,
    RowRejected,
    parse_judicial_row,
)


def entry(
    kind: JudicialEntryKind, listed: str, removed: str | None = None, expires: str | None = None
) -> JudicialEntry:
    day = dt.date.fromisoformat
    return JudicialEntry(
        "E",
        kind,
        "authority",
        "",
        day(listed),
        day(removed) if removed else None,
        day(expires) if expires else None,
        "s",
        "",
    )


def test_entries_count_from_listing_until_removal_or_expiry() -> None:
    e = entry(JudicialEntryKind.DISHONEST_DEBTOR, "2024-01-10", expires="2026-01-10")
    assert not e.is_active(dt.date(2024, 1, 9))
    assert e.is_active(dt.date(2024, 1, 10))
    assert e.is_active(dt.date(2026, 1, 9))
    assert not e.is_active(dt.date(2026, 1, 10))
    removed = entry(
        JudicialEntryKind.DISHONEST_DEBTOR, "2024-01-10", removed="2024-06-01", expires="2026-01-10"
    )
    assert not removed.is_active(dt.date(2024, 6, 1))


def test_abnormal_operations_becomes_serious_violation_after_three_years() -> None:
    e = entry(JudicialEntryKind.ABNORMAL_OPERATIONS, "2020-02-29")
    assert e.kind_on(dt.date(2023, 2, 27)) is JudicialEntryKind.ABNORMAL_OPERATIONS
    assert e.kind_on(dt.date(2023, 2, 28)) is JudicialEntryKind.SERIOUS_VIOLATION
    removed = entry(JudicialEntryKind.ABNORMAL_OPERATIONS, "2020-01-01", removed="2021-01-01")
    assert removed.kind_on(dt.date(2025, 1, 1)) is JudicialEntryKind.ABNORMAL_OPERATIONS


def test_dishonest_debtor_listing_defaults_to_two_years() -> None:
    _uscc, parsed = parse_judicial_row(
        {
            "uscc": "x",
            "entry_id": "1",
            "kind": "dishonest_debtor",
            "authority": "a",
            "listing_date": "2024-02-29",
        }
    )
    assert parsed.expiry_date == dt.date(2026, 2, 28)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"kind": "dishonest_debtor", "authority": "a"}, "listing_date is missing"),
        ({"kind": "dishonest_debtor", "authority": "a", "listing_date": "2020/1/1"}, "not a date"),
        ({"kind": "dishonest_debtor", "listing_date": "2020-01-01"}, "authority is missing"),
        ({"kind": "x", "authority": "a", "listing_date": "2020-01-01"}, "kind must be one of"),
    ],
)
def test_bad_rows(row: dict[str, object], message: str) -> None:
    with pytest.raises(RowRejected) as caught:
        parse_judicial_row({"uscc": "x", "entry_id": "1", **row})
    assert message in str(caught.value)
