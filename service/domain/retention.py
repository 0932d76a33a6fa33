"""How long a closed account's data is kept, and what legal holds keep beyond it.

The merchant privacy policy: "If you close your account at Our Platform, we retain store
information for two years before we begin the personal information purge process ... in
case you reactivate your account, or if there is a legal complaint or audit relating to your
business." So an enterprise's account, once closed, is kept RETENTION_YEARS; reopened
within them, nothing is purged. Then the purge:
- the legal representative's personal data is destroyed (crypto-shredded, as on a
  withdrawal);
- what platforms reported (stores, trade, conduct, certifications) and the integrity
  levels worked out from it are deleted;
- verifications are kept anonymised: their outcome and time, the person destroyed;
- registry facts and judicial entries, public records re-imported from their sources, stay;
  so does the disclosure ledger, which holds no personal data and must never change.

A legal hold (a court order, an audit) names the records it keeps: an item as disputes name
them (`conduct:<platform>:<id>`, `certification:<platform>:<id>`, `verification:<id>`,
`integrity_level`), `personal_data` for the legal representative's data, or `*` for
everything of the enterprise. An open dispute holds its own item. Held records outlive the
purge until the hold is released; the next purge takes them then.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from service.domain.errors import FieldViolation, InvalidArgument
from service.domain.free_text import text_problem

RETENTION_YEARS = 2
EVERYTHING = "*"
PERSONAL_DATA = "personal_data"
LEVELS = "integrity_level"
_HOLDABLE = re.compile(
    r"(\*|personal_data|integrity_level"
    r"|(conduct|certification):[a-z0-9][a-z0-9-]{0,31}:[A-Za-z0-9_.:-]{1,64}"
    r"|verification:[0-9a-f-]{36})"
)
REASON_MAX = 500


def purge_due(close_time: dt.datetime) -> dt.datetime:
    """When a closed account's data is purged: RETENTION_YEARS after closing, to the
    second (29 February closes are purged on 28 February)."""
    try:
        return close_time.replace(year=close_time.year + RETENTION_YEARS)
    except ValueError:
        return close_time.replace(year=close_time.year + RETENTION_YEARS, day=28)


@dataclass(frozen=True)
class LegalHold:
    id: str
    uscc: str
    item: str
    reason: str
    """Why: the court order's or the audit's reference."""
    place_time: dt.datetime
    release_time: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.release_time is None


def check_hold(item: str, reason: str) -> None:
    """InvalidArgument naming every field of a hold that is not acceptable."""
    problems = []
    if not _HOLDABLE.fullmatch(item):
        problems.append(
            FieldViolation(
                "item",
                "must be *, personal_data, integrity_level, conduct:<platform>:<id>, "
                "certification:<platform>:<id> or verification:<id>",
                "HOLD_ITEM_UNKNOWN",
            )
        )
    problem = text_problem("reason", reason, REASON_MAX, required=True)
    if problem is not None:
        problems.append(problem)
    if problems:
        raise InvalidArgument(problems, "the hold could not be placed as asked")


@dataclass(frozen=True)
class Held:
    """What the holds on an enterprise keep from its purge."""

    items: frozenset[str]

    @property
    def everything(self) -> bool:
        return EVERYTHING in self.items

    def keeps(self, item: str) -> bool:
        return self.everything or item in self.items


def held(holds: list[LegalHold], disputed: frozenset[str]) -> Held:
    """The active holds' items and the items of open disputes."""
    return Held(frozenset(h.item for h in holds if h.active) | disputed)
