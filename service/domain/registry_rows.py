"""One row of a registry snapshot file, checked and turned into a registry record draft.

Registry data is authoritative but not clean: rows come with Chinese status wording,
lower-case codes, missing optional fields. A row we cannot trust is rejected with a
reason, and the import goes on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from service.domain.errors import InvalidIdentifier
from service.domain.identifiers.resident_id import parse_resident_id
from service.domain.identifiers.uscc import normalise_uscc, parse_uscc
from service.domain.licence import LicenceTerm, RegistrationStatus, parse_registration_status
from service.domain.registry import ChangeRecord, Shareholder, ShareholderKind

MAX_TEXT = 2000


class RowRejected(ValueError):
    """Why a row was not imported. The message never repeats personal data."""


@dataclass(frozen=True)
class RegistryRowDraft:
    """A checked row; the legal representative still in plaintext, to be sealed at once."""

    uscc: str
    name: str
    enterprise_type: str
    legal_rep_name: str
    legal_rep_id_number: str | None
    registered_capital: Decimal | None
    capital_currency: str
    establishment_date: dt.date
    term: LicenceTerm
    registration_authority: str
    approval_date: dt.date | None
    status: RegistrationStatus
    address: str
    business_scope: str
    shareholders: tuple[Shareholder, ...]
    changes: tuple[ChangeRecord, ...]
    snapshot_time: dt.datetime | None

    def __repr__(self) -> str:
        return f"RegistryRowDraft(uscc={self.uscc!r})"


def row_text(
    row: Mapping[str, Any], key: str, *, required: bool = True, limit: int = MAX_TEXT
) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowRejected(f"{key} is missing")
        return ""
    if not isinstance(value, str):
        raise RowRejected(f"{key} must be text")
    if len(value) > limit:
        raise RowRejected(f"{key} is longer than {limit} characters")
    return value.strip()


def row_date(row: Mapping[str, Any], key: str, *, required: bool) -> dt.date | None:
    raw = row.get(key)
    if raw in (None, ""):
        if required:
            raise RowRejected(f"{key} is missing")
        return None
    if not isinstance(raw, str):
        # A number is not a date, even one whose digits read as one (20180301).
        raise RowRejected(f"{key} is not a date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise RowRejected(f"{key} is not a date (YYYY-MM-DD)") from exc


def _decimal(raw: Any, key: str) -> Decimal | None:
    if raw in (None, ""):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise RowRejected(f"{key} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise RowRejected(f"{key} must be a non-negative number")
    return value


def _shareholders(raw: Any) -> tuple[Shareholder, ...]:
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list):
        raise RowRejected("shareholders must be a list")
    result = []
    for item in raw:
        if not isinstance(item, dict):
            raise RowRejected("each shareholder must be an object")
        try:
            kind = ShareholderKind(item.get("kind") or "other")
        except ValueError as exc:
            raise RowRejected("a shareholder's kind is not natural_person or enterprise") from exc
        result.append(
            Shareholder(
                name=row_text(item, "name"),
                kind=kind,
                subscribed_capital=_decimal(item.get("subscribed_capital"), "subscribed_capital"),
                ratio=_decimal(item.get("ratio"), "ratio"),
            )
        )
    return tuple(result)


def _changes(raw: Any) -> tuple[ChangeRecord, ...]:
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list):
        raise RowRejected("changes must be a list")
    result = []
    for item in raw:
        if not isinstance(item, dict):
            raise RowRejected("each change must be an object")
        day = row_date(item, "date", required=True)
        assert day is not None
        result.append(
            ChangeRecord(
                day,
                row_text(item, "item"),
                row_text(item, "before", required=False),
                row_text(item, "after", required=False),
            )
        )
    return tuple(result)


def _legal_representative(row: Mapping[str, Any]) -> tuple[str, str | None]:
    nested = row.get("legal_representative")
    if isinstance(nested, dict):
        name, id_number = nested.get("name"), nested.get("id_number")
    else:  # CSV rows carry it flat
        name = row.get("legal_representative_name")
        id_number = row.get("legal_representative_id_number")
    if not isinstance(name, str) or not name.strip():
        raise RowRejected("legal_representative.name is missing")
    if id_number in (None, ""):
        return name.strip(), None
    if not isinstance(id_number, str):
        raise RowRejected("legal_representative.id_number must be text")
    return name.strip(), id_number.strip().upper()


def parse_registry_row(row: Mapping[str, Any], today: dt.date) -> RegistryRowDraft:
    raw_uscc = row.get("uscc")
    if not isinstance(raw_uscc, str):
        raise RowRejected("uscc is missing")
    try:
        uscc = parse_uscc(normalise_uscc(raw_uscc)).value
    except InvalidIdentifier as problem:
        raise RowRejected(f"uscc: {problem.description}") from problem
    rep_name, rep_id = _legal_representative(row)
    if rep_id is not None:
        try:
            parse_resident_id(rep_id, today)
        except InvalidIdentifier as problem:
            raise RowRejected(f"legal_representative.id_number: {problem.description}") from problem
    status = parse_registration_status(row_text(row, "status"))
    if status is None:
        raise RowRejected("status is not a registration status this service knows")
    term_end = row_date(row, "term_end", required=False)
    snapshot_raw = row.get("snapshot_time")
    snapshot_time = None
    if snapshot_raw not in (None, ""):
        try:
            snapshot_time = dt.datetime.fromisoformat(str(snapshot_raw))
        except ValueError as exc:
            raise RowRejected("snapshot_time is not an ISO 8601 time") from exc
        if snapshot_time.tzinfo is None:
            raise RowRejected("snapshot_time needs a UTC offset")
    currency = row_text(row, "capital_currency", required=False) or "CNY"
    if len(currency) != 3 or not currency.isalpha():
        raise RowRejected("capital_currency must be a 3-letter ISO 4217 code")
    establishment = row_date(row, "establishment_date", required=True)
    assert establishment is not None
    return RegistryRowDraft(
        uscc=uscc,
        name=row_text(row, "name"),
        enterprise_type=row_text(row, "enterprise_type", required=False),
        legal_rep_name=rep_name,
        legal_rep_id_number=rep_id,
        registered_capital=_decimal(row.get("registered_capital"), "registered_capital"),
        capital_currency=currency.upper(),
        establishment_date=establishment,
        term=LicenceTerm(
            start=row_date(row, "term_start", required=False),
            end=term_end,
            open_ended=term_end is None,
        ),
        registration_authority=row_text(row, "registration_authority", required=False),
        approval_date=row_date(row, "approval_date", required=False),
        status=status,
        address=row_text(row, "address", required=False),
        business_scope=row_text(row, "business_scope", required=False),
        shareholders=_shareholders(row.get("shareholders")),
        changes=_changes(row.get("changes")),
        snapshot_time=snapshot_time,
    )
