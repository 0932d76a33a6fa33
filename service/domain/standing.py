"""An enterprise's standing for eligibility checks, distilled from its archive."""

from __future__ import annotations

import datetime as dt

from service.domain.archive import EnterpriseArchive
from service.domain.policies import EnterpriseStanding
from service.domain.scorecard import IntegrityLevel, VerificationSummary


def standing_of(
    uscc: str,
    archive: EnterpriseArchive | None,
    verification: VerificationSummary | None,
    level: IntegrityLevel | str | None,
    level_revisit_time: dt.datetime | None = None,
) -> EnterpriseStanding:
    """Everything a policy may ask about, in the shape evaluation reads fastest."""
    level_class = level.level_class if isinstance(level, IntegrityLevel) else level
    if isinstance(level, IntegrityLevel):
        level_revisit_time = level.revisit_time
    last_verified: dt.datetime | None = None
    if verification is not None and verification.verified:
        last_verified = verification.time
    if archive is None:
        return EnterpriseStanding(
            uscc=uscc,
            status=None,
            licence_term=None,
            level_class=level_class,
            last_verified=last_verified,
            judicial_entries=(),
            conduct_records=(),
            certifications=(),
            stores=(),
            level_revisit_time=level_revisit_time,
        )
    registry = archive.registry
    return EnterpriseStanding(
        uscc=uscc,
        status=registry.status if registry else None,
        licence_term=registry.term if registry else None,
        level_class=level_class,
        last_verified=last_verified,
        judicial_entries=archive.judicial_entries,
        conduct_records=tuple(
            (p.platform, record) for p in archive.platforms for record in p.conduct_records
        ),
        certifications=tuple(
            (p.platform, record) for p in archive.platforms for record in p.certifications
        ),
        stores=tuple((p.platform, store) for p in archive.platforms for store in p.stores),
        service_suspended=archive.service_suspended,
        suspension_reason=archive.suspension_reason,
        level_revisit_time=level_revisit_time,
    )
