"""Working out integrity levels: on change, in full, in shadow, and reading them back."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from service.app.ports import Clock
from service.domain.archive import Fact, assemble_archive
from service.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from service.domain.level_timing import with_revisit_time
from service.domain.scorecard import IntegrityLevel, VerificationSummary, compute_level
from service.domain.scorecard_document import Scorecard, parse_scorecard

log = structlog.get_logger("integrity.levels")

ACTIVE = "active"
SHADOW = "shadow"
BATCH = 500
# How long a claimed revisit is kept from other claimers: a claimer that dies leaves its
# enterprises due again after this, and one that lives has recomputed them well before.
REVISIT_LEASE = dt.timedelta(minutes=5)


class LevelStore(Protocol):
    async def load_inputs(
        self, usccs: Sequence[str]
    ) -> dict[str, tuple[list[Fact], VerificationSummary | None]]: ...

    async def latest_digests(
        self, usccs: Sequence[str], role: str
    ) -> dict[str, tuple[str, str]]: ...

    async def save(
        self, levels: Sequence[tuple[IntegrityLevel, str]], now: dt.datetime
    ) -> None: ...

    async def current(
        self, uscc: str, role: str = ACTIVE, as_of: dt.datetime | None = None
    ) -> IntegrityLevel | None: ...

    async def current_classes(
        self, usccs: Sequence[str], role: str = ACTIVE
    ) -> Mapping[str, tuple[str, dt.datetime | None]]:
        """The class and revisit time of each enterprise's current level, in one query."""
        ...

    async def claim_due(
        self, now: dt.datetime, lease_until: dt.datetime, limit: int
    ) -> list[str]: ...

    async def release_claims(self, usccs: Sequence[str], lease_until: dt.datetime) -> None: ...

    async def next_revisit_time(self) -> dt.datetime | None: ...

    async def history(
        self, uscc: str, role: str = ACTIVE, limit: int | None = None
    ) -> list[IntegrityLevel]: ...

    def enterprises(self, batch: int) -> Any: ...

    async def distribution(self, scorecard_version: str) -> dict[str, int]: ...


class ScorecardStore(Protocol):
    async def all(self) -> list[tuple[Mapping[str, Any], str]]: ...

    async def active_version(self) -> str | None: ...

    async def put(
        self, version: str, document: Mapping[str, Any], state: str, now: dt.datetime
    ) -> None: ...


def canonical_inputs(facts: Sequence[Fact], verification: VerificationSummary | None) -> Any:
    """What a level is computed from, in a stable order: the digest covers exactly this."""
    return {
        "facts": sorted([f.kind.value, f.key, f.platform, f.payload] for f in facts),
        "verification": None
        if verification is None
        else [
            verification.verification_id,
            verification.verified,
            verification.time.isoformat(),
            verification.integrity_level_authorised,
        ],
    }


@dataclass(frozen=True)
class Comparison:
    active_version: str
    shadow_version: str | None
    active: Mapping[str, int]
    shadow: Mapping[str, int]


class LevelService:
    def __init__(
        self,
        store: LevelStore,
        cards: ScorecardStore,
        clock: Clock,
        on_saved: Callable[[Sequence[str]], object] = lambda _: None,
    ) -> None:
        self._on_saved = on_saved
        self._store = store
        self._cards = cards
        self._clock = clock
        self._parsed: dict[str, Scorecard] = {}
        self._refused: dict[str, str] = {}

    async def scorecards(self) -> tuple[Scorecard, Scorecard | None]:
        active: Scorecard | None = None
        shadow: Scorecard | None = None
        for document, state in await self._cards.all():
            if state == ACTIVE:
                active = self._stored(document, state)
            elif state == SHADOW:
                # Logged once; a shadow that cannot be read must not stop the active levels.
                with contextlib.suppress(FailedPrecondition):
                    shadow = self._stored(document, state)
        if active is None:
            raise FailedPrecondition("no active scorecard", reason="NO_ACTIVE_SCORECARD")
        return active, shadow

    def _stored(self, document: Mapping[str, Any], state: str) -> Scorecard:
        """A stored version, read again with today's reader (once per version: versions
        never change). One stored before the reader checked every key may fail it: that is
        a FailedPrecondition naming the version, logged once, never a crash mid-score.
        """
        version = str(document.get("version"))
        if version not in self._parsed and version not in self._refused:
            try:
                self._parsed[version] = parse_scorecard(document)
            except InvalidArgument as invalid:
                problems = [f"{v.field}: {v.description}" for v in invalid.violations]
                log.error("scorecard_invalid", version=version, state=state, problems=problems)
                self._refused[version] = (
                    f"stored scorecard {version} is not valid ({'; '.join(problems)}); "
                    "load a corrected scorecard under a new version"
                )
        if version in self._refused:
            raise FailedPrecondition(self._refused[version], reason="SCORECARD_INVALID")
        return self._parsed[version]

    async def class_names(self) -> Sequence[str]:
        # Asked twice a second by the change follower: the active version alone is enough
        # once its scorecard has been parsed.
        version = await self._cards.active_version()
        known = self._parsed.get(version) if version is not None else None
        if known is not None:
            return known.class_names
        active, _shadow = await self.scorecards()
        return active.class_names

    async def load_scorecard(self, document: Mapping[str, Any], *, shadow: bool) -> Scorecard:
        """Check a scorecard document and load it as the active or shadow version."""
        card = parse_scorecard(document)
        await self._cards.put(
            card.version, document, SHADOW if shadow else ACTIVE, self._clock.now()
        )
        return card

    async def activate(self, version: str) -> None:
        for document, state in await self._cards.all():
            if str(document.get("version")) == version:
                self._stored(document, state)  # a version that cannot score stays inactive
                await self._cards.put(version, document, ACTIVE, self._clock.now())
                return
        raise NotFound(f"no scorecard version {version}")

    def compute(
        self,
        card: Scorecard,
        uscc: str,
        facts: Sequence[Fact],
        verification: VerificationSummary | None,
        now: dt.datetime,
    ) -> IntegrityLevel:
        archive = assemble_archive(uscc, facts, now)
        inputs = canonical_inputs(facts, verification)
        level = compute_level(card, uscc, archive, verification, inputs, now)
        return with_revisit_time(level, card, archive, verification)

    async def archive_changed(self, usccs: Iterable[str]) -> int:
        """After an archive change: recompute the levels, and drop cached standings even
        if the recompute fails (the facts are committed; the cache must not outlive them).
        A failed recompute is left to the caller's retry or `integrity-ops level recompute`.
        """
        changed = sorted(set(usccs))
        try:
            return await self.recompute(changed)
        except Exception as error:
            log.error(
                "level_recompute_failed",
                enterprises=len(changed),
                first=changed[:10],
                error_type=type(error).__name__,
            )
            raise
        finally:
            self._on_saved(changed)

    async def recompute(self, usccs: Iterable[str]) -> int:
        """Recompute the levels of these enterprises; save those whose inputs changed."""
        ordered = sorted(set(usccs))
        if not ordered:
            return 0
        active, shadow = await self.scorecards()
        saved = 0
        for start in range(0, len(ordered), BATCH):
            saved += len(
                await self._recompute_batch(ordered[start : start + BATCH], active, shadow)
            )
        return saved

    async def revisit_due(self, limit: int) -> int:
        """Recompute up to `limit` enterprises whose level's revisit time has come, through
        the same path as a fact change; the number claimed. Safe to run in every replica:
        each due level is claimed by one."""
        now = self._clock.now()
        lease_until = now + REVISIT_LEASE
        usccs = await self._store.claim_due(now, lease_until, limit)
        if usccs:
            active, shadow = await self.scorecards()
            # Saved even if the inputs digest is unchanged: the claim must end in a level
            # with a fresh revisit time, or the enterprise would fall due again and again.
            await self._recompute_batch(usccs, active, shadow, always_save=frozenset(usccs))
            # A claimed level nothing replaced belongs to a scorecard no longer in use.
            await self._store.release_claims(usccs, lease_until)
        return len(usccs)

    async def recompute_joining(self, store: LevelStore, usccs: Sequence[str]) -> int:
        """Recompute these levels through a store that joins the caller's transaction, so
        they commit or roll back with the change that moved them. Caches are not told
        here: the caller calls committed() once its transaction has."""
        ordered = sorted(set(usccs))
        if not ordered:
            return 0
        active, shadow = await self.scorecards()
        saved = await self._recompute_batch(ordered, active, shadow, store=store, notify=False)
        return len(saved)

    def committed(self, usccs: Sequence[str]) -> None:
        """Levels saved in a caller's transaction (see recompute_joining) are committed:
        cached standings of these enterprises are dropped."""
        self._on_saved(sorted(set(usccs)))

    async def next_revisit_time(self) -> dt.datetime | None:
        """The earliest revisit time of any level, claimed ones included."""
        return await self._store.next_revisit_time()

    async def _recompute_batch(
        self,
        usccs: Sequence[str],
        active: Scorecard,
        shadow: Scorecard | None,
        always_save: frozenset[str] = frozenset(),
        store: LevelStore | None = None,
        notify: bool = True,
    ) -> list[str]:
        """The enterprises whose active level was saved."""
        store = store or self._store
        now = self._clock.now()
        inputs = await store.load_inputs(usccs)
        roles = [(active, ACTIVE)] + ([(shadow, SHADOW)] if shadow else [])
        to_save: list[tuple[IntegrityLevel, str]] = []
        for card, role in roles:
            previous = await store.latest_digests(usccs, role)
            for uscc in usccs:
                facts, verification = inputs[uscc]
                level = self.compute(card, uscc, facts, verification, now)
                unchanged = previous.get(uscc) == (level.scorecard_version, level.inputs_digest)
                if uscc in always_save or not unchanged:
                    to_save.append((level, role))
        await store.save(to_save, now)
        changed = [level.uscc for level, role in to_save if role == ACTIVE]
        if notify:
            self._on_saved(changed)
        return changed

    async def recompute_all(self, progress: Callable[[int], object] = lambda _: None) -> int:
        active, shadow = await self.scorecards()
        total = 0
        async for batch in self._store.enterprises(BATCH):
            await self._recompute_batch(batch, active, shadow)
            total += len(batch)
            progress(len(batch))
        log.info("levels_recomputed", enterprises=total, scorecard=active.version)
        return total

    def enterprises(self, batch: int) -> Any:
        """Every enterprise with an archive, in batches of USCCs."""
        return self._store.enterprises(batch)

    async def current(self, uscc: str, as_of: dt.datetime | None = None) -> IntegrityLevel | None:
        return await self._store.current(uscc, ACTIVE, as_of)

    async def history(self, uscc: str, limit: int | None = None) -> list[IntegrityLevel]:
        """Newest first; at most `limit` of them."""
        return await self._store.history(uscc, ACTIVE, limit)

    async def compare(self) -> Comparison:
        active, shadow = await self.scorecards()
        return Comparison(
            active.version,
            shadow.version if shadow else None,
            await self._store.distribution(active.version),
            await self._store.distribution(shadow.version) if shadow else {},
        )
