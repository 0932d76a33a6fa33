"""Page tokens: opaque to callers, authenticated, and bound to the listing that made them.

A token carries where the next page starts. It is signed (HMAC-SHA256 under a key derived
from the service's digest key, so every replica reading the same keys file accepts every
other's tokens) over that position and the listing it belongs to: which collection, which
parent, and for whom. A forged or altered token, or one replayed against another listing,
another parent or another caller's view, fails the signature and is refused as
INVALID_ARGUMENT. Nothing in a token is secret; the signature only keeps it honest.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping

from service.app.ports import PageCursor
from service.domain.errors import FieldViolation, InvalidArgument

# Tokens this service issues stay well under this; anything longer is refused unread.
MAX_PAGE_TOKEN_LENGTH = 512
_MAC_BYTES = 16


def _refused() -> InvalidArgument:
    return InvalidArgument(
        [
            FieldViolation(
                "page_token",
                "not a page token from a previous call of this listing",
                "PAGE_TOKEN_INVALID",
            )
        ]
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokens:
    def __init__(self, digest_key: bytes) -> None:
        self._key = hmac.new(digest_key, b"integrity page tokens v1", hashlib.sha256).digest()

    def _mac(self, listing: str, body: bytes) -> bytes:
        signed = listing.encode("utf-8") + b"\x00" + body
        return hmac.new(self._key, signed, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, listing: str, position: Mapping[str, str | int]) -> str:
        body = json.dumps(dict(position), separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(body)}.{_b64(self._mac(listing, body))}"

    def read(self, token: str, listing: str) -> dict[str, object] | None:
        """The position a token stands for; None for no token (the first page)."""
        if not token:
            return None
        if len(token) > MAX_PAGE_TOKEN_LENGTH or not token.isascii():
            raise _refused()
        body_text, dot, mac_text = token.partition(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, binascii.Error) as exc:
            raise _refused() from exc
        if not dot or not hmac.compare_digest(mac, self._mac(listing, body)):
            raise _refused()
        position = json.loads(body)
        if not isinstance(position, dict):
            raise _refused()
        return position

    def issue_cursor(self, listing: str, cursor: PageCursor) -> str:
        return self.issue(listing, {"t": cursor.create_time.isoformat(), "i": cursor.id})

    def read_cursor(self, token: str, listing: str) -> PageCursor | None:
        position = self.read(token, listing)
        if position is None:
            return None
        created, identifier = position.get("t"), position.get("i")
        if not isinstance(created, str) or not isinstance(identifier, str):
            raise _refused()
        return PageCursor(create_time=dt.datetime.fromisoformat(created), id=identifier)

    def issue_sequence(self, listing: str, sequence: int) -> str:
        return self.issue(listing, {"s": sequence})

    def read_sequence(self, token: str, listing: str) -> int | None:
        position = self.read(token, listing)
        if position is None:
            return None
        sequence = position.get("s")
        if not isinstance(sequence, int) or isinstance(sequence, bool):
            raise _refused()
        return sequence
