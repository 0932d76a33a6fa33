"""The garbage collector in the service's long-running processes.

Once started, a process holds about a hundred thousand objects that live as long as it
does: modules, protobuf descriptors, SQLAlchemy's tables and compiled statements, the
settings. CPython's full collection walks every one of them each time it runs, and a busy
process runs one whenever enough of its young objects survive: in the batch worker about
twice in three seconds, 80 ms each (5% of its time, and each an 80 ms stall of the event
loop, longer than a registry answer takes). Freezing them after start-up moves them where
no collection looks (gc.freeze); what the process creates afterwards is collected as
before. Collected first, so that start-up's own garbage is not kept for ever.
"""

from __future__ import annotations

import gc


def settle_after_start() -> None:
    """Call once the process has started and before its steady work."""
    gc.collect()
    gc.freeze()
