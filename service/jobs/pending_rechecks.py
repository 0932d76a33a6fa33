"""Asking the registry again about PENDING verifications when their next check time comes.

A PENDING verification (registry unavailable, record not published yet, record moved)
carries when to ask again, at growing intervals (service/domain/recheck_schedule.py).
This loop claims the verifications whose time has come and decides each again through
the re-check use case: a changed outcome is written with its history entry, level,
outbox event and change log in one transaction. Every replica may run it: each due
verification is claimed by one of them.
"""

from __future__ import annotations

from service.app.ports import Clock
from service.app.rechecks import VerificationRechecks
from service.jobs.due_work import CLAIM_BATCH, DueWorkScheduler


class PendingRecheckScheduler(DueWorkScheduler):
    def __init__(
        self,
        rechecks: VerificationRechecks,
        clock: Clock,
        *,
        interval: float,
        batch: int = CLAIM_BATCH,
    ) -> None:
        super().__init__(
            rechecks,
            clock,
            interval=interval,
            batch=batch,
            name="pending-rechecks",
            done_event="pending_verifications_rechecked",
            failed_event="pending_recheck_pass_failed",
        )
