"""The demo: the service's main job on the embedded default, start to finish.

Generates a demo registry, imports it with integrity-ops, loads the demo marketplace's
store-opening policy, starts integrity-server on SQLite, and through the Python client
verifies three enterprises (one VERIFIED, one REJECTED with its reasons, one PENDING),
then asks whether two of them may open a store: each answer with its integrity class,
every unmet condition and the policy version it was decided under. Everything lands in
var/demo/.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from google.protobuf import timestamp_pb2
from integrity.v1 import eligibility_pb2, licence_pb2, verification_pb2

from clients import IntegrityClient
from service.domain.identifiers.uscc import make_uscc

DEMO = Path("var/demo")
RECORDS = 2000
BIN = Path(sys.executable).parent
V = verification_pb2
E = eligibility_pb2

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


def _run(*command: str, env: dict[str, str]) -> None:
    subprocess.run(command, check=True, env=env)


def _platform_token(env: dict[str, str]) -> str:
    """A credential for the demo marketplace, issued the way ops issue one."""
    token_file = DEMO / "platform.token"
    if not token_file.exists():
        created = subprocess.run(
            [
                str(BIN / "integrity-ops"), "callers", "create", "--kind", "platform",
                "--name", "Demo marketplace", "--platform", "demo",
            ],
            check=True, env=env, capture_output=True, text=True,
        )  # fmt: skip
        token_file.write_text(created.stdout.split("token: ")[1].strip())
        token_file.chmod(0o600)
    return token_file.read_text().strip()


def _setup(env: dict[str, str]) -> list[dict[str, Any]]:
    keys = DEMO / "keys.json"
    if not keys.exists():
        _run(str(BIN / "integrity-ops"), "keys", "generate", "--out", str(keys), env=env)
    registry = DEMO / "registry.jsonl"
    if not registry.exists():
        _run(
            str(BIN / "integrity-ops"), "registry", "generate",
            "--count", str(RECORDS), "--seed", "2026", "--out", str(registry), env=env,
        )  # fmt: skip
    _run(str(BIN / "integrity-ops"), "registry", "import", str(registry), env=env)
    policy = DEMO / "store_opening.json"
    policy.write_text(json.dumps(STORE_OPENING, ensure_ascii=False, indent=2), encoding="utf-8")
    _run(str(BIN / "integrity-ops"), "policy", "load", str(policy), env=env)
    with registry.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


def _start_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [str(BIN / "integrity-server"), "--listen", "127.0.0.1:0"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    log = (DEMO / "server.log").open("w", encoding="utf-8")
    for line in server.stdout:
        log.write(line)
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("event") == "server_started":
            # Keep draining the server's log so a full pipe never blocks it.
            threading.Thread(target=_drain, args=(server.stdout, log), daemon=True).start()
            return server, int(event["port"])
    raise SystemExit(f"integrity-server did not start; see {DEMO / 'server.log'}")


def _drain(source: TextIO, sink: TextIO) -> None:
    for line in source:
        sink.write(line)
    sink.close()


def _submission(row: dict[str, Any], **changes: str) -> verification_pb2.Verification:
    grant = timestamp_pb2.Timestamp()
    grant.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    rep = row["legal_representative"]
    licence = licence_pb2.BusinessLicence(
        uscc=row["uscc"],
        enterprise_name=row["name"],
        legal_representative=licence_pb2.LegalRepresentative(
            name=changes.get("rep_name", rep["name"]),
            id_number=rep["id_number"] or "11010519491231002X",
        ),
        registered_address=row["address"],
    )
    return V.Verification(
        licence=licence,
        authorization=V.Authorization(
            granted_by=rep["name"],
            grant_time=grant,
            # The whole authorisation: the demo also shows the merchant's archive and level.
            scopes=[
                V.AUTHORIZATION_SCOPE_IDENTITY_VERIFICATION,
                V.AUTHORIZATION_SCOPE_ARCHIVE,
                V.AUTHORIZATION_SCOPE_INTEGRITY_LEVEL,
            ],
            evidence_reference="demo/consent/1",
        ),
    )


def _show(title: str, result: verification_pb2.Verification) -> None:
    print(f"\n== {title}")
    print(f"   {result.name}")
    print(f"   {result.licence.enterprise_name}")
    rep = result.licence.legal_representative
    print(f"   legal representative (masked): {rep.name} {rep.id_number}")
    print(f"   outcome: {V.VerificationOutcome.Name(result.outcome)}")
    for reason in result.reasons:
        print(f"   reason: {V.VerificationReasonCode.Name(reason.code)}: {reason.message}")
    for check in result.field_checks:
        print(f"     {check.field:40} {V.FieldCheckResult.Name(check.result)}")
    if result.HasField("registry_record"):
        snapshot = result.registry_record.snapshot_time.ToDatetime(tzinfo=dt.UTC)
        print(f"   registry snapshot of {snapshot:%Y-%m-%d %H:%M} UTC")


def _show_decision(title: str, answer: eligibility_pb2.CheckEligibilityResponse) -> None:
    print(f"\n== {title}")
    print(f"   decision: {E.EligibilityDecision.Name(answer.decision)}")
    print(f"   integrity class: {answer.level_class or '-'}; policy {answer.policy_version}")
    for unmet in answer.unmet_conditions:
        consequence = E.EligibilityDecision.Name(unmet.consequence)
        print(f"     {unmet.condition:24} {unmet.reason_code} ({consequence}): {unmet.description}")
    for item in answer.supplementary_information:
        print(f"     may ask the merchant for: {item}")


def main() -> None:
    DEMO.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "INTEGRITY_DATABASE_URL": f"sqlite:///{DEMO / 'integrity.db'}",
        "INTEGRITY_KEYS_FILE": str(DEMO / "keys.json"),
    }
    rows = _setup(env)
    today = dt.date.today().isoformat()
    verified = next(
        r
        for r in rows
        if r["status"] == "in_business"
        and r["legal_representative"]["id_number"]
        and (r["term_end"] is None or r["term_end"] > today)
    )
    revoked = next(r for r in rows if r["status"] == "revoked")
    unpublished = dict(verified, uscc=make_uscc("9", "1", "330106", "MA2DEM01"))

    token = _platform_token(env)
    server, port = _start_server(env)
    try:
        with IntegrityClient(f"127.0.0.1:{port}", token=token) as client:
            _show(
                "VERIFIED: licence data matches the registry",
                client.create_verification(_submission(verified)),
            )
            _show(
                "REJECTED: revoked, and the legal representative does not match",
                client.create_verification(_submission(revoked, rep_name="张冒名")),
            )
            _show(
                "PENDING: the registry has not published this enterprise yet",
                client.create_verification(_submission(unpublished)),
            )
            _show_decision(
                "MAY THE VERIFIED ENTERPRISE OPEN A STORE?",
                client.check_eligibility(verified["uscc"], "store_opening"),
            )
            _show_decision(
                "MAY THE REVOKED ONE?",
                client.check_eligibility(revoked["uscc"], "store_opening"),
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print(f"\nserver drained and stopped; data in {DEMO}/")


if __name__ == "__main__":
    main()
