"""Reading an enterprise's archive: decide the view, assemble, record the disclosure."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from service.app.ports import AuthorisationRecords, Clock, DisclosureLedger
from service.domain.archive import EnterpriseArchive, Fact, assemble_archive
from service.domain.callers import Caller, Viewer
from service.domain.consent import Withheld, needs_authorisation, withhold_unauthorised
from service.domain.disclosure import check_entry, disclosed_to
from service.domain.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    InvalidIdentifier,
    NotFound,
)
from service.domain.names import normalise_name
from service.domain.scorecard import IntegrityLevel
from service.domain.text import TextKind, check_text
from service.domain.visibility import ArchiveView, FieldGroup, PurposeTable, decide_view

_CLOCK_SKEW = dt.timedelta(minutes=5)


class ArchiveStore(Protocol):
    async def load(self, uscc: str, as_of: dt.datetime | None) -> Sequence[Fact]: ...

    async def usccs_named(self, normalised_name: str) -> Sequence[str]: ...


class LevelReader(Protocol):
    async def current(
        self, uscc: str, as_of: dt.datetime | None = None
    ) -> IntegrityLevel | None: ...


@dataclass(frozen=True)
class ArchiveRead:
    """Who is reading, for what, and as of when."""

    caller: Caller
    viewer: Viewer | None
    purpose: str
    scenario: str
    read_time: dt.datetime | None


@dataclass(frozen=True)
class ShownArchive:
    archive: EnterpriseArchive
    view: ArchiveView
    level: IntegrityLevel | None
    # Groups the tier allowed but the legal representative's authorisation does not.
    withheld: tuple[Withheld, ...] = ()


class ArchiveReader:
    def __init__(
        self,
        store: ArchiveStore,
        ledger: DisclosureLedger,
        purposes: PurposeTable,
        clock: Clock,
        levels: LevelReader,
        authorisations: AuthorisationRecords,
    ) -> None:
        self._authorisations = authorisations
        self._levels = levels
        self._store = store
        self._ledger = ledger
        self._purposes = purposes
        self._clock = clock

    async def read(self, uscc: str, request: ArchiveRead) -> ShownArchive:
        now = self._clock.now()
        if request.read_time is not None and request.read_time > now + _CLOCK_SKEW:
            raise InvalidArgument(
                [FieldViolation("read_time", "is in the future", "READ_TIME_FUTURE")]
            )
        view = decide_view(
            request.caller,
            request.viewer,
            uscc,
            request.purpose,
            request.scenario,
            self._purposes,
        )
        # Ops reads too: the merchant sees that ops looked, and why.
        disclosure = disclosed_to(
            request.caller,
            uscc,
            tier=view.tier.value,
            purpose=view.purpose,
            scenario=view.scenario,
            fields=view.groups,
            at=now,
        )
        # A scenario the ledger would refuse is refused before anything is read.
        check_entry(disclosure)
        facts = await self._store.load(uscc, request.read_time)
        archive = assemble_archive(uscc, facts, request.read_time or now)
        if archive is None:
            raise NotFound(f"no archive for enterprises/{uscc}", reason="ARCHIVE_NOT_FOUND")
        withheld: tuple[Withheld, ...] = ()
        if needs_authorisation(view):
            # Before the ledger entry: what is withheld is not disclosed.
            granted = await self._authorisations.archive_scopes(uscc, archive.read_time)
            view, withheld = withhold_unauthorised(view, granted)
            disclosure = dataclasses.replace(disclosure, fields=tuple(sorted(view.groups)))
        # Durable before the answer leaves: a disclosure nobody can see never happened.
        await self._ledger.record(disclosure)
        level = None
        if FieldGroup.INTEGRITY_LEVEL in view.groups:
            level = await self._levels.current(uscc, request.read_time)
        return ShownArchive(archive, view, level, withheld)

    async def lookup(self, registered_name: str, request: ArchiveRead) -> ShownArchive:
        try:
            check_text(registered_name, TextKind.ENTERPRISE_NAME)
        except InvalidIdentifier as problem:
            raise InvalidArgument([problem.at("registered_name")]) from problem
        matches = await self._store.usccs_named(normalise_name(registered_name))
        if not matches:
            raise NotFound("no enterprise has that registered name", reason="ARCHIVE_NOT_FOUND")
        if len(matches) > 1:
            raise FailedPrecondition(
                "several enterprises share that name; read the archive by USCC",
                reason="NAME_AMBIGUOUS",
            )
        return await self.read(matches[0], request)
