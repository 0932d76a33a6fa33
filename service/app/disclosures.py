"""The merchant's view of its disclosure ledger, and the ops check of the chain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from service.app.page_tokens import PageTokens
from service.app.resource_names import parse_enterprise_name
from service.domain.callers import Caller, Scope, Viewer, ViewerKind
from service.domain.disclosure import ChainCheck, ChainedEntry
from service.domain.errors import FieldViolation, InvalidArgument, PermissionDenied

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


class DisclosureQueries:
    def __init__(self, ledger: LedgerReader, page_tokens: PageTokens) -> None:
        self._ledger = ledger
        self._page_tokens = page_tokens

    async def list(
        self, caller: Caller, viewer: Viewer | None, parent: str, page_size: int, page_token: str
    ) -> DisclosurePage:
        uscc = parse_enterprise_name(parent)
        own_merchant = (
            viewer is not None
            and viewer.kind is ViewerKind.MERCHANT
            and viewer.merchant_uscc == uscc
        )
        if not own_merchant and not (caller.may(Scope.OPS) and viewer is None):
            raise PermissionDenied(
                "only the enterprise's own merchant and ops read its disclosures",
                reason="NOT_THE_MERCHANT",
            )
        if page_size < 0:
            raise InvalidArgument(
                [FieldViolation("page_size", "must not be negative", "PAGE_SIZE_NEGATIVE")]
            )
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        # Ops and the merchant see the same entries, so the listing is the enterprise's.
        listing = f"disclosures|{parent}"
        before = self._page_tokens.read_sequence(page_token, listing)
        rows = await self._ledger.list_for_subject(uscc, size + 1, before)
        page = list(rows[:size])
        token = (
            self._page_tokens.issue_sequence(listing, page[-1].sequence) if len(rows) > size else ""
        )
        return DisclosurePage(uscc, page, token)

    async def verify(self) -> ChainCheck:
        return await self._ledger.verify()
