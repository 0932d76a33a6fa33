"""Batch selections as ops give them: files of codes, days, times."""

from __future__ import annotations

import datetime as dt

import pytest

from service.domain import batches
from service.domain.batches import ChangeSource, SelectionKind
from service.domain.errors import InvalidArgument
from service.domain.licence import CHINA_TZ
from tests.builders import new_uscc


def test_a_file_names_each_enterprise_once_skipping_blanks_and_comments() -> None:
    first, second = new_uscc(), new_uscc()
    lines = ["# expiring in Hangzhou\n", f"{first}\n", "\n", f"  {second.lower()}  \n", first]
    selection = batches.named_in_file("codes.txt", lines)
    assert selection.kind is SelectionKind.FILE
    assert selection.usccs == (first, second)
    assert selection.describe() == {"kind": "file", "path": "codes.txt", "count": 2}


def test_a_file_with_bad_lines_names_every_bad_line_and_selects_nothing() -> None:
    good = new_uscc()
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(InvalidArgument) as refused:
        batches.named_in_file("codes.txt", [good, "not a code", "", bad_check])
    assert refused.value.reason == "BATCH_FILE_INVALID"
    assert [v.field for v in refused.value.violations] == ["line 2", "line 4"]
    assert refused.value.violations[1].reason == "USCC_CHECK_CHARACTER"


def test_a_file_without_codes_is_refused() -> None:
    with pytest.raises(InvalidArgument) as refused:
        batches.named_in_file("empty.txt", ["\n", "# nothing\n"])
    assert refused.value.violations[0].reason == "BATCH_FILE_EMPTY"


def test_days_out_of_range_are_refused() -> None:
    with pytest.raises(InvalidArgument) as refused:
        batches.expiring_within(-1)
    assert refused.value.violations[0].field == "expiring_within"
    with pytest.raises(InvalidArgument):
        batches.not_verified_within(100_000)


def test_times_are_dates_in_china_or_times_with_offsets() -> None:
    assert batches.parse_since("2026-11-01", "since") == dt.datetime(2026, 11, 1, tzinfo=CHINA_TZ)
    assert batches.parse_since("2026-11-01T08:00:00Z", "since") == dt.datetime(
        2026, 11, 1, 8, tzinfo=dt.UTC
    )
    for bad in ("2026-11-01T08:00:00", "yesterday", "2026-13-01"):
        with pytest.raises(InvalidArgument) as refused:
            batches.parse_since(bad, "changed_since")
        assert refused.value.violations[0].field == "changed_since"


def test_a_selection_describes_itself_for_storage_and_people() -> None:
    since = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    selection = batches.changed_since(since, ChangeSource.FEED)
    description = selection.describe()
    assert description == {
        "kind": "changed_since",
        "since": "2026-11-01T00:00:00+00:00",
        "source": "feed",
    }
    assert batches.describe_summary(description) == selection.summary()
    assert "feed" in selection.summary()


def test_the_expiry_window_includes_both_ends() -> None:
    today = dt.date(2026, 11, 23)
    assert batches.expiry_window(today, 30) == (today, dt.date(2026, 12, 23))


def test_the_recheck_key_names_batch_and_enterprise() -> None:
    item = batches.ClaimedItem(7, "b-1", "91330106MA000001XX", 1)
    assert item.recheck_key == "batch:b-1:91330106MA000001XX"
