"""Resource names (AIP-122) and page tokens, parsed and made in one place."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re

from service.app.ports import PageCursor
from service.domain.errors import FieldViolation, InvalidArgument

_ENTERPRISE = re.compile(r"^enterprises/([0-9A-Z]{18})$")
_ARCHIVE = re.compile(r"^enterprises/([0-9A-Z]{18})/archive$")
_VERIFICATION = re.compile(r"^enterprises/([0-9A-Z]{18})/verifications/([0-9a-f-]{36})$")


def enterprise_name(uscc: str) -> str:
    return f"enterprises/{uscc}"


def verification_name(uscc: str, verification_id: str) -> str:
    return f"enterprises/{uscc}/verifications/{verification_id}"


def parse_enterprise_name(name: str, field: str = "parent") -> str:
    match = _ENTERPRISE.match(name)
    if not match:
        raise InvalidArgument(
            [FieldViolation(field, "must be enterprises/{uscc}", "RESOURCE_NAME_INVALID")]
        )
    return match.group(1)


def parse_verification_name(name: str, field: str = "name") -> tuple[str, str]:
    match = _VERIFICATION.match(name)
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


def _encode_token(parent: str, position: dict[str, object]) -> str:
    document = {"p": parent, **position}
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def _decode_token(token: str, parent: str) -> dict[str, object]:
    """A page token's position; a token made for another parent, or no token, is refused."""
    problem = FieldViolation(
        "page_token", "not a page token from a previous call with this parent", "PAGE_TOKEN_INVALID"
    )
    try:
        padded = token + "=" * (-len(token) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(document, dict) or document.get("p") != parent:
            raise InvalidArgument([problem])
        return document
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidArgument([problem]) from exc


def _page_token_problem() -> InvalidArgument:
    return InvalidArgument(
        [
            FieldViolation(
                "page_token",
                "not a page token from a previous call with this parent",
                "PAGE_TOKEN_INVALID",
            )
        ]
    )


def encode_page_token(parent: str, cursor: PageCursor) -> str:
    return _encode_token(parent, {"t": cursor.create_time.isoformat(), "i": cursor.id})


def decode_page_token(token: str, parent: str) -> PageCursor | None:
    """The cursor a page token stands for; a token made for another parent is refused."""
    if not token:
        return None
    document = _decode_token(token, parent)
    try:
        create_time = dt.datetime.fromisoformat(str(document["t"]))
        if create_time.tzinfo is None:
            raise ValueError("naive")
        return PageCursor(create_time=create_time, id=str(document["i"]))
    except (ValueError, KeyError) as exc:
        raise _page_token_problem() from exc


def parse_archive_name(name: str, field: str = "name") -> str:
    match = _ARCHIVE.match(name)
    if not match:
        raise InvalidArgument(
            [FieldViolation(field, "must be enterprises/{uscc}/archive", "RESOURCE_NAME_INVALID")]
        )
    return match.group(1)


def archive_name(uscc: str) -> str:
    return f"enterprises/{uscc}/archive"


def disclosure_name(uscc: str, sequence: int) -> str:
    return f"enterprises/{uscc}/disclosures/{sequence}"


def encode_sequence_token(parent: str, sequence: int) -> str:
    return _encode_token(parent, {"s": sequence})


def decode_sequence_token(token: str, parent: str) -> int | None:
    if not token:
        return None
    sequence = _decode_token(token, parent).get("s")
    if not isinstance(sequence, int):
        raise _page_token_problem()
    return sequence
