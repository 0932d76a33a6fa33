"""Where a process's claims of queued batch items resume, per batch.

Items are claimed in id order, and an item once claimed leaves the queue for good but for
a few ways back (put back unworked, a claim that rolled back). A claim that looked for
queued items from the start of the batch would pass, in whichever index it reads, every
item already taken: on PostgreSQL, the entries of items taken since the last vacuum are
still in the index, and with statistics older than the batch's progress the planner reads
the primary key past every item done. At 100,000 items that was 40 ms a claim, growing
with the batch. So claims resume above the highest id this process claimed, and look
below it only when that finds too few: right away for items this process put back itself,
and otherwise at most once every `rescan_seconds` (items another process put back, or
skipped while another claim held them). Nothing queued is missed: a batch does not finish
while an item is queued, and the look below comes round once the ids above run out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

RESCAN_SECONDS = 1.0


class QueueCursors:
    def __init__(
        self,
        rescan_seconds: float = RESCAN_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rescan_seconds = rescan_seconds
        self._monotonic = monotonic
        self._after: dict[str, int] = {}
        self._looked_below: dict[str, float] = {}
        """When a look below the cursor last found nothing."""

    def after(self, batch_id: str) -> int:
        """Claims of the batch's queued items look above this id first."""
        return self._after.get(batch_id, 0)

    def claimed(self, batch_id: str, ids: Iterable[int]) -> None:
        self._after[batch_id] = max(self.after(batch_id), *ids, 0)

    def put_back(self, batch_id: str, ids: Iterable[int]) -> None:
        """Items queued again by this process: the next claim finds them."""
        lowest = min(ids, default=None)
        if lowest is not None and lowest <= self.after(batch_id):
            self._after[batch_id] = lowest - 1
            self._looked_below.pop(batch_id, None)

    def may_look_below(self, batch_id: str) -> bool:
        if self.after(batch_id) == 0:
            return False
        found_nothing_at = self._looked_below.get(batch_id)
        return (
            found_nothing_at is None or self._monotonic() - found_nothing_at >= self._rescan_seconds
        )

    def looked_below(self, batch_id: str, found: int) -> None:
        if found:
            self._looked_below.pop(batch_id, None)
        else:
            self._looked_below[batch_id] = self._monotonic()
