"""A re-verification batch: a few hundred enterprises verified through the client, the
registry then revokes some and renews the expired licences of others, and ops re-verify
them all with integrity-ops batch (start, follow with its progress bar, report)."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integrity.v1 import verification_pb2

from clients import AsyncIntegrityClient
from service.demo.processes import running
from service.demo.screens import outcome_name, submission
from service.demo.simulator import SimulatorControl

V = verification_pb2
BIN = Path(sys.executable).parent
# Calls in flight at once while the platform verifies its merchants: modest, like a
# platform's onboarding job.
CONCURRENCY = 8
# One in this many of the verified enterprises is revoked by the registry.
REVOKED_ONE_IN = 25

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Verified:
    row: Row
    result: verification_pb2.Verification

    @property
    def only_expired(self) -> bool:
        return [reason.code for reason in self.result.reasons] == [
            V.VERIFICATION_REASON_CODE_LICENCE_EXPIRED
        ]


def verify_all(target: str, token: str, rows: Sequence[Row]) -> list[Verified]:
    """Every row verified through the async client, CONCURRENCY calls at a time."""
    started = time.monotonic()
    verified = asyncio.run(_verify_all(target, token, rows))
    outcomes = Counter(outcome_name(v.result.outcome) for v in verified)
    print(
        f"\n== A BATCH: the platform verified {len(verified)} merchants "
        f"in {time.monotonic() - started:.1f} s ({_counts(outcomes)})"
    )
    return verified


async def _verify_all(target: str, token: str, rows: Sequence[Row]) -> list[Verified]:
    slots = asyncio.Semaphore(CONCURRENCY)
    async with AsyncIntegrityClient(target, token=token) as client:

        async def verify(row: Row) -> Verified:
            async with slots:
                return Verified(row, await client.create_verification(submission(row)))

        return list(await asyncio.gather(*(verify(row) for row in rows)))


def registry_changes(simulator: SimulatorControl, verified: Sequence[Verified]) -> None:
    """The registry revokes some verified enterprises and renews every licence that had
    run out, effective now on the simulator clock."""
    in_business = [v for v in verified if v.result.outcome == V.VERIFICATION_OUTCOME_VERIFIED]
    revoked = in_business[::REVOKED_ONE_IN]
    expired = [v for v in verified if v.only_expired]
    for item in revoked:
        simulator.schedule_change(item.row["uscc"], {"status": "revoked"})
    renewed_until = (simulator.now() + dt.timedelta(days=20 * 365)).date().isoformat()
    for item in expired:
        term = {"start": item.row["term_start"], "end": renewed_until}
        simulator.schedule_change(item.row["uscc"], {"term": term})
    print(
        f"   then the registry revoked {len(revoked)} of them and renewed the expired "
        f"licences of {len(expired)}"
    )


def reverify(demo: Path, codes: Sequence[str], env: Mapping[str, str]) -> str:
    """integrity-ops batch start and follow, an integrity-worker working the items beside
    it (on SQLite, one worker), then batch report; returns the batch's id."""
    codes_file = demo / "batch-codes.txt"
    codes_file.write_text("".join(f"{code}\n" for code in codes), encoding="utf-8")
    worker_log = demo / "worker.log"
    # The worker logs each item at info, to its log file.
    worker = [str(BIN / "integrity-worker"), "--log-level", "info"]
    with running(worker, env=env, log=worker_log, ready=_worker_started):
        print(f"\n$ integrity-worker &    (log: {worker_log})")
        batch_id = _ops(["batch", "start", "--file", str(codes_file)], env, capture=True)
        print(batch_id)
        _ops(["batch", "follow", batch_id], env)
    _ops(["batch", "report", batch_id, "--csv", str(demo / "batch-report.csv")], env)
    return batch_id


def _worker_started(event: Mapping[str, Any]) -> bool:
    return event.get("event") == "worker_started"


def _ops(args: Sequence[str], env: Mapping[str, str], *, capture: bool = False) -> str:
    """Run integrity-ops as ops would, its output shown (or, with capture, returned)."""
    print(f"\n$ integrity-ops {' '.join(args)}", flush=True)
    done = subprocess.run(  # noqa: S603  (the service's own programs, arguments built here)
        [str(BIN / "integrity-ops"), *args],
        check=True,
        env=dict(env),
        # Through sys.stdout and sys.stderr, wherever they lead (tests send them to a file).
        stdout=subprocess.PIPE if capture else sys.stdout,
        stderr=sys.stderr,
        text=True,
    )
    return done.stdout.strip() if capture else ""


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
