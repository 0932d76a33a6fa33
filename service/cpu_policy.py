"""The server process's Linux scheduling policy: the system's normal one unless told otherwise.

grpc.aio serves on several threads: the event loop runs every handler and most of grpc's
own work, while grpc's event-engine and completion-queue threads wake for each socket
event and each finished operation, do a few microseconds of work and sleep again. Under
the normal policy every such wakeup preempts the event loop when they share a core:
about five preemptions per call were measured on a pinned server, each leaving the loop
to resume with cold caches. SCHED_BATCH removes wakeup preemption: a woken thread waits
for the running one to sleep or to use up its slice, so the loop works through many calls
at a stretch and the helpers catch up in bulk. Throughput on one core rose by 15-25% for
a bare grpc.aio server and by 12-45% for this one (docs/benchmarks.md).

Why it is not the default: the process then no longer preempts other processes at wakeup
either, so on a core shared with other busy programs a call can wait up to a scheduler
slice (a few milliseconds) longer. That trade is the operator's to make, for cores given
to the server alone: INTEGRITY_CPU_POLICY=batch.

Threads inherit their creator's policy, so this is set once, first thing, before grpc,
the event loop or any driver starts a thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import structlog

CPU_POLICIES = ("normal", "batch")

log = structlog.get_logger("integrity.cpu_policy")


def apply_cpu_policy(
    policy: str,
    set_scheduler: Callable[[int, int, os.sched_param], None] | None = None,
) -> None:
    """Set the calling thread's policy (and so that of every thread it starts).

    Where the platform has no SCHED_BATCH (anything but Linux) the default stays in place;
    where it refuses the call (a seccomp profile, a container runtime) a warning is logged
    and the process carries on under whatever policy it was started with."""
    if policy not in CPU_POLICIES:
        raise ValueError(f"cpu policy must be one of {', '.join(CPU_POLICIES)}")
    batch = getattr(os, "SCHED_BATCH", None)
    if batch is None:
        return
    wanted = batch if policy == "batch" else os.SCHED_OTHER
    # Pid 0 is the calling thread. Moving between SCHED_OTHER and SCHED_BATCH needs no
    # privilege, and the nice value is kept.
    try:
        (set_scheduler or os.sched_setscheduler)(0, wanted, os.sched_param(0))
    except OSError as error:  # PermissionError included
        log.warning("cpu_policy_not_applied", policy=policy, error=str(error))
