"""A PENDING verification deciding itself: the registry has not published the enterprise
yet, then publishes it, and the server's scheduled re-check (INTEGRITY_PENDING_RECHECK_*)
decides the verification again, with no call from the platform."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

from integrity.v1 import verification_pb2

from clients import IntegrityClient
from service.demo.screens import show_history, show_verification, submission
from service.demo.simulator import SimulatorControl

V = verification_pb2
# Registries publish days to weeks after a registration.
PUBLICATION_LAG = dt.timedelta(days=10)
POLL_INTERVAL = 0.2


class PendingNotResolved(RuntimeError):
    pass


def pending_resolves(
    client: IntegrityClient,
    simulator: SimulatorControl,
    row: Mapping[str, Any],
    *,
    deadline_seconds: float,
) -> verification_pb2.Verification:
    """Verify ``row`` before the registry publishes it, publish it, and wait (polling
    GetVerification until the deadline) for the re-check; returns the decided one."""
    simulator.publish_at(row, simulator.now() + PUBLICATION_LAG)
    pending = client.create_verification(submission(row))
    show_verification("PENDING: the registry has not published this enterprise yet", pending)
    published = simulator.now()
    simulator.publish_at(row, published)
    print(f"\n   the registry publishes it (simulator clock {published:%Y-%m-%d %H:%M:%S} UTC);")
    print("   waiting for the server's scheduled re-check ...")
    decided = _wait_until_decided(client, pending.name, deadline_seconds)
    show_verification("...decided by the re-check, without a new call", decided)
    show_history(decided)
    return decided


def _wait_until_decided(
    client: IntegrityClient, name: str, deadline_seconds: float
) -> verification_pb2.Verification:
    deadline = time.monotonic() + deadline_seconds
    while True:
        current = client.get_verification(name)
        if current.outcome != V.VERIFICATION_OUTCOME_PENDING:
            return current
        if time.monotonic() > deadline:
            raise PendingNotResolved(f"{name} still PENDING after {deadline_seconds:.0f} s")
        time.sleep(POLL_INTERVAL)
