"""Who calls the service, what they may do, and on whose behalf.

Every call comes from a caller holding a credential: a platform (one per marketplace),
the merchant gateway, or ops. The gateway alone may say which end user it acts for: an
anonymous viewer, a logged-in viewer, or a logged-in merchant (the enterprise itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from service.domain.errors import FieldViolation, InvalidArgument


class CallerKind(StrEnum):
    PLATFORM = "platform"
    GATEWAY = "gateway"
    OPS = "ops"


class Scope(StrEnum):
    VERIFY = "verify"
    READ_ARCHIVE = "read_archive"
    INGEST = "ingest"
    CHECK_ELIGIBILITY = "check_eligibility"
    # Acting for merchants and viewers: the merchant gateway's scope.
    ACT_FOR_USERS = "act_for_users"
    OPS = "ops"


DEFAULT_SCOPES: dict[CallerKind, frozenset[Scope]] = {
    CallerKind.PLATFORM: frozenset(
        {Scope.VERIFY, Scope.READ_ARCHIVE, Scope.INGEST, Scope.CHECK_ELIGIBILITY}
    ),
    CallerKind.GATEWAY: frozenset({Scope.READ_ARCHIVE, Scope.ACT_FOR_USERS}),
    CallerKind.OPS: frozenset(Scope),
}

_PLATFORM_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}\Z")


@dataclass(frozen=True)
class Caller:
    id: str
    kind: CallerKind
    name: str
    # The marketplace a platform caller speaks for ("1688", "taobao"); None for others.
    platform: str | None
    scopes: frozenset[Scope]

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes


class ViewerKind(StrEnum):
    ANONYMOUS = "anonymous"
    LOGGED_IN = "logged_in"
    MERCHANT = "merchant"


@dataclass(frozen=True)
class Viewer:
    """The end user a gateway call is for."""

    kind: ViewerKind
    # The platform's user id for logged-in viewers and merchants; the client address
    # (as the gateway saw it) for anonymous viewers, so limits apply per person.
    user_key: str
    # For a merchant: the enterprise they act for.
    merchant_uscc: str | None = None


def check_platform_code(code: str) -> None:
    if not _PLATFORM_CODE.match(code):
        raise InvalidArgument(
            [
                FieldViolation(
                    "platform",
                    "1 to 32 lower-case letters, digits or hyphens",
                    "PLATFORM_CODE_INVALID",
                )
            ]
        )


_USER_KEY = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}\Z")
_USCC_SHAPE = re.compile(r"^[0-9A-Z]{18}\Z")


def parse_on_behalf_of(header: str) -> Viewer:
    """The gateway's x-on-behalf-of header.

    "anonymous:<client-address>", "viewer:<user-id>" or "merchant:<uscc>:<user-id>".
    """

    def bad(description: str) -> InvalidArgument:
        return InvalidArgument(
            [FieldViolation("x-on-behalf-of", description, "ON_BEHALF_OF_INVALID")]
        )

    kind, _, rest = header.partition(":")
    if kind == "anonymous" and _USER_KEY.match(rest):
        return Viewer(ViewerKind.ANONYMOUS, rest)
    if kind == "viewer" and _USER_KEY.match(rest):
        return Viewer(ViewerKind.LOGGED_IN, rest)
    if kind == "merchant":
        uscc, _, user = rest.partition(":")
        if _USCC_SHAPE.match(uscc) and _USER_KEY.match(user):
            return Viewer(ViewerKind.MERCHANT, user, merchant_uscc=uscc)
    raise bad(
        'must be "anonymous:<client-address>", "viewer:<user-id>" or "merchant:<uscc>:<user-id>"'
    )
