"""Who may ask: the government registry's bearer tokens, the provider's app ids with their
signing secrets. Each names the client its limits and counts belong to."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field


def provider_signature(secret: str, app_id: str, timestamp: str, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, "{app id}\\n{timestamp}\\n{body bytes}"))"""
    message = f"{app_id}\n{timestamp}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Credentials:
    # token -> client name
    gov_tokens: Mapping[str, str] = field(default_factory=dict)
    # app id -> secret; the app id is the client's name
    provider_apps: Mapping[str, str] = field(default_factory=dict)

    def gov_client(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        return self.gov_tokens.get(authorization[len("Bearer ") :].strip())

    def provider_client(
        self, app_id: str | None, timestamp: str | None, signature: str | None, body: bytes
    ) -> str | None:
        """The app id when the signature is right (the timestamp is checked by the caller,
        against the simulator clock)."""
        if not app_id or timestamp is None or not signature:
            return None
        secret = self.provider_apps.get(app_id)
        if secret is None:
            return None
        expected = provider_signature(secret, app_id, timestamp, body)
        return app_id if hmac.compare_digest(expected, signature.strip().lower()) else None


def parse_pairs(values: tuple[str, ...] | list[str], what: str) -> dict[str, str]:
    """ "name=value" pairs from the command line."""
    pairs = {}
    for value in values:
        name, sep, secret = value.partition("=")
        if not sep or not name or not secret:
            raise ValueError(f"{what} must be written NAME=VALUE")
        pairs[name] = secret
    return pairs
