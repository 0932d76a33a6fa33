"""The demo: the service's main job on the embedded default, start to finish.

Generates a demo registry, imports it with integrity-ops, loads the demo marketplace's
store-opening policy, starts the registry simulator (the government registry and the
data provider over HTTP) with the demo's enterprises, and integrity-server on SQLite
against it. Through the Python client it verifies one enterprise (VERIFIED) and another
(REJECTED with its reasons); verifies one the registry has not published yet (PENDING),
has the registry publish it and waits for the server's scheduled re-check to decide it;
asks whether two of them may open a store (each answer with its integrity class, every
unmet condition and the policy version); then verifies a few hundred more, has the
registry revoke some and renew others' licences, and re-verifies them all in an
integrity-ops batch. Everything lands in var/demo/.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clients import IntegrityClient
from service.demo.batch import registry_changes, reverify, verify_all
from service.demo.gateway import running_gateway, show_gateway
from service.demo.pending import pending_resolves
from service.demo.processes import running
from service.demo.screens import show_decision, show_verification, submission
from service.demo.simulator import SimulatorCredentials, running_simulator

DEMO = Path("var/demo")
RECORDS = 2000
BATCH_SIZE = 300
# The longest the PENDING verification may take to be decided once published.
PENDING_DEADLINE_SECONDS = 60.0
BIN = Path(sys.executable).parent

# The demo marketplace's rule for opening a store, announced a week before it took effect.
STORE_OPENING = {
    "platform": "demo",
    "policy": "store_opening",
    "version": 1,
    "description": "who may open a store on the demo marketplace",
    "announce_time": "2025-01-01T00:00:00+08:00",
    "effective_time": "2025-01-08T00:00:00+08:00",
    "conditions": [
        {"kind": "identity_verified", "within_days": 365},
        {"kind": "business_status"},
        {"kind": "licence_valid_for_days", "days": 30},
        {
            "kind": "min_class",
            "class": "B",
            "on_unmet": "review",
            "supplementary_information": ["latest annual report"],
        },
        {"kind": "no_active_judicial", "kinds": ["dishonest_debtor", "serious_violation"]},
    ],
}

# The server and the batch's worker ask the simulator; re-checks of a PENDING verification
# come after seconds rather than minutes, so the demo shows one decided while it waits.
SERVER_SETTINGS = {
    "INTEGRITY_PENDING_RECHECK_INTERVAL": "1",
    "INTEGRITY_PENDING_RECHECK_DELAYS": "1,2,5",
    "INTEGRITY_GOV_REGISTRY_MAX_CONCURRENCY": "8",
    "INTEGRITY_GOV_REGISTRY_MAX_RATE": "200",
    "INTEGRITY_PROVIDER_MAX_CONCURRENCY": "8",
    "INTEGRITY_PROVIDER_MAX_RATE": "200",
    "INTEGRITY_BATCH_CONCURRENCY": "8",
}

Row = dict[str, Any]


def _ops(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "integrity-ops"), *args],
        check=True,
        env=dict(env),
        capture_output=True,
        text=True,
    )


LEDGER_NAME = "integrity.demo/disclosures"
"""The demo log's name: its checkpoints' origin and its key's name."""


def _reset(demo: Path) -> None:
    """Every run starts from an empty database (the generated registry and keys stay):
    the same story, and the same batch, each time."""
    for name in ("integrity.db", "integrity.db-wal", "integrity.db-shm", "platform.token"):
        (demo / name).unlink(missing_ok=True)


def _platform_token(demo: Path, env: Mapping[str, str]) -> str:
    """A credential for the demo marketplace, issued the way ops issue one."""
    created = _ops(
        "callers", "create", "--kind", "platform", "--name", "Demo marketplace",
        "--platform", "demo", env=env,
    )  # fmt: skip
    token = created.stdout.split("token: ")[1].strip()
    token_file = demo / "platform.token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    return token


def _setup(demo: Path, env: Mapping[str, str], records: int) -> list[Row]:
    keys = demo / "keys.json"
    if not keys.exists():
        _ops("keys", "generate", "--out", str(keys), env=env)
    ledger_key = demo / "ledger.key"
    if not ledger_key.exists():
        _ops("ledger", "keygen", "--name", LEDGER_NAME, "--out", str(ledger_key), env=env)
    registry = _registry_file(demo, records)
    if not registry.exists():
        _ops(
            "registry", "generate", "--count", str(records), "--seed", "2026",
            "--out", str(registry), env=env,
        )  # fmt: skip
    print(_ops("registry", "import", str(registry), env=env).stdout.strip())
    policy = demo / "store_opening.json"
    policy.write_text(json.dumps(STORE_OPENING, ensure_ascii=False, indent=2), encoding="utf-8")
    print(_ops("policy", "load", str(policy), env=env).stdout.strip())
    with registry.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


def _registry_file(demo: Path, records: int) -> Path:
    return demo / ("registry.jsonl" if records == RECORDS else f"registry-{records}.jsonl")


def _story_rows(rows: Sequence[Row]) -> tuple[Row, Row, Row, list[Row]]:
    """The enterprise verified, the revoked one, the one published late, and the rest of
    those whose legal representative's ID number the registry row holds (the batch)."""
    fine_until = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    in_business = [
        row
        for row in rows
        if row["status"] == "in_business"
        and row["legal_representative"]["id_number"]
        and (row["term_end"] is None or row["term_end"] > fine_until)
    ]
    verified, unpublished = in_business[0], in_business[1]
    revoked = next(row for row in rows if row["status"] == "revoked")
    told = {verified["uscc"], unpublished["uscc"], revoked["uscc"]}
    rest = [r for r in rows if r["uscc"] not in told and r["legal_representative"]["id_number"]]
    return verified, revoked, unpublished, rest


def _server_started(event: Mapping[str, Any]) -> bool:
    return event.get("event") == "server_started"


def run(
    demo: Path, *, records: int = RECORDS, batch_size: int = BATCH_SIZE, serve: bool = False
) -> None:
    """The demo; serve: keep the service and the gateway running at the end, for a person
    to look at the pages, until Ctrl-C."""
    demo.mkdir(parents=True, exist_ok=True)
    _reset(demo)
    env = {
        **os.environ,
        "INTEGRITY_DATABASE_URL": f"sqlite:///{demo / 'integrity.db'}",
        "INTEGRITY_KEYS_FILE": str(demo / "keys.json"),
        "INTEGRITY_LEDGER_KEY_FILE": str(demo / "ledger.key"),
        # The ops commands say what they did; the batch's worker need not log each item.
        "INTEGRITY_LOG_LEVEL": "warning",
    }
    rows = _setup(demo, env, records)
    verified, revoked, unpublished, rest = _story_rows(rows)
    token = _platform_token(demo, env)
    credentials = SimulatorCredentials.new()
    with running_simulator(demo, _registry_file(demo, records), credentials, env) as simulator:
        print(f"registry simulator serving {len(rows)} enterprises at {simulator.url}")
        env = {**env, **credentials.server_env(simulator.url), **SERVER_SETTINGS}
        # The server logs at info to its log file: its ready line is one of those.
        command = [str(BIN / "integrity-server"), "--listen", "127.0.0.1:0", "--log-level", "info"]
        with running(command, env=env, log=demo / "server.log", ready=_server_started) as ready:
            target = f"127.0.0.1:{ready['port']}"
            print(f"integrity-server on {target}, checking with the simulator (gov,provider)")
            with IntegrityClient(target, token=token) as client:
                show_verification(
                    "VERIFIED: licence data matches the registry",
                    client.create_verification(submission(verified)),
                )
                show_verification(
                    "REJECTED: revoked, and the legal representative does not match",
                    client.create_verification(submission(revoked, rep_name="张冒名")),
                )
                pending_resolves(
                    client, simulator, unpublished, deadline_seconds=PENDING_DEADLINE_SECONDS
                )
                show_decision(
                    "MAY THE VERIFIED ENTERPRISE OPEN A STORE?",
                    client.check_eligibility(verified["uscc"], "store_opening"),
                )
                show_decision(
                    "MAY THE REVOKED ONE?",
                    client.check_eligibility(revoked["uscc"], "store_opening"),
                )
            merchants = verify_all(target, token, rest[:batch_size])
            registry_changes(simulator, merchants)
            reverify(demo, [m.row["uscc"] for m in merchants], env)
            with running_gateway(demo, env, ready["port"], verified["uscc"], _ops) as gateway:
                show_gateway(gateway, revoked["uscc"], verified["uscc"])
                if serve:
                    wait_for_interrupt(gateway.url)
        print("\nintegrity-server drained and stopped", flush=True)
    show_ledger(env)
    print(f"registry simulator stopped; data in {demo}/ (batch report: batch-report.csv)")


def show_ledger(env: Mapping[str, str]) -> None:
    """Every answer above was recorded in the disclosure log: sign its head, then have ops
    rebuild it from the entries and hold it to that checkpoint."""
    print("\n== THE DISCLOSURE LOG: every answer above was recorded before it left")
    print("$ integrity-ops ledger checkpoint")
    print(_ops("ledger", "checkpoint", env=env).stdout.rstrip())
    print("$ integrity-ops ledger verify")
    print(_ops("ledger", "verify", env=env).stdout.rstrip())


def wait_for_interrupt(url: str) -> None:
    print(f"\nthe service and the gateway keep running: open {url}/ in a browser; "
          "Ctrl-C stops everything", flush=True)  # fmt: skip
    signal.pause()


def _interrupted(number: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(number).name)


def main() -> None:
    # Ctrl-C and SIGTERM end the demo through the blocks that stop its processes. Our own
    # handler, since asyncio.run's own one only cancels its task, which may then finish.
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        # A person at a terminal gets the pages to look at; a script gets its exit.
        run(DEMO, serve=sys.stdin.isatty() and sys.stdout.isatty())
    except KeyboardInterrupt:
        print("\ninterrupted: the processes the demo started are stopped", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
