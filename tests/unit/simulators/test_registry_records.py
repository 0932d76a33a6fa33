import datetime as dt
from typing import Any

from simulators.registry.behaviour import Shape
from simulators.registry.changes import representative_change, status_change, term_change
from simulators.registry.records import Enterprise, RecordStore, differing_items

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def _row(uscc: str = "91330106MA27XXXX00", **fields: Any) -> dict[str, Any]:
    return {"uscc": uscc, "name": "杭州云启网络科技有限公司", "status": "in_business", "term_start": "2015-03-02",
            "term_end": None, "legal_representative": {"name": "王小明", "id_number": None}, "changes": [], **fields}  # fmt: skip


def test_a_loaded_record_shows_from_the_start_a_new_one_after_the_lag() -> None:
    store = RecordStore(captured_at=T0)
    store.load([_row("A")])
    store.put(Enterprise(_row("B"), registered_at=T0, captured_at=T0), T0)
    assert store.view("A", Shape.GOV, T0, 86_400) is not None
    assert store.view("B", Shape.GOV, T0 + HOUR, 3600 * 2) is None
    view = store.view("B", Shape.GOV, T0 + 2 * HOUR, 3600 * 2)
    assert view is not None and view.published_at == T0 + 2 * HOUR
    assert store.view("B", Shape.PROVIDER, T0, 0) is not None
    assert store.view("C", Shape.GOV, T0, 0) is None


def test_changes_show_in_order_once_each_is_past_its_lag() -> None:
    store = RecordStore(captured_at=T0)
    store.load([_row("A")])
    store.schedule("A", term_change(T0 + 2 * HOUR, "2026-11-23", "2046-11-22"))
    store.schedule("A", status_change(T0 + HOUR, "cancelled"))
    store.schedule("A", representative_change(T0 + 3 * HOUR, "王小明", "李四", None))
    shown = store.view("A", Shape.GOV, T0 + 3 * HOUR, 3600)
    assert shown is not None
    assert (
        shown.row["status"],
        shown.row["term_end"],
        shown.row["legal_representative"]["name"],
    ) == ("cancelled", "2046-11-22", "王小明")
    assert shown.published_at == T0 + 3 * HOUR
    later = store.view("A", Shape.GOV, T0 + 4 * HOUR, 3600)
    assert later is not None and later.row["legal_representative"]["name"] == "李四"
    assert later.row["changes"] == [
        {"date": "2026-11-23", "item": "法定代表人变更", "before": "王小明", "after": "李四"}
    ]
    assert store.enterprises["A"].row["status"] == "in_business"  # the original row is left alone


def test_the_feed_lists_published_changes_oldest_first_from_a_cursor() -> None:
    store = RecordStore(captured_at=T0)
    store.load([_row("A"), _row("B")])
    store.schedule("B", status_change(T0 + 2 * HOUR, "revoked"))
    store.schedule("A", status_change(T0 + HOUR, "cancelled"))
    store.put(
        Enterprise(
            _row("C"), registered_at=T0, captured_at=T0, publish_at={Shape.GOV: T0 + 5 * HOUR}
        ),
        T0,
    )
    entries, more = store.feed(T0, None, 10, T0 + 10 * HOUR, 3600)
    assert [(e.uscc, e.items, e.changed_at) for e in entries] == [
        ("A", ("status",), T0 + 2 * HOUR), ("B", ("status",), T0 + 3 * HOUR), ("C", ("published",), T0 + 5 * HOUR),
    ]  # fmt: skip
    assert not more
    first, more = store.feed(T0, None, 1, T0 + 10 * HOUR, 3600)
    assert more
    after = (first[0].changed_at, first[0].seq)
    rest, _ = store.feed(T0, after, 10, T0 + 10 * HOUR, 3600)
    assert [e.uscc for e in rest] == ["B", "C"]
    assert [e.uscc for e in store.feed(T0 + 3 * HOUR, None, 10, T0 + 4 * HOUR, 3600)[0]] == ["B"]


def test_a_replacement_shows_at_once_and_drops_the_changes_to_come() -> None:
    store = RecordStore(captured_at=T0)
    store.load([_row("A")])
    store.schedule("A", status_change(T0 + 5 * HOUR, "cancelled"))
    replaced = store.put(
        Enterprise(_row("A", status="revoked"), registered_at=None, captured_at=T0 + HOUR),
        T0 + HOUR,
    )
    assert replaced
    view = store.view("A", Shape.GOV, T0 + 9 * HOUR, 0)
    assert view is not None and view.row["status"] == "revoked"
    entries, _ = store.feed(T0, None, 10, T0 + 9 * HOUR, 0)
    assert [(e.items, e.changed_at) for e in entries] == [(("status",), T0 + HOUR)]


def test_overrides_and_absence_are_per_shape() -> None:
    store = RecordStore(captured_at=T0)
    store.put(
        Enterprise(
            _row("A"),
            None,
            T0,
            overrides={Shape.PROVIDER: {"name": "别名"}},
            absent_from=frozenset({Shape.GOV}),
        ),
        T0,
    )
    provider = store.view("A", Shape.PROVIDER, T0, 0)
    assert provider is not None and provider.row["name"] == "别名"
    assert store.view("A", Shape.GOV, T0, 0) is None
    assert store.feed(T0 - HOUR, None, 10, T0 + HOUR, 0) == ([], False)


def test_differing_items_name_what_the_feed_reports() -> None:
    row = _row()
    assert differing_items(row, {**row, "status": "revoked", "term_end": "2030-01-01"}) == (
        "status",
        "term",
    )
    assert differing_items(
        row, {**row, "legal_representative": {"name": "李四"}, "address": "x"}
    ) == ("legal_representative",)
