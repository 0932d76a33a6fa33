"""Suspending and restoring an enterprise: a service-state fact, then its level again."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from service.app.service_state import ServiceStates
from service.domain.archive import Fact, FactKind
from service.domain.errors import InvalidArgument
from tests.builders import new_uscc


class FakeFacts:
    """Records facts; a fact equal to the one held changes nothing, as the store's does."""

    def __init__(self) -> None:
        self.held: dict[tuple[str, FactKind, str], Fact] = {}
        self.sources: list[str] = []

    async def write(self, facts: Sequence[Fact], source: str) -> list[str]:
        self.sources.append(source)
        changed = []
        for fact in facts:
            key = (fact.uscc, fact.kind, fact.key)
            if self.held.get(key) != fact:
                self.held[key] = fact
                changed.append(fact.uscc)
        return changed


class Recomputes:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, usccs: Sequence[str]) -> None:
        self.calls.append(list(usccs))


async def test_suspend_and_restore_write_the_state_and_recompute_the_level() -> None:
    facts, recomputes = FakeFacts(), Recomputes()
    states = ServiceStates(facts, recomputes)
    uscc = new_uscc()

    await states.suspend(uscc, reason="impersonation")
    [fact] = facts.held.values()
    assert fact.kind is FactKind.SERVICE_STATE
    assert fact.payload == {"suspended": True, "reason": "impersonation"}
    await states.restore(uscc)
    [fact] = facts.held.values()
    assert fact.payload == {"suspended": False, "reason": ""}
    assert recomputes.calls == [[uscc], [uscc]]
    assert facts.sources == ["ops", "ops"]


async def test_an_unchanged_state_still_recomputes_the_level() -> None:
    facts, recomputes = FakeFacts(), Recomputes()
    states = ServiceStates(facts, recomputes)
    uscc = new_uscc()
    await states.suspend(uscc, reason="risk control")
    await states.suspend(uscc, reason="risk control")
    assert recomputes.calls == [[uscc], [uscc]]


async def test_a_malformed_uscc_is_refused_before_anything_is_written() -> None:
    facts, recomputes = FakeFacts(), Recomputes()
    with pytest.raises(InvalidArgument) as refused:
        await ServiceStates(facts, recomputes).suspend("91330106MA0000000X", reason="violation")
    assert [v.field for v in refused.value.violations] == ["uscc"]
    assert facts.held == {} and recomputes.calls == []
