"""Test data: registry rows and verification requests for enterprises made up on the spot."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import timestamp_pb2
from google.type import date_pb2
from integrity.v1 import licence_pb2, verification_pb2

from service.app.registry_import import ImportReport
from service.bootstrap import Application
from service.domain.disclosure import DisclosureEntry
from service.domain.identifiers.resident_id import make_resident_id
from service.domain.identifiers.uscc import make_uscc
from tests.clock import TEST_EPOCH

_serial = itertools.count(1)
SNAPSHOT_TIME = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
# The legal representative's consent, given before any test clock starts.
GRANT_TIME = TEST_EPOCH - dt.timedelta(days=1)


def new_uscc(authority: str = "9", org_type: str = "1", division: str = "330106") -> str:
    number = next(_serial)
    return make_uscc(authority, org_type, division, f"MA{number:06d}")


def new_id_number(division: str = "110105", born: dt.date = dt.date(1980, 5, 17)) -> str:
    return make_resident_id(division, born, next(_serial) % 1000)


def registry_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "uscc": new_uscc(),
        "name": f"杭州云启第{next(_serial)}网络科技有限公司（西湖分公司）",
        "enterprise_type": "有限责任公司(自然人投资或控股)",
        "legal_representative": {"name": "王小明", "id_number": new_id_number()},
        "registered_capital": "5000000.00",
        "capital_currency": "CNY",
        "establishment_date": "2015-03-02",
        "term_start": "2015-03-02",
        "term_end": None,
        "registration_authority": "杭州市西湖区市场监督管理局",
        "approval_date": "2023-05-10",
        "status": "in_business",
        "address": "浙江省杭州市西湖区文三路100号",
        "business_scope": "技术开发、技术服务",
        "shareholders": [
            {
                "name": "王小明",
                "kind": "natural_person",
                "subscribed_capital": "5000000.00",
                "ratio": "1",
            }
        ],
        "changes": [{"date": "2020-01-01", "item": "投资人变更", "before": "甲", "after": "乙"}],
        "snapshot_time": SNAPSHOT_TIME.isoformat(),
    }
    row.update(overrides)
    return row


async def import_rows(app: Application, rows: Iterable[Mapping[str, Any]]) -> ImportReport:
    numbered = [(line, row) for line, row in enumerate(rows, start=1)]
    return await app.importer.run(numbered, SNAPSHOT_TIME)


def _date(value: str | None) -> date_pb2.Date | None:
    if value is None:
        return None
    day = dt.date.fromisoformat(value)
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


def verification_for(
    row: Mapping[str, Any],
    *,
    name: str | None = None,
    rep_name: str | None = None,
    rep_id: str | None = None,
    address: str | None = None,
    with_term: bool = True,
    # What platforms usually obtain: every use of the verification.
    scopes: Iterable[int] = (
        verification_pb2.AUTHORIZATION_SCOPE_IDENTITY_VERIFICATION,
        verification_pb2.AUTHORIZATION_SCOPE_ARCHIVE,
        verification_pb2.AUTHORIZATION_SCOPE_INTEGRITY_LEVEL,
    ),
    granted_at: dt.datetime = GRANT_TIME,
) -> verification_pb2.Verification:
    """What a platform would submit for the enterprise in a registry row."""
    rep = row["legal_representative"]
    grant_time = timestamp_pb2.Timestamp()
    grant_time.FromDatetime(granted_at)
    term = None
    if with_term:
        term = licence_pb2.LicenceTerm(
            start_date=_date(row["term_start"]),
            end_date=_date(row["term_end"]),
            open_ended=row["term_end"] is None,
        )
    return verification_pb2.Verification(
        licence=licence_pb2.BusinessLicence(
            uscc=row["uscc"],
            enterprise_name=name if name is not None else row["name"],
            legal_representative=licence_pb2.LegalRepresentative(
                name=rep_name if rep_name is not None else rep["name"],
                id_number=rep_id if rep_id is not None else (rep["id_number"] or new_id_number()),
            ),
            registered_address=address if address is not None else row["address"],
            term=term,
        ),
        authorization=verification_pb2.Authorization(
            granted_by="王小明",
            grant_time=grant_time,
            scopes=list(scopes),
            evidence_reference="consent/2026/0001",
        ),
    )


def disclosure_entry(**overrides: Any) -> DisclosureEntry:
    """A ledger entry: a platform's eligibility read of one enterprise, unless overridden."""
    values: dict[str, Any] = {
        "subject_uscc": "91330106MA27XXXXXX",
        "recipient_id": "r",
        "recipient_name": "platform",
        "recipient_kind": "platform",
        "tier": "platform",
        "purpose": "eligibility_evaluation",
        "scenario": "store_opening",
        "fields": ("eligibility_decision", "integrity_level"),
        "disclose_time": dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
    }
    values.update(overrides)
    return DisclosureEntry(**values)
