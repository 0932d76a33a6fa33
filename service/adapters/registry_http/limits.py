"""A source's contracted concurrency and request rate, never exceeded.

Every HTTP request to a source (each retry too) first takes a concurrency slot, then a
start time from the rate: the rate is kept as evenly spaced start times (one every
1/rate seconds and a margin, no bursts), each request reserving the next free one. A request that
cannot have both before its deadline is not sent: the source counts as unavailable.

A request abandoned mid-flight (its deadline passed, or it was cancelled) may still be
running at the source, so its slot is held on for a while before it is given back.

This module is the in-process limiter, for one process (SQLite, the embedded default);
pg_limits.py shares the same budget between processes through PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from service.adapters.registry_http.deadline import Deadline
from service.app.ports import RegistryUnavailable


@dataclass(frozen=True)
class SourceLimits:
    max_concurrency: int
    """Requests in flight at once, over every process."""
    max_rate: float
    """Requests started per second, over every process."""
    abandon_linger_seconds: float = 2.0
    """How long an abandoned request keeps its slot: the source may still be serving it."""
    rate_margin: float = 0.1
    """Starts are spaced this much wider than the contract: a request may leave a little
    later than its reserved start (scheduling, the network), and two processes' delays
    differ, so exact spacing would sometimes squeeze two starts too close."""

    @property
    def interval(self) -> float:
        return (1.0 + self.rate_margin) / self.max_rate


class BudgetExhausted(RegistryUnavailable):
    """No slot or start time within the deadline."""


class SourceLimiter(Protocol):
    def slot(self, deadline: Deadline) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold a slot and wait for a start time; BudgetExhausted when not in time."""
        ...

    async def aclose(self) -> None:
        """Give back what the limiter holds (connections)."""
        ...


class LocalLimiter:
    def __init__(
        self,
        limits: SourceLimits,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limits = limits
        self._monotonic = monotonic
        self._sleep = sleep
        self._slots = asyncio.Semaphore(limits.max_concurrency)
        self._next_start = 0.0
        self._lingering: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def slot(self, deadline: Deadline) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._slots.acquire(), deadline.remaining())
        except TimeoutError:
            raise BudgetExhausted("no_concurrency_slot") from None
        try:
            await self._start_time(deadline)
        except BaseException:
            self._slots.release()
            raise
        try:
            yield
        except BaseException:
            self._release_later()
            raise
        self._slots.release()

    async def _start_time(self, deadline: Deadline) -> None:
        now = self._monotonic()
        start = max(now, self._next_start)
        if start - now > deadline.remaining():
            raise BudgetExhausted("no_rate_token")
        self._next_start = start + self._limits.interval
        if start > now:
            await self._sleep(start - now)

    async def aclose(self) -> None:
        return None

    def _release_later(self) -> None:
        async def release() -> None:
            await asyncio.sleep(self._limits.abandon_linger_seconds)
            self._slots.release()

        task = asyncio.get_running_loop().create_task(release())
        self._lingering.add(task)
        task.add_done_callback(self._lingering.discard)
