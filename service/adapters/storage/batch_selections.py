"""The queries behind each re-verification batch selection.

The registry snapshot may live in a database of its own (INTEGRITY_REGISTRY_URL), so the
registry's queries run there and are intersected with the verified enterprises in memory:
a set of codes per batch, which stays small beside the items the batch writes anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from service.adapters.storage.engine import read_connection
from service.adapters.storage.tables import archive_facts, registry_records, verifications
from service.adapters.storage.verification_rows import term_from_json
from service.domain.archive import FactKind
from service.domain.licence import LicenceTerm

# Codes per IN (...) list: well within every backend's limit on bound parameters.
_IN_CHUNK = 500


@dataclass(frozen=True)
class _KnownTerm:
    """A licence term as a source knew it at its snapshot time."""

    snapshot_time: dt.datetime
    term: LicenceTerm

    def ends_within(self, first: dt.date, last: dt.date) -> bool:
        end = self.term.end
        return not self.term.open_ended and end is not None and first <= end <= last


def _newest(first: _KnownTerm | None, second: _KnownTerm | None) -> _KnownTerm:
    known = [term for term in (first, second) if term is not None]
    return max(known, key=lambda term: term.snapshot_time)


class SqlBatchSelections:
    def __init__(self, engine: AsyncEngine, registry_engine: AsyncEngine) -> None:
        self._engine = engine
        self._registry_engine = registry_engine

    async def _codes(self, engine: AsyncEngine, query: Select[Any]) -> set[str]:
        async with read_connection(engine) as connection:
            return set((await connection.execute(query)).scalars())

    async def verified_enterprises(self) -> set[str]:
        return await self._codes(self._engine, select(distinct(verifications.c.uscc)))

    async def licences_ending(self, first: dt.date, last: dt.date) -> set[str]:
        """Enterprises whose licence term, as last known, ends within the dates. Two places
        know a term: the imported snapshot, and the registry summary each verification keeps
        of the answer it was decided on (the only place where the service asks the
        government registry over HTTP). Per enterprise the newer of the two wins."""
        learned = await self._newest_learned_terms()
        in_snapshot = (
            select(registry_records.c.uscc)
            .where(registry_records.c.term_open_ended.is_(False))
            .where(registry_records.c.term_end.between(first, last))
        )
        candidates = await self._codes(self._registry_engine, in_snapshot)
        candidates |= {uscc for uscc, known in learned.items() if known.ends_within(first, last)}
        snapshot = await self._snapshot_terms(candidates)
        return {
            uscc
            for uscc in candidates
            if _newest(snapshot.get(uscc), learned.get(uscc)).ends_within(first, last)
        }

    async def _newest_learned_terms(self) -> dict[str, _KnownTerm]:
        """Per enterprise, the term in its verifications' newest registry summary."""
        query = select(verifications.c.uscc, verifications.c.registry_summary)
        newest: dict[str, _KnownTerm] = {}
        async with read_connection(self._engine) as connection:
            async for uscc, summary in await connection.stream(query):
                if not summary:
                    continue
                known = _KnownTerm(
                    dt.datetime.fromisoformat(summary["snapshot_time"]),
                    term_from_json(summary["term"]),
                )
                newest[uscc] = _newest(newest.get(uscc), known)
        return newest

    async def _snapshot_terms(self, usccs: set[str]) -> dict[str, _KnownTerm]:
        columns = registry_records.c
        terms: dict[str, _KnownTerm] = {}
        codes = sorted(usccs)
        async with read_connection(self._registry_engine) as connection:
            for start in range(0, len(codes), _IN_CHUNK):
                query = select(
                    columns.uscc,
                    columns.snapshot_time,
                    columns.term_start,
                    columns.term_end,
                    columns.term_open_ended,
                ).where(columns.uscc.in_(codes[start : start + _IN_CHUNK]))
                for uscc, time, term_start, term_end, open_ended in await connection.execute(query):
                    terms[uscc] = _KnownTerm(time, LicenceTerm(term_start, term_end, open_ended))
        return terms

    async def registry_written_since(self, since: dt.datetime) -> set[str]:
        # import_time moves only when a row is inserted or its content changes (an
        # unchanged re-import leaves it alone), so it is when our copy last changed.
        query = select(registry_records.c.uscc).where(registry_records.c.import_time >= since)
        return await self._codes(self._registry_engine, query)

    async def newest_verification_before(self, cutoff: dt.datetime) -> set[str]:
        query = (
            select(verifications.c.uscc)
            .group_by(verifications.c.uscc)
            .having(
                # Checked: created, or decided again by a re-check since.
                func.max(func.coalesce(verifications.c.check_time, verifications.c.create_time))
                < cutoff
            )
        )
        return await self._codes(self._engine, query)

    async def judicial_recorded_since(self, since: dt.datetime) -> set[str]:
        query = (
            select(distinct(archive_facts.c.uscc))
            .where(archive_facts.c.kind == FactKind.JUDICIAL.value)
            .where(archive_facts.c.recorded_time >= since)
        )
        return await self._codes(self._engine, query)
