"""What the use cases need from the outside world, as protocols the adapters implement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from service.domain.archive import Fact
from service.domain.disclosure import DisclosureEntry
from service.domain.outbox import OutboxEvent
from service.domain.recheck_schedule import RecheckState
from service.domain.registry import RegistryRecord
from service.domain.registry_sources import ProviderRecord
from service.domain.sealed import PiiKind, SealedValue
from service.domain.verification import (
    AuthorisationScope,
    LicenceSubmission,
    OutcomeChange,
    Verification,
)

if TYPE_CHECKING:
    from service.app.levels import LevelStore

OnChange = Callable[[Sequence[str]], Awaitable[object]]
"""Told which enterprises' archives changed, so their levels are worked out again."""


async def no_change(_usccs: Sequence[str]) -> None:
    return None


class FactWriter(Protocol):
    async def write(self, facts: Sequence[Fact], source: str) -> list[str]:
        """Record the facts that changed; the USCC of each new version."""
        ...


class RegistryUnavailable(Exception):
    """The registry could not answer: not the same as having no record."""


class DuplicateRequest(Exception):
    """Another verification already holds this caller's request id."""


class AlreadyApplied(Exception):
    """This idempotency key has been applied before: applying it again changes nothing."""


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class DisclosureLedger(Protocol):
    async def record(self, entry: DisclosureEntry) -> None:
        """Returns once the entry is durable; raises (and nothing may be disclosed) if not."""


class AuthorisationRecords(Protocol):
    async def archive_scopes(self, uscc: str, as_of: dt.datetime) -> frozenset[AuthorisationScope]:
        """The scopes granted with the enterprise's latest VERIFIED verification made by
        as_of; empty when there is none (see service/domain/consent.py)."""
        ...


class PiiVault(Protocol):
    def seal(self, kind: PiiKind, plaintext: str) -> SealedValue: ...

    def digest(self, kind: PiiKind, plaintext: str) -> bytes: ...

    def fingerprint(self, data: bytes) -> bytes: ...

    def open(self, sealed: SealedValue) -> str: ...


class Registry(Protocol):
    async def lookup(self, uscc: str) -> RegistryRecord | None:
        """The registry's record, None when it has none; RegistryUnavailable when it cannot say."""
        ...


class DataProvider(Protocol):
    async def verify(self, submission: LicenceSubmission) -> ProviderRecord | None:
        """What the provider holds and judges about the submission, None when it does not
        know the enterprise; RegistryUnavailable when it cannot say."""
        ...


@dataclass(frozen=True)
class PageCursor:
    """Position after the last item of a page, newest first."""

    create_time: dt.datetime
    id: str


class VerificationRepository(Protocol):
    async def add(self, verification: Verification, schedule: RecheckState | None = None) -> None:
        """With its first history entry; schedule: when to ask the registry again (a
        PENDING one). Raises DuplicateRequest when the caller's request id is taken."""
        ...

    async def get(self, uscc: str, verification_id: str) -> Verification | None: ...

    async def get_by_request(self, caller: str, request_id: str) -> Verification | None: ...

    async def list_for_enterprise(
        self, uscc: str, limit: int, after: PageCursor | None, caller: str | None
    ) -> Sequence[Verification]:
        """Newest first; only the given caller's when caller is not None."""
        ...


class RecheckRepository(Protocol):
    """Deciding verifications again: what to re-check, and writing what changed."""

    async def newest_per_caller(self, uscc: str) -> Sequence[Verification]:
        """Each caller's newest verification of the enterprise, newest first."""
        ...

    async def current(
        self, verification_ids: Sequence[str], *, hold: bool
    ) -> Mapping[str, tuple[Verification, RecheckState]]:
        """The verifications as they stand, each with its history and schedule; hold:
        kept from concurrent changes until the transaction ends."""
        ...

    async def change(self, verification_id: str, change: OutcomeChange, key: str) -> None:
        """A new current decision and its history entry; AlreadyApplied if this key
        changed this verification before."""
        ...

    async def schedule(self, verification_id: str, state: RecheckState) -> None: ...

    async def claim_due(
        self, now: dt.datetime, lease_until: dt.datetime, limit: int
    ) -> Sequence[str]:
        """Ids of verifications whose re-check time has come, each kept from other
        claimers until lease_until (after which, if still unchecked, it is due again)."""
        ...

    async def next_due_time(self) -> dt.datetime | None: ...

    async def bring_forward(self, usccs: Sequence[str], now: dt.datetime) -> int:
        """Scheduled re-checks of these enterprises' verifications due later: due now."""
        ...

    async def applied(self, uscc: str, key: str) -> Mapping[str, Any] | None:
        """What the re-check with this key recorded, if it was applied."""
        ...

    async def record_applied(
        self, uscc: str, key: str, trigger: str, result: Mapping[str, Any], now: dt.datetime
    ) -> None:
        """AlreadyApplied if the key was recorded before (a concurrent retry)."""
        ...

    async def enterprises_changed(self, usccs: Sequence[str], now: dt.datetime) -> None:
        """Into the change log, so every replica's caches learn of it."""
        ...


class Outbox(Protocol):
    async def add(self, events: Sequence[OutboxEvent]) -> None: ...


class UnitOfWork(Protocol):
    @property
    def verifications(self) -> VerificationRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...


class RecheckUnitOfWork(UnitOfWork, Protocol):
    """One transaction over verifications, levels and the outbox together."""

    @property
    def rechecks(self) -> RecheckRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def levels(self) -> LevelStore: ...


class RecheckUnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> RecheckUnitOfWork: ...
