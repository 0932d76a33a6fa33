"""The enterprise archive, assembled from facts.

Every piece of the archive (the registry record, each judicial entry, each store,
trade summary, conduct or certification record a platform reports) is a fact with a
kind and a key. A change never overwrites: it records a new version and closes the old
one, so the archive as of any past time is the set of versions open at that time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from service.domain.judicial import JudicialEntry, JudicialEntryKind
from service.domain.licence import LicenceTerm, RegistrationStatus, china_today
from service.domain.platform_records import (
    Certification,
    ConductKind,
    ConductRecord,
    Membership,
    PlatformBusiness,
    PlatformRecord,
    Severity,
    Store,
    StoreStatus,
    TradeSummary,
)
from service.domain.registry import ChangeRecord, RegistryRecord, Shareholder, ShareholderKind


class FactKind(StrEnum):
    REGISTRY = "registry"
    JUDICIAL = "judicial"
    STORE = "store"
    MEMBERSHIP = "membership"
    TRADE = "trade"
    CONDUCT = "conduct"
    CERTIFICATION = "certification"
    # Ops suspended or restored the service for the enterprise (agreement: violation,
    # impersonation, risk control, ...).
    SERVICE_STATE = "service_state"


@dataclass(frozen=True)
class Fact:
    uscc: str
    kind: FactKind
    key: str
    # The platform that reported it; "" for registry and judicial facts.
    platform: str
    # None: the fact was removed (kept in history, gone from the archive).
    payload: Mapping[str, Any] | None
    recorded_time: dt.datetime | None = None


@dataclass(frozen=True)
class PublicRegistryRecord:
    """A registry record without personal information beyond the masked legal representative."""

    uscc: str
    name: str
    enterprise_type: str
    legal_rep_name_masked: str
    legal_rep_id_masked: str | None
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
    snapshot_time: dt.datetime

    def licence_valid(self, on: dt.date) -> bool:
        return (
            self.status is RegistrationStatus.IN_BUSINESS
            and not self.term.has_expired(on)
            and not self.term.not_yet_started(on)
        )


@dataclass(frozen=True)
class EnterpriseArchive:
    uscc: str
    registry: PublicRegistryRecord | None
    judicial_entries: tuple[JudicialEntry, ...]
    platforms: tuple[PlatformBusiness, ...]
    read_time: dt.datetime
    service_suspended: bool = False
    suspension_reason: str = ""

    @property
    def read_date(self) -> dt.date:
        return china_today(self.read_time)


# -- payloads: facts are stored as JSON, written and read only here -------------------


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


REGISTRY_FACT_KEY = "record"


def registry_fact(record: RegistryRecord) -> Fact:
    rep = record.legal_representative
    payload = {
        "name": record.name,
        "enterprise_type": record.enterprise_type,
        "legal_rep_name_masked": rep.name.masked,
        "legal_rep_id_masked": rep.id_number.masked if rep.id_number else None,
        "registered_capital": None
        if record.registered_capital is None
        else str(record.registered_capital),
        "capital_currency": record.capital_currency,
        "establishment_date": record.establishment_date.isoformat(),
        "term": [_iso(record.term.start), _iso(record.term.end), record.term.open_ended],
        "registration_authority": record.registration_authority,
        "approval_date": _iso(record.approval_date),
        "status": record.status.value,
        "address": record.address,
        "business_scope": record.business_scope,
        "shareholders": [
            [s.name, s.kind.value, _str(s.subscribed_capital), _str(s.ratio)]
            for s in record.shareholders
        ],
        "changes": [[c.date.isoformat(), c.item, c.before, c.after] for c in record.changes],
        "snapshot_time": record.snapshot_time.isoformat(),
    }
    return Fact(record.uscc, FactKind.REGISTRY, REGISTRY_FACT_KEY, "", payload)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _registry_from(uscc: str, p: Mapping[str, Any]) -> PublicRegistryRecord:
    start, end, open_ended = p["term"]
    return PublicRegistryRecord(
        uscc=uscc,
        name=p["name"],
        enterprise_type=p["enterprise_type"],
        legal_rep_name_masked=p["legal_rep_name_masked"],
        legal_rep_id_masked=p["legal_rep_id_masked"],
        registered_capital=_decimal(p["registered_capital"]),
        capital_currency=p["capital_currency"],
        establishment_date=dt.date.fromisoformat(p["establishment_date"]),
        term=LicenceTerm(_day(start), _day(end), bool(open_ended)),
        registration_authority=p["registration_authority"],
        approval_date=_day(p["approval_date"]),
        status=RegistrationStatus(p["status"]),
        address=p["address"],
        business_scope=p["business_scope"],
        shareholders=tuple(
            Shareholder(n, ShareholderKind(k), _decimal(c), _decimal(r))
            for n, k, c, r in p["shareholders"]
        ),
        changes=tuple(
            ChangeRecord(dt.date.fromisoformat(d), i, b, a) for d, i, b, a in p["changes"]
        ),
        snapshot_time=dt.datetime.fromisoformat(p["snapshot_time"]),
    )


def judicial_fact(uscc: str, entry: JudicialEntry) -> Fact:
    payload = {
        "kind": entry.kind.value,
        "authority": entry.authority,
        "reason": entry.reason,
        "listing_date": entry.listing_date.isoformat(),
        "removal_date": _iso(entry.removal_date),
        "expiry_date": _iso(entry.expiry_date),
        "source": entry.source,
        "case_number": entry.case_number,
    }
    return Fact(uscc, FactKind.JUDICIAL, entry.entry_id, "", payload)


def _judicial_from(key: str, p: Mapping[str, Any]) -> JudicialEntry:
    return JudicialEntry(
        entry_id=key,
        kind=JudicialEntryKind(p["kind"]),
        authority=p["authority"],
        reason=p["reason"],
        listing_date=dt.date.fromisoformat(p["listing_date"]),
        removal_date=_day(p["removal_date"]),
        expiry_date=_day(p["expiry_date"]),
        source=p["source"],
        case_number=p["case_number"],
    )


def platform_fact(uscc: str, platform: str, record: PlatformRecord) -> Fact:
    match record:
        case Store():
            kind, key = FactKind.STORE, f"store:{record.store_id}"
            payload: dict[str, Any] = {
                "address": record.address,
                "main_categories": list(record.main_categories),
                "status": record.status.value,
                "opening_date": _iso(record.opening_date),
            }
        case Membership():
            kind, key = FactKind.MEMBERSHIP, "membership"
            payload = {"member_since": record.member_since.isoformat()}
        case TradeSummary():
            kind, key = FactKind.TRADE, "trade"
            payload = {
                "as_of_date": record.as_of_date.isoformat(),
                "cumulative_transactions": record.cumulative_transactions,
                "buyers": record.buyers,
                "repeat_purchase_rate": record.repeat_purchase_rate,
            }
        case ConductRecord():
            kind, key = FactKind.CONDUCT, f"conduct:{record.record_id}"
            payload = {
                "kind": record.kind.value,
                "severity": record.severity.value,
                "date": record.date.isoformat(),
                "rule": record.rule,
                "description": record.description,
                "withdrawn": record.withdrawn,
            }
        case Certification():
            kind, key = FactKind.CERTIFICATION, f"certification:{record.record_id}"
            payload = {
                "certifier": record.certifier,
                "certified_date": record.certified_date.isoformat(),
                "valid_until": _iso(record.valid_until),
            }
    return Fact(uscc, kind, key, platform, payload)


def service_state_fact(uscc: str, *, suspended: bool, reason: str) -> Fact:
    return Fact(
        uscc, FactKind.SERVICE_STATE, "state", "", {"suspended": suspended, "reason": reason}
    )


def _suffix(key: str) -> str:
    return key.partition(":")[2]


def _platform_business(platform: str, facts: Iterable[Fact]) -> PlatformBusiness:
    membership: Membership | None = None
    trade: TradeSummary | None = None
    stores: list[Store] = []
    conduct: list[ConductRecord] = []
    certifications: list[Certification] = []
    for fact in facts:
        p = fact.payload
        assert p is not None
        if fact.kind is FactKind.MEMBERSHIP:
            membership = Membership(dt.date.fromisoformat(p["member_since"]))
        elif fact.kind is FactKind.TRADE:
            trade = TradeSummary(
                dt.date.fromisoformat(p["as_of_date"]),
                int(p["cumulative_transactions"]),
                int(p["buyers"]),
                float(p["repeat_purchase_rate"]),
            )
        elif fact.kind is FactKind.STORE:
            stores.append(
                Store(
                    _suffix(fact.key),
                    p["address"],
                    tuple(p["main_categories"]),
                    StoreStatus(p["status"]),
                    _day(p["opening_date"]),
                )
            )
        elif fact.kind is FactKind.CONDUCT:
            conduct.append(
                ConductRecord(
                    _suffix(fact.key),
                    ConductKind(p["kind"]),
                    Severity(p["severity"]),
                    dt.date.fromisoformat(p["date"]),
                    p["rule"],
                    p["description"],
                    bool(p["withdrawn"]),
                )
            )
        elif fact.kind is FactKind.CERTIFICATION:
            certifications.append(
                Certification(
                    _suffix(fact.key),
                    p["certifier"],
                    dt.date.fromisoformat(p["certified_date"]),
                    _day(p["valid_until"]),
                )
            )
    return PlatformBusiness(
        platform=platform,
        membership=membership,
        stores=tuple(sorted(stores, key=lambda s: s.store_id)),
        trade=trade,
        conduct_records=tuple(sorted(conduct, key=lambda c: (c.date, c.record_id), reverse=True)),
        certifications=tuple(sorted(certifications, key=lambda c: c.certified_date, reverse=True)),
    )


def assemble_archive(
    uscc: str, facts: Iterable[Fact], read_time: dt.datetime
) -> EnterpriseArchive | None:
    """The archive from the facts open at read_time; None when there are none."""
    registry: PublicRegistryRecord | None = None
    judicial: list[JudicialEntry] = []
    by_platform: dict[str, list[Fact]] = {}
    found = False
    suspended, suspension_reason = False, ""
    for fact in facts:
        if fact.payload is None:
            continue
        found = True
        if fact.kind is FactKind.SERVICE_STATE:
            suspended = bool(fact.payload["suspended"])
            suspension_reason = str(fact.payload["reason"]) if suspended else ""
        elif fact.kind is FactKind.REGISTRY:
            registry = _registry_from(uscc, fact.payload)
        elif fact.kind is FactKind.JUDICIAL:
            judicial.append(_judicial_from(fact.key, fact.payload))
        else:
            by_platform.setdefault(fact.platform, []).append(fact)
    if not found:
        return None
    return EnterpriseArchive(
        uscc=uscc,
        registry=registry,
        judicial_entries=tuple(
            sorted(judicial, key=lambda e: (e.listing_date, e.entry_id), reverse=True)
        ),
        platforms=tuple(
            _platform_business(platform, facts) for platform, facts in sorted(by_platform.items())
        ),
        read_time=read_time,
        service_suspended=suspended,
        suspension_reason=suspension_reason,
    )
