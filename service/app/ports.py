"""What the use cases need from the outside world, as protocols the adapters implement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from service.domain.disclosure import DisclosureEntry
from service.domain.registry import RegistryRecord
from service.domain.registry_sources import ProviderRecord
from service.domain.sealed import PiiKind, SealedValue
from service.domain.verification import AuthorisationScope, LicenceSubmission, Verification

OnChange = Callable[[Sequence[str]], Awaitable[object]]
"""Told which enterprises' archives changed, so their levels are worked out again."""


async def no_change(_usccs: Sequence[str]) -> None:
    return None


class RegistryUnavailable(Exception):
    """The registry could not answer: not the same as having no record."""


class DuplicateRequest(Exception):
    """Another verification already holds this caller's request id."""


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
    async def add(self, verification: Verification) -> None:
        """Raises DuplicateRequest when the caller's request id is taken."""
        ...

    async def get(self, uscc: str, verification_id: str) -> Verification | None: ...

    async def get_by_request(self, caller: str, request_id: str) -> Verification | None: ...

    async def list_for_enterprise(
        self, uscc: str, limit: int, after: PageCursor | None, caller: str | None
    ) -> Sequence[Verification]:
        """Newest first; only the given caller's when caller is not None."""
        ...


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
