"""What a business registry publishes about an enterprise."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from service.domain.licence import LicenceTerm, RegistrationStatus
from service.domain.sealed import SealedLegalRepresentative, SealedValue


class ShareholderKind(StrEnum):
    NATURAL_PERSON = "natural_person"
    ENTERPRISE = "enterprise"
    OTHER = "other"


@dataclass(frozen=True)
class Shareholder:
    """A registered shareholder.

    A natural person's name is personal data. As a registry row is parsed it is plaintext;
    in a RegistryRecord (and everything after) ``name`` is the masked form and
    ``sealed_name`` the sealed original. Enterprises' and other holders' names stay as
    registered.
    """

    name: str
    kind: ShareholderKind
    subscribed_capital: Decimal | None
    ratio: Decimal | None
    sealed_name: SealedValue | None = None

    @property
    def is_person(self) -> bool:
        return self.kind is ShareholderKind.NATURAL_PERSON


@dataclass(frozen=True)
class ChangeRecord:
    date: dt.date
    item: str
    before: str
    after: str


@dataclass(frozen=True)
class RegistryRecord:
    uscc: str
    name: str
    enterprise_type: str
    legal_representative: SealedLegalRepresentative
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
    # When the registry data was captured: registries publish days to weeks late, so every
    # decision made from a record says how old the record was.
    snapshot_time: dt.datetime


@dataclass(frozen=True)
class RegistrySummary:
    """The public part of a registry record that a verification keeps with its decision."""

    enterprise_name: str
    status: RegistrationStatus
    term: LicenceTerm
    registration_authority: str
    snapshot_time: dt.datetime

    @classmethod
    def of(cls, record: RegistryRecord) -> RegistrySummary:
        return cls(
            enterprise_name=record.name,
            status=record.status,
            term=record.term,
            registration_authority=record.registration_authority,
            snapshot_time=record.snapshot_time,
        )
