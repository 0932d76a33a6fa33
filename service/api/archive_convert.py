"""Archive -> proto, keeping only the field groups the view allows."""

from __future__ import annotations

from integrity.v1 import archive_pb2, licence_pb2, verification_pb2

from service.api.proto_values import date_out, status_out, term_out, timestamp_out
from service.app.archive import ShownArchive
from service.app.resource_names import archive_name
from service.domain.archive import EnterpriseArchive, PublicRegistryRecord
from service.domain.judicial import JudicialEntryKind
from service.domain.platform_records import PlatformBusiness
from service.domain.scorecard import IntegrityLevel
from service.domain.verification import AuthorisationScope
from service.domain.visibility import FieldGroup as G
from service.domain.visibility import Tier

_SCOPES = {
    AuthorisationScope.IDENTITY_VERIFICATION: (
        verification_pb2.AUTHORIZATION_SCOPE_IDENTITY_VERIFICATION
    ),
    AuthorisationScope.ARCHIVE: verification_pb2.AUTHORIZATION_SCOPE_ARCHIVE,
    AuthorisationScope.INTEGRITY_LEVEL: verification_pb2.AUTHORIZATION_SCOPE_INTEGRITY_LEVEL,
}
TIERS = {
    Tier.ANONYMOUS: archive_pb2.VIEWER_TIER_ANONYMOUS,
    Tier.LOGGED_IN: archive_pb2.VIEWER_TIER_LOGGED_IN,
    Tier.MERCHANT: archive_pb2.VIEWER_TIER_MERCHANT,
    Tier.PLATFORM: archive_pb2.VIEWER_TIER_PLATFORM,
    Tier.OPS: archive_pb2.VIEWER_TIER_OPS,
}
_JUDICIAL_KINDS = {
    kind: archive_pb2.JudicialEntryKind.Value(f"JUDICIAL_ENTRY_KIND_{kind.name}")
    for kind in JudicialEntryKind
}


def _registry_fields(
    out: archive_pb2.PublicInformation,
    record: PublicRegistryRecord,
    groups: frozenset[G],
    archive: EnterpriseArchive,
) -> None:
    if G.IDENTITY in groups:
        out.enterprise_name = record.name
        out.registered_address = record.address
        out.establishment_date.CopyFrom(date_out(record.establishment_date))
        out.enterprise_type = record.enterprise_type
        out.registration_authority = record.registration_authority
    if G.STATUS in groups:
        out.status = status_out(record.status)
        out.term.CopyFrom(term_out(record.term))
        out.licence_valid = record.licence_valid(archive.read_date)
        out.registry_snapshot_time.CopyFrom(timestamp_out(record.snapshot_time))
    if G.CAPITAL in groups and record.registered_capital is not None:
        out.registered_capital = str(record.registered_capital)
        out.capital_currency = record.capital_currency
    if G.BUSINESS_SCOPE in groups:
        out.business_scope = record.business_scope
    if G.SHAREHOLDERS in groups:
        out.shareholders.extend(
            archive_pb2.Shareholder(
                name=s.name,
                kind=s.kind.value,
                subscribed_capital=""
                if s.subscribed_capital is None
                else str(s.subscribed_capital),
                ratio="" if s.ratio is None else str(s.ratio),
            )
            for s in record.shareholders
        )
    if G.CHANGES in groups:
        out.changes.extend(
            archive_pb2.ChangeRecord(
                date=date_out(c.date), item=c.item, before=c.before, after=c.after
            )
            for c in record.changes
        )
    if G.LEGAL_REPRESENTATIVE in groups:
        out.legal_representative.CopyFrom(
            licence_pb2.LegalRepresentative(
                name=record.legal_rep_name_masked, id_number=record.legal_rep_id_masked or ""
            )
        )


def _public(archive: EnterpriseArchive, groups: frozenset[G]) -> archive_pb2.PublicInformation:
    out = archive_pb2.PublicInformation()
    if G.IDENTITY in groups:
        out.uscc = archive.uscc
    if archive.registry is not None:
        _registry_fields(out, archive.registry, groups, archive)
    if G.JUDICIAL in groups:
        on = archive.read_date
        out.judicial_entries.extend(
            archive_pb2.JudicialEntry(
                entry_id=e.entry_id,
                kind=_JUDICIAL_KINDS[e.kind_on(on)],
                authority=e.authority,
                reason=e.reason,
                listing_date=date_out(e.listing_date),
                removal_date=date_out(e.removal_date),
                expiry_date=date_out(e.expiry_date),
                source=e.source,
                case_number=e.case_number,
                active=e.is_active(on),
            )
            for e in archive.judicial_entries
        )
    return out


def _platform(
    business: PlatformBusiness, archive: EnterpriseArchive
) -> archive_pb2.PlatformBusiness:
    out = archive_pb2.PlatformBusiness(platform=business.platform)
    if business.membership is not None:
        out.member_since.CopyFrom(date_out(business.membership.member_since))
        out.membership_years = business.membership.years_on(archive.read_date)
    out.stores.extend(
        archive_pb2.Store(
            store_id=s.store_id,
            address=s.address,
            main_categories=list(s.main_categories),
            status=archive_pb2.StoreStatus.Value(f"STORE_STATUS_{s.status.name}"),
            opening_date=date_out(s.opening_date),
        )
        for s in business.stores
    )
    if business.trade is not None:
        t = business.trade
        out.trade.CopyFrom(
            archive_pb2.TradeSummary(
                as_of_date=date_out(t.as_of_date),
                cumulative_transactions=t.cumulative_transactions,
                buyers=t.buyers,
                repeat_purchase_rate=t.repeat_purchase_rate,
            )
        )
    out.conduct_records.extend(
        archive_pb2.ConductRecord(
            record_id=c.record_id,
            kind=archive_pb2.ConductKind.Value(f"CONDUCT_KIND_{c.kind.name}"),
            severity=archive_pb2.Severity.Value(f"SEVERITY_{c.severity.name}"),
            date=date_out(c.date),
            rule=c.rule,
            description=c.description,
            withdrawn=c.withdrawn,
        )
        for c in business.conduct_records
    )
    out.certifications.extend(
        archive_pb2.Certification(
            record_id=c.record_id,
            certifier=c.certifier,
            certified_date=date_out(c.certified_date),
            valid_until=date_out(c.valid_until),
        )
        for c in business.certifications
    )
    return out


def level_to_proto(level: IntegrityLevel) -> archive_pb2.IntegrityLevel:
    return archive_pb2.IntegrityLevel(
        level_class=level.level_class,
        sufficient_data=level.sufficient_data,
        score=level.score,
        reasons=[
            archive_pb2.LevelReason(
                factor=r.factor,
                points=r.points,
                max_points=r.max_points,
                description=r.description,
                records=list(r.records),
            )
            for r in level.reasons
        ],
        improvements=list(level.improvements),
        scorecard_version=level.scorecard_version,
        inputs_digest=level.inputs_digest,
        compute_time=timestamp_out(level.compute_time),
        cap_reason=level.cap_reason,
    )


def archive_to_proto(shown: ShownArchive) -> archive_pb2.Archive:
    archive, view = shown.archive, shown.view
    message = archive_pb2.Archive(
        name=archive_name(archive.uscc),
        tier=TIERS[view.tier],
        read_time=timestamp_out(archive.read_time),
        disclosed_fields=sorted(view.groups),
        withheld_fields=[
            archive_pb2.WithheldField(
                field_group=w.group.value, reason=w.reason, missing_scope=_SCOPES[w.missing_scope]
            )
            for w in shown.withheld
        ],
    )
    if any(group.value.startswith("public.") for group in view.groups):
        message.public_information.CopyFrom(_public(archive, view.groups))
    if G.INTEGRITY_LEVEL in view.groups and shown.level is not None:
        message.integrity_level.CopyFrom(level_to_proto(shown.level))
    if G.BUSINESS_INTEGRITY in view.groups:
        message.business_integrity.CopyFrom(
            archive_pb2.BusinessIntegrity(
                platforms=[_platform(p, archive) for p in archive.platforms]
            )
        )
    return message
