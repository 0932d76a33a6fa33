"""The garbage collector in the service's long-running processes.

Once started, a process holds about a hundred thousand objects that live as long as it
does: modules, protobuf descriptors, SQLAlchemy's tables and compiled statements, the
settings. CPython's full collection walks every one of them each time it runs, and a busy
process runs one whenever enough of its young objects survive: in the batch worker about
twice in three seconds, 80 ms each (5% of its time, and each an 80 ms stall of the event
loop, longer than a registry answer takes). Freezing them after start-up moves them where
no collection looks (gc.freeze); what the process creates afterwards is collected as
before. Collected first, so that start-up's own garbage is not kept for ever.

The youngest generation is then collected every YOUNG_THRESHOLD allocations rather than
CPython's 700. A batch item or a request allocates a few thousand objects, nearly all
dead by its end: collected every 700, many are still alive, survive into the older
generations and make their collections (full ones included, 80-180 ms each) come often.
At 100,000 items the worker spent 12% of its CPU in the collector with the default.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def settle_after_start() -> None:
    """Call once the process has started and before its steady work."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
