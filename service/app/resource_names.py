"""Resource names (AIP-122), parsed and made in one place."""

from __future__ import annotations

import re

from service.domain.errors import FieldViolation, InvalidArgument

# Matched whole (fullmatch): "$" would let a trailing newline through.
_ENTERPRISE = re.compile(r"enterprises/([0-9A-Z]{18})")
_ARCHIVE = re.compile(r"enterprises/([0-9A-Z]{18})/archive")
_UUID = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
_VERIFICATION = re.compile(r"enterprises/([0-9A-Z]{18})/verifications/" + _UUID)
_DISPUTE = re.compile(r"enterprises/([0-9A-Z]{18})/disputes/" + _UUID)
_DATA_REQUEST = re.compile(r"enterprises/([0-9A-Z]{18})/dataRequests/" + _UUID)


def enterprise_name(uscc: str) -> str:
    return f"enterprises/{uscc}"


def verification_name(uscc: str, verification_id: str) -> str:
    return f"enterprises/{uscc}/verifications/{verification_id}"


def parse_enterprise_name(name: str, field: str = "parent") -> str:
    match = _ENTERPRISE.fullmatch(name)
    if not match:
        raise InvalidArgument(
            [FieldViolation(field, "must be enterprises/{uscc}", "RESOURCE_NAME_INVALID")]
        )
    return match.group(1)


def parse_verification_name(name: str, field: str = "name") -> tuple[str, str]:
    match = _VERIFICATION.fullmatch(name)
    if not match:
        raise InvalidArgument(
            [
                FieldViolation(
                    field,
                    "must be enterprises/{uscc}/verifications/{id}",
                    "RESOURCE_NAME_INVALID",
                )
            ]
        )
    return match.group(1), match.group(2)


def parse_archive_name(name: str, field: str = "name") -> str:
    match = _ARCHIVE.fullmatch(name)
    if not match:
        raise InvalidArgument(
            [FieldViolation(field, "must be enterprises/{uscc}/archive", "RESOURCE_NAME_INVALID")]
        )
    return match.group(1)


def archive_name(uscc: str) -> str:
    return f"enterprises/{uscc}/archive"


def disclosure_name(uscc: str, sequence: int) -> str:
    return f"enterprises/{uscc}/disclosures/{sequence}"


def dispute_name(uscc: str, dispute_id: str) -> str:
    return f"enterprises/{uscc}/disputes/{dispute_id}"


def parse_dispute_name(name: str, field: str = "name") -> tuple[str, str]:
    return _child_name(_DISPUTE, name, field, "enterprises/{uscc}/disputes/{id}")


def data_request_name(uscc: str, request_id: str) -> str:
    return f"enterprises/{uscc}/dataRequests/{request_id}"


def parse_data_request_name(name: str, field: str = "name") -> tuple[str, str]:
    return _child_name(_DATA_REQUEST, name, field, "enterprises/{uscc}/dataRequests/{id}")


def _child_name(pattern: re.Pattern[str], name: str, field: str, shape: str) -> tuple[str, str]:
    """(uscc, id) of an enterprise's child resource's name."""
    match = pattern.fullmatch(name)
    if not match:
        raise InvalidArgument([FieldViolation(field, f"must be {shape}", "RESOURCE_NAME_INVALID")])
    return match.group(1), match.group(2)
