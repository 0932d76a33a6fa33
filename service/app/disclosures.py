"""The merchant's view of its disclosure ledger, and the ops check of the chain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from service.app.ledger_log import DisclosureLog
from service.app.merchant_access import page_size_of, require_own_merchant_or_ops
from service.app.page_tokens import PageTokens
from service.app.ports import LedgerTampered
from service.app.resource_names import parse_enterprise_name
from service.domain.callers import Caller, Viewer
from service.domain.checkpoint import PublishedCheckpoint
from service.domain.disclosure import ChainCheck, ChainedEntry

log = structlog.get_logger("integrity.ledger")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class LedgerReader(Protocol):
    async def list_for_subject(
        self, uscc: str, limit: int, before_sequence: int | None
    ) -> Sequence[ChainedEntry]: ...

    async def verify(self) -> ChainCheck: ...


@dataclass(frozen=True)
class DisclosurePage:
    uscc: str
    entries: Sequence[ChainedEntry]
    next_page_token: str
    checkpoint: PublishedCheckpoint | None = None
    """What the proofs are against; None when the service signs no checkpoints."""
    proofs: Mapping[int, Sequence[bytes]] = field(default_factory=dict)
    """Each entry's audit path in the checkpoint, by sequence; none for entries newer."""


class DisclosureQueries:
    def __init__(
        self, ledger: LedgerReader, page_tokens: PageTokens, log: DisclosureLog | None = None
    ) -> None:
        self._ledger = ledger
        self._page_tokens = page_tokens
        self._log = log

    async def list(
        self, caller: Caller, viewer: Viewer | None, parent: str, page_size: int, page_token: str
    ) -> DisclosurePage:
        uscc = parse_enterprise_name(parent)
        require_own_merchant_or_ops(caller, viewer, uscc, "disclosures")
        size = page_size_of(page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        # Ops and the merchant see the same entries, so the listing is the enterprise's.
        listing = f"disclosures|{parent}"
        before = self._page_tokens.read_sequence(page_token, listing)
        rows = await self._ledger.list_for_subject(uscc, size + 1, before)
        page = list(rows[:size])
        token = (
            self._page_tokens.issue_sequence(listing, page[-1].sequence) if len(rows) > size else ""
        )
        checkpoint, proofs = await self._proofs(page)
        return DisclosurePage(uscc, page, token, checkpoint, proofs)

    async def _proofs(
        self, page: Sequence[ChainedEntry]
    ) -> tuple[PublishedCheckpoint | None, Mapping[int, Sequence[bytes]]]:
        """A checkpoint covering the page, published now if the last one does not (a
        merchant reading its disclosures should not wait for the next interval to check
        them), and each entry's proof in it."""
        if self._log is None or not self._log.signing:
            return None, {}
        checkpoint = await self._log.latest()
        newest = max((e.sequence for e in page), default=0)
        if checkpoint is None or checkpoint.checkpoint.size < newest:
            try:
                checkpoint = await self._log.publish()
            except LedgerTampered as problem:
                # Listed still, with proofs where the last checkpoint has them: the
                # entries that no longer match show as such to whoever checks them.
                log.error("ledger_checkpoint_refused", problem=str(problem))
        if checkpoint is None:
            return None, {}
        sequences = [e.sequence for e in page]
        return checkpoint, await self._log.inclusion_proofs(sequences, checkpoint.checkpoint.size)

    async def verify(self) -> ChainCheck:
        return await self._ledger.verify()
