"""Suspending and restoring the service for an enterprise, as the agreement allows ops to."""

from __future__ import annotations

from service.app.ports import FactWriter, OnChange
from service.domain.archive import service_state_fact
from service.domain.errors import InvalidArgument, InvalidIdentifier
from service.domain.identifiers.uscc import parse_uscc


class ServiceStates:
    """An enterprise's service state is a fact of its archive: eligibility checks of a
    suspended enterprise are denied (ENTERPRISE_SUSPENDED) until it is restored."""

    def __init__(self, writer: FactWriter, on_change: OnChange) -> None:
        self._writer = writer
        self._on_change = on_change

    async def suspend(self, uscc: str, *, reason: str) -> None:
        """reason: why, as the agreement lists (violation, impersonation, risk control...)."""
        await self._set(uscc, suspended=True, reason=reason)

    async def restore(self, uscc: str) -> None:
        await self._set(uscc, suspended=False, reason="")

    async def _set(self, uscc: str, *, suspended: bool, reason: str) -> None:
        try:
            parse_uscc(uscc)
        except InvalidIdentifier as problem:
            raise InvalidArgument([problem.at("uscc")]) from problem
        changed = await self._writer.write(
            [service_state_fact(uscc, suspended=suspended, reason=reason)], source="ops"
        )
        # Repeating an unchanged state still recomputes: it is how ops finish a suspension
        # whose level recompute failed the first time.
        await self._on_change(changed or [uscc])
