"""What the demo submits (a merchant's licence data from a registry row) and how it prints
the service's answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from google.protobuf import timestamp_pb2
from integrity.v1 import eligibility_pb2, licence_pb2, verification_pb2

V = verification_pb2
E = eligibility_pb2

# Submitted for a legal representative the registry row has no ID number for.
STAND_IN_ID_NUMBER = "11010519491231002X"


def submission(row: Mapping[str, Any], **changes: str) -> verification_pb2.Verification:
    """The licence data of ``row`` as a merchant submits it (``rep_name=`` to mistype the
    legal representative's name), with the legal representative's whole authorisation."""
    grant = timestamp_pb2.Timestamp()
    grant.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    rep = row["legal_representative"]
    licence = licence_pb2.BusinessLicence(
        uscc=row["uscc"],
        enterprise_name=row["name"],
        legal_representative=licence_pb2.LegalRepresentative(
            name=changes.get("rep_name", rep["name"]),
            id_number=rep["id_number"] or STAND_IN_ID_NUMBER,
        ),
        registered_address=row["address"],
    )
    return V.Verification(
        licence=licence,
        authorization=V.Authorization(
            granted_by=rep["name"],
            grant_time=grant,
            # The whole authorisation: the demo also shows the merchant's archive and level.
            scopes=[
                V.AUTHORIZATION_SCOPE_IDENTITY_VERIFICATION,
                V.AUTHORIZATION_SCOPE_ARCHIVE,
                V.AUTHORIZATION_SCOPE_INTEGRITY_LEVEL,
            ],
            evidence_reference="demo/consent/1",
        ),
    )


def outcome_name(outcome: verification_pb2.VerificationOutcome.ValueType) -> str:
    return V.VerificationOutcome.Name(outcome).removeprefix("VERIFICATION_OUTCOME_")


def reason_name(code: verification_pb2.VerificationReasonCode.ValueType) -> str:
    return V.VerificationReasonCode.Name(code).removeprefix("VERIFICATION_REASON_CODE_")


def source_name(source: verification_pb2.RegistrySource.ValueType) -> str:
    """ "government_registry", "data_provider"...; "" for none (nothing was compared)."""
    if source == V.REGISTRY_SOURCE_UNSPECIFIED:
        return ""
    return V.RegistrySource.Name(source).removeprefix("REGISTRY_SOURCE_").lower()


def show_verification(title: str, result: verification_pb2.Verification) -> None:
    print(f"\n== {title}")
    print(f"   {result.name}")
    print(f"   {result.licence.enterprise_name}")
    rep = result.licence.legal_representative
    print(f"   legal representative (masked): {rep.name} {rep.id_number}")
    print(f"   outcome: {outcome_name(result.outcome)}")
    for reason in result.reasons:
        print(f"   reason: {reason_name(reason.code)}: {reason.message}")
    for check in result.field_checks:
        result_name = V.FieldCheckResult.Name(check.result).removeprefix("FIELD_CHECK_RESULT_")
        print(f"     {check.field:40} {result_name:14} {source_name(check.source)}")
    if result.HasField("registry_record"):
        snapshot = result.registry_record.snapshot_time.ToDatetime(tzinfo=dt.UTC)
        print(f"   registry snapshot of {snapshot:%Y-%m-%d %H:%M} UTC")


def show_history(result: verification_pb2.Verification) -> None:
    print("   history:")
    for change in result.history:
        when = change.change_time.ToDatetime(tzinfo=dt.UTC)
        stamp = when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        reasons = ", ".join(reason_name(reason.code) for reason in change.reasons)
        print(
            f"     {stamp} UTC  {outcome_name(change.outcome):8} by {change.trigger}"
            + (f" ({reasons})" if reasons else "")
        )


def show_decision(title: str, answer: eligibility_pb2.CheckEligibilityResponse) -> None:
    print(f"\n== {title}")
    print(f"   decision: {E.EligibilityDecision.Name(answer.decision)}")
    print(f"   integrity class: {answer.level_class or '-'}; policy {answer.policy_version}")
    for unmet in answer.unmet_conditions:
        consequence = E.EligibilityDecision.Name(unmet.consequence)
        print(f"     {unmet.condition:24} {unmet.reason_code} ({consequence}): {unmet.description}")
    for item in answer.supplementary_information:
        print(f"     may ask the merchant for: {item}")
