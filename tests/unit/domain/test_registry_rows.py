from __future__ import annotations

import datetime as dt

import pytest

from service.domain.licence import RegistrationStatus, parse_registration_status
from service.domain.registry_rows import RowRejected, parse_registry_row
from tests.builders import registry_row

TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("存续（在营、开业、在册）", RegistrationStatus.IN_BUSINESS),
        ("吊销，未注销", RegistrationStatus.REVOKED),
        ("注销", RegistrationStatus.CANCELLED),
        ("迁出", RegistrationStatus.MOVED_OUT),
        ("Cancelled", RegistrationStatus.CANCELLED),
        ("停业", RegistrationStatus.SUSPENDED),
    ],
)
def test_registry_status_wording(raw: str, status: RegistrationStatus) -> None:
    assert parse_registration_status(raw) is status


def test_unknown_status_is_none() -> None:
    assert parse_registration_status("正常营业中吧") is None


def test_row_is_parsed_and_tidied() -> None:
    row = registry_row(uscc=" " + registry_row()["uscc"].lower() + " ", term_end="2035-03-01")
    draft = parse_registry_row(row, TODAY)
    assert draft.uscc == draft.uscc.strip().upper()
    assert draft.term.end == dt.date(2035, 3, 1) and not draft.term.open_ended
    assert "王小明" not in repr(draft)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "name is missing"),
        ({"establishment_date": "2015/03/02"}, "establishment_date is not a date"),
        ({"registered_capital": "lots"}, "registered_capital is not a number"),
        ({"registered_capital": "-1"}, "non-negative"),
        ({"capital_currency": "RMBX"}, "capital_currency"),
        ({"snapshot_time": "2026-11-01T00:00:00"}, "needs a UTC offset"),
        ({"shareholders": "x"}, "shareholders must be a list"),
        ({"shareholders": [{"name": "a", "kind": "robot"}]}, "kind"),
        ({"changes": [{"item": "x"}]}, "date is missing"),
        ({"legal_representative": {"name": ""}}, "legal_representative.name is missing"),
        ({"legal_representative": {"name": "张三", "id_number": 42}}, "must be text"),
    ],
)
def test_bad_rows_are_rejected_with_a_reason(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(RowRejected) as caught:
        parse_registry_row(registry_row(**overrides), TODAY)
    assert message in str(caught.value)
