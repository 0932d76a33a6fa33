"""What the use cases need from the outside world, as protocols the adapters implement."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from service.domain.archive import Fact
from service.domain.batches import Batch, BatchState, BatchStatus, ClaimedItem, ItemResult
from service.domain.checkpoint import PublishedCheckpoint
from service.domain.disclosure import DisclosureEntry
from service.domain.outbox import OutboxEvent
from service.domain.recheck_schedule import RecheckState
from service.domain.registry import RegistryRecord
from service.domain.registry_sources import ProviderRecord
from service.domain.sealed import PiiKind, SealedValue
from service.domain.verification import (
    AuthorisationScope,
    LicenceSubmission,
    Outcome,
    OutcomeChange,
    ReasonCode,
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


class RegistryFacts(Protocol):
    """The archive's registry fact (kind REGISTRY): the registry record as last recorded."""

    async def held_payload(self, uscc: str) -> Mapping[str, Any] | None:
        """The payload of the open version; None when the archive holds none."""
        ...

    async def held_payloads(self, usccs: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        """held_payload for many at once (one read): those the archive holds."""
        ...

    async def record(self, fact: Fact) -> list[str]:
        """A new version when it differs from the open one (the old one closed, kept as
        history); the USCC when it was recorded."""
        ...


class RegistryUnavailable(Exception):
    """The registry could not answer: not the same as having no record."""


class RegistryUnanswered(RegistryUnavailable):
    """A re-check that had to answer found the registry unable to say for one of the
    enterprise's verifications (it would stay PENDING as registry unavailable): nothing was
    recorded, so it can be asked again under the same key."""


class ChangeFeedUnavailable(RegistryUnavailable):
    """The registry's change feed could not be read whole (unreachable, an error answer,
    a page we cannot read): no selection is made from it."""


class DuplicateRequest(Exception):
    """Another verification already holds this caller's request id."""


class AlreadyApplied(Exception):
    """This idempotency key has been applied before: applying it again changes nothing."""


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class DisclosureLedger(Protocol):
    async def record(self, entry: DisclosureEntry) -> None:
        """Returns once the entry is durable; raises (and nothing may be disclosed) if not."""


class LedgerTampered(Exception):
    """The ledger no longer holds what a signed checkpoint covers: nothing more is signed."""


@dataclass(frozen=True)
class RebuiltTree:
    """The disclosure log's tree rebuilt from its entries alone, nothing stored trusted."""

    entries: int
    roots: Mapping[int, bytes]
    """The root over the first n entries, for each n asked for that the ledger reaches."""
    first_broken: int | None
    """The first entry that does not chain onto the one before it; None if all do."""


class LedgerTree(Protocol):
    """The disclosure log's Merkle tree and its signed checkpoints."""

    @property
    def signing(self) -> bool: ...

    async def publish(self) -> PublishedCheckpoint | None:
        """Integrate what was appended and sign the new head (LedgerTampered if the
        stored tree is not the one last signed); None without a key or entries."""
        ...

    async def latest(self) -> PublishedCheckpoint | None: ...

    async def at_size(self, size: int) -> PublishedCheckpoint | None: ...

    async def checkpoints(self) -> list[PublishedCheckpoint]: ...

    async def inclusion_proofs(
        self, sequences: Sequence[int], size: int
    ) -> dict[int, list[bytes]]: ...

    async def consistency_proof(self, first: int, second: int) -> list[bytes]: ...

    async def rebuild(self, sizes: Sequence[int]) -> RebuiltTree: ...


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


class Sealer(Protocol):
    """Seals one enterprise's legal-representative values (service/adapters/subject_keys.py)."""

    @property
    def withholding(self) -> bool:
        """The enterprise withdrew: what is sealed is kept destroyed."""
        ...

    def seal(self, kind: PiiKind, plaintext: str) -> SealedValue: ...

    def digest(self, kind: PiiKind, plaintext: str) -> bytes:
        """The keyed digest a value sealed now would carry (comparing without sealing)."""
        ...

    def fingerprint(self, data: bytes) -> bytes:
        """A keyed hash of bytes holding the enterprise's personal data."""
        ...

    def fingerprint_matches(self, data: bytes, stored: bytes) -> bool:
        """Whether a fingerprint stored earlier (under any key it was ever made with) is
        this data's."""
        ...


class PersonalDataKeys(Protocol):
    """Per-enterprise keys of legal representatives' data: destroying them shreds it."""

    async def sealer(self, uscc: str) -> Sealer: ...

    async def sealers(self, usccs: Iterable[str]) -> Mapping[str, Sealer]: ...

    async def fresh_generation(self, uscc: str, since: dt.datetime) -> Sealer: ...

    async def open(self, sealed: SealedValue) -> str: ...

    async def destroy(self, uscc: str) -> int: ...


class Registry(Protocol):
    async def lookup(self, uscc: str, within_seconds: float | None = None) -> RegistryRecord | None:
        """The registry's record, None when it has none; RegistryUnavailable when it cannot say.
        within_seconds: how long the caller can wait for it, when that is shorter than the
        source's own budget (the source then answers unavailable in time, not late)."""
        ...


class RegistryReadAhead(Protocol):
    async def read_ahead(self, usccs: Sequence[str]) -> None:
        """These enterprises are about to be asked about: prepare what can be prepared for
        all of them at once (a hint; never an error)."""
        ...


class DataProvider(Protocol):
    async def verify(
        self, submission: LicenceSubmission, within_seconds: float | None = None
    ) -> ProviderRecord | None:
        """What the provider holds and judges about the submission, None when it does not
        know the enterprise; RegistryUnavailable when it cannot say. within_seconds: as
        for Registry.lookup."""
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

    async def newest_per_caller_of(
        self, usccs: Sequence[str]
    ) -> Mapping[str, Sequence[tuple[Verification, RecheckState]]]:
        """newest_per_caller of many enterprises in one query, each with its schedule."""
        ...

    async def applied_of(
        self, keys: Sequence[tuple[str, str]]
    ) -> Mapping[tuple[str, str], Mapping[str, Any]]:
        """applied() of many (uscc, key) pairs in one query: those applied before."""
        ...

    async def checked(self, verification_ids: Sequence[str], now: dt.datetime) -> None:
        """The registry's answer decided these verifications now (confirmed or changed)."""
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


class RecheckResult(Protocol):
    """What re-checking one enterprise came to (service/app/rechecks.py: RecheckOutcome)."""

    @property
    def uscc(self) -> str: ...

    @property
    def outcome_before(self) -> Outcome | None: ...

    @property
    def outcome_after(self) -> Outcome | None: ...

    @property
    def reasons_after(self) -> tuple[ReasonCode, ...]: ...

    @property
    def level_class_before(self) -> str | None: ...

    @property
    def level_class_after(self) -> str | None: ...

    @property
    def applied(self) -> bool: ...

    @property
    def verifications_checked(self) -> int: ...


@dataclass(frozen=True)
class ConfirmedDecision:
    """A verification's decision as it was read, which a re-check confirmed."""

    verification_id: str
    outcome: str
    reason_codes: tuple[str, ...]


@dataclass(frozen=True)
class Confirmation:
    """A re-check that decided every verification of the enterprise as it stands: what is
    written is the key with its result, the check time, and the batch item, for many at
    once (BatchStore.complete_confirmed)."""

    result: RecheckResult
    uscc: str
    key: str
    trigger: str
    document: Mapping[str, Any]
    """The result as the key records it (RecheckOutcome.to_document)."""
    decisions: tuple[ConfirmedDecision, ...]


class EnterpriseRechecks(Protocol):
    async def recheck_enterprise(
        self, uscc: str, *, trigger: str, key: str, require_answer: bool = False
    ) -> RecheckResult:
        """Decide the enterprise's verifications again; idempotent by key (a repeat returns
        applied=False and the outcome recorded the first time). require_answer:
        RegistryUnanswered, with nothing recorded, when the registry cannot say."""
        ...

    async def prepare(self, keys: Sequence[tuple[str, str]]) -> Sequence[Any]:
        """What re-checking each (uscc, key) needs from the database, read for all at once."""
        ...

    async def recheck_prepared(
        self, prepared: Any, *, trigger: str
    ) -> RecheckResult | Confirmation:
        """recheck_enterprise on what prepare() read, with require_answer; a Confirmation
        when nothing but the check time would change, for the caller to write in bulk."""
        ...


class RegistryChangeFeed(Protocol):
    def changed_since(self, since: dt.datetime) -> AsyncIterator[str]:
        """USCCs whose registry records changed since the time, oldest change first, each
        once; ChangeFeedUnavailable when the feed cannot be read to its end."""
        ...


class BatchSelections(Protocol):
    """The queries behind each batch selection (see service/domain/batches.py)."""

    async def verified_enterprises(self) -> set[str]:
        """Every enterprise with at least one verification."""
        ...

    async def licences_ending(self, first: dt.date, last: dt.date) -> set[str]: ...

    async def registry_written_since(self, since: dt.datetime) -> set[str]: ...

    async def newest_verification_before(self, cutoff: dt.datetime) -> set[str]: ...

    async def judicial_recorded_since(self, since: dt.datetime) -> set[str]: ...


class BatchStore(Protocol):
    async def create(self, batch: Batch, usccs: Sequence[str]) -> None:
        """The batch and all its items, in one transaction."""
        ...

    async def get(self, batch_id: str) -> Batch | None: ...

    async def list_recent(self, limit: int) -> Sequence[Batch]: ...

    async def set_state(
        self, batch_id: str, allowed: Sequence[BatchState], state: BatchState, now: dt.datetime
    ) -> bool:
        """Moves a batch in one of the allowed states to state; False if it was in none.
        Cancelling also cancels its queued items."""
        ...

    async def claim(
        self,
        holder: str,
        now: dt.datetime,
        lease_until: dt.datetime,
        limit: int,
        *,
        max_attempts: int = ...,
    ) -> Sequence[ClaimedItem]:
        """Items of running batches that are queued, or whose lease lapsed with attempts
        left, leased to holder."""
        ...

    async def sweep_lapsed(self, now: dt.datetime, *, max_attempts: int = ...) -> int:
        """Lapsed leases nobody may take again become cancelled (cancelled batches) or
        failed (no attempts left)."""
        ...

    async def renew(
        self, holder: str, item_ids: Sequence[int], lease_until: dt.datetime
    ) -> None: ...

    async def complete(
        self, item: ClaimedItem, holder: str, result: RecheckResult, now: dt.datetime
    ) -> bool:
        """Marks a leased item done with its result; False (nothing written) if the item is
        no longer leased to holder (its lease lapsed and someone else took it)."""
        ...

    async def release(self, holder: str, items: Sequence[ClaimedItem], now: dt.datetime) -> None:
        """Items claimed but not worked go back to the queue, their attempt not counted
        (cancelled instead, if their batch was cancelled meanwhile)."""
        ...

    async def complete_confirmed(
        self,
        holder: str,
        confirmed: Sequence[tuple[ClaimedItem, Confirmation]],
        now: dt.datetime,
    ) -> Sequence[ClaimedItem]:
        """In ONE transaction, for every item whose verifications still hold the decisions
        confirmed and whose key was not applied before: records the key, the check time,
        and the item done (if still leased to holder). Returns the other items, which the
        caller re-checks the full way."""
        ...

    async def fail(
        self, item: ClaimedItem, holder: str, error: str, now: dt.datetime, *, final: bool
    ) -> None:
        """final: the item failed for good; otherwise it is queued again (cancelled, if
        its batch was cancelled meanwhile)."""
        ...

    async def unanswered(
        self,
        item: ClaimedItem,
        holder: str,
        error: str,
        now: dt.datetime,
        *,
        next_attempt_time: dt.datetime | None,
    ) -> None:
        """The registry could not answer for the item: it waits until next_attempt_time
        (cancelled, if its batch was cancelled meanwhile), or with None is unavailable for
        good. Either way the try uses none of its attempts."""
        ...

    async def finish_drained(self, batch_ids: Sequence[str] | None, now: dt.datetime) -> list[str]:
        """Running batches among these (None: every one) with no open item left become
        finished, each exactly once however many callers race; the ids finished."""
        ...

    async def states(self, batch_ids: Sequence[str]) -> dict[str, BatchState]:
        """Each batch's state as it is now."""
        ...

    async def status(self, batch_id: str) -> BatchStatus | None: ...

    def results(self, batch_id: str) -> AsyncIterator[ItemResult]:
        """Every item whose re-check ended (done, failed, unavailable), in item order."""
        ...


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
