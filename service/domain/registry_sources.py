"""The sources a verification is checked against, and what the data provider answers.

The government registry (or the snapshot imported from it) is authoritative for
registration facts; the enterprise-data provider answers per field and sometimes knows
the legal representative's ID number, which registries never publish.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from service.domain.licence import LicenceTerm, RegistrationStatus
from service.domain.sealed import SealedValue


class SourceKind(StrEnum):
    REGISTRY_SNAPSHOT = "registry_snapshot"
    GOVERNMENT_REGISTRY = "government_registry"
    DATA_PROVIDER = "data_provider"


class ProviderVerdict(StrEnum):
    """The provider's own judgement of one submitted field."""

    CONSISTENT = "consistent"
    INCONSISTENT = "inconsistent"
    CANNOT_TELL = "cannot_tell"


@dataclass(frozen=True)
class ProviderVerdicts:
    enterprise_name: ProviderVerdict = ProviderVerdict.CANNOT_TELL
    legal_rep_name: ProviderVerdict = ProviderVerdict.CANNOT_TELL
    legal_rep_id_number: ProviderVerdict = ProviderVerdict.CANNOT_TELL


@dataclass(frozen=True)
class ProviderRecord:
    """What the provider holds about an enterprise, legal representative sealed.

    Every fact is optional: the provider publishes what it has."""

    uscc: str
    enterprise_name: str | None
    status: RegistrationStatus | None
    legal_rep_name: SealedValue | None
    legal_rep_id_number: SealedValue | None
    term: LicenceTerm | None
    address: str | None
    verdicts: ProviderVerdicts
    # The provider's own snapshot time: it lags the registry, or leads it, by days.
    snapshot_time: dt.datetime
