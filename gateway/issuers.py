"""The platforms whose users the gateway admits: who signs their tokens, and with what keys.

Each platform's account system signs tokens for its users; the gateway accepts a token
whose issuer is a configured platform's, for this gateway's audience, signed by one of that
platform's keys (its JWKS, fetched from a URL or given inline). The document is read
strictly (service/domain/documents.py): every problem at once, unknown keys refused.

    {"platforms": [{"platform": "demo", "issuer": "https://accounts.demo.example",
                    "audience": "integrity-gateway",
                    "jwks_url": "https://accounts.demo.example/.well-known/jwks.json"}]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.domain.documents import DocumentFields, refuse_if_invalid
from service.domain.errors import FieldViolation

_PLATFORM = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_URL = re.compile(r"https?://\S{1,2000}")
MAX_PLATFORMS = 200


@dataclass(frozen=True)
class Issuer:
    platform: str
    """The platform's code: its users are `<platform>:<subject>` to the service."""
    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks: Mapping[str, Any] | None = None
    """Keys given inline (a JWK Set), instead of a URL."""


def read_issuers(document: Any) -> dict[str, Issuer]:
    """The issuers by their `iss`; InvalidArgument naming every problem."""
    violations: list[FieldViolation] = []
    issuers: dict[str, Issuer] = {}
    if not isinstance(document, Mapping):
        refuse_if_invalid(
            [FieldViolation("", "must be an object", "OBJECT_INVALID")], "token issuers"
        )
    root = DocumentFields(document, "", violations)
    for path, raw in root.items("platforms", min_items=1) or []:
        if not isinstance(raw, Mapping):
            violations.append(FieldViolation(path, "must be an object", "OBJECT_INVALID"))
            continue
        fields = DocumentFields(raw, path, violations)
        platform = fields.code(
            "platform", _PLATFORM, "1 to 32 of a-z, 0-9, '-'", "PLATFORM_INVALID"
        )
        issuer = fields.text("issuer", 2000, required=True)
        audience = fields.text("audience", 2000, required=True)
        url = fields.get("jwks_url", required=False)
        jwks = fields.get("jwks", required=False)
        fields.refuse_unread("is not a setting of a platform", "FIELD_UNKNOWN")
        if (url is None) == (jwks is None):
            fields.add("jwks_url", "give jwks_url or jwks, one of them", "JWKS_REQUIRED")
        elif url is not None and not (isinstance(url, str) and _URL.fullmatch(url)):
            fields.add("jwks_url", "must be an http:// or https:// URL", "URL_INVALID")
        elif jwks is not None and not (
            isinstance(jwks, Mapping) and isinstance(jwks.get("keys"), list)
        ):
            fields.add("jwks", 'must be a JWK Set: {"keys": [...]}', "JWKS_INVALID")
        if issuer is not None and issuer in issuers:
            fields.add("issuer", "is another platform's issuer too", "ISSUER_REPEATED")
        if (
            platform
            and issuer
            and audience
            and not any(v.field == path or v.field.startswith(path + ".") for v in violations)
        ):
            issuers[issuer] = Issuer(platform, issuer, audience, url, jwks)
    if len(issuers) > MAX_PLATFORMS:
        violations.append(FieldViolation("platforms", f"at most {MAX_PLATFORMS}", "LIST_TOO_LONG"))
    refuse_if_invalid(violations, "token issuers")
    return issuers
