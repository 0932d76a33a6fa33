"""An enterprise's integrity levels over time, for its own merchant and ops."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from service.app.merchant_access import page_size_of, require_own_merchant_or_ops
from service.app.resource_names import parse_enterprise_name
from service.domain.callers import Caller, Viewer
from service.domain.scorecard import IntegrityLevel

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class LevelHistory(Protocol):
    async def history(self, uscc: str, limit: int | None = None) -> Sequence[IntegrityLevel]: ...


class LevelHistoryQueries:
    def __init__(self, levels: LevelHistory) -> None:
        self._levels = levels

    async def list(
        self, caller: Caller, viewer: Viewer | None, parent: str, page_size: int
    ) -> Sequence[IntegrityLevel]:
        """The newest levels, newest first."""
        uscc = parse_enterprise_name(parent)
        require_own_merchant_or_ops(caller, viewer, uscc, "integrity levels")
        size = page_size_of(page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        return await self._levels.history(uscc, size)
