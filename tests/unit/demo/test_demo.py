"""The demo, run whole at a smaller size against a temporary directory: real processes
(the registry simulator, integrity-server, integrity-worker, integrity-ops) on loopback
and a real SQLite file. It checks the story the demo tells, not timings."""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import httpx
import pytest

from service.demo.__main__ import run
from service.demo.processes import ProcessDidNotStart, running
from service.demo.simulator import SimulatorCredentials, running_simulator

BATCH = 40
SIMULATOR = str(Path(sys.executable).parent / "integrity-registry-simulator")


def _section(output: str, title: str) -> str:
    """The lines of one "== TITLE" section of the demo's output."""
    start = output.index(f"== {title}")
    end = output.find("\n== ", start + 1)
    return output[start : end if end != -1 else len(output)]


def _found(pattern: str, text: str) -> str:
    """The first group of the first match of ``pattern`` in ``text``."""
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match[1]


def _refuses(url: str) -> bool:
    try:
        httpx.get(url + "/_sim/health", timeout=5.0)
    except httpx.TransportError:
        return True
    return False


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    demo = tmp_path_factory.mktemp("demo") / "var" / "demo"
    capture = pytest.MonkeyPatch()
    output = tmp_path_factory.mktemp("output") / "demo.txt"
    with output.open("w", encoding="utf-8") as stream:
        # The demo's own lines and its child processes' both go to the file.
        capture.setattr(sys, "stdout", stream)
        capture.setattr(sys, "stderr", stream)
        try:
            run(demo, records=300, batch_size=BATCH)
        finally:
            capture.undo()
    return demo, output.read_text(encoding="utf-8")


def test_verified_and_rejected_through_the_network_sources(demo_run: tuple[Path, str]) -> None:
    _, output = demo_run
    assert re.search(
        r"registry simulator serving 300 enterprises at http://127\.0\.0\.1:\d+", output
    )
    verified = _section(output, "VERIFIED")
    assert "outcome: VERIFIED" in verified
    assert "government_registry" in verified and "data_provider" in verified
    rejected = _section(output, "REJECTED")
    assert "outcome: REJECTED" in rejected
    assert "reason: REVOKED" in rejected
    assert "reason: LEGAL_REPRESENTATIVE_NAME_MISMATCH" in rejected


def test_the_pending_verification_is_decided_by_the_scheduled_recheck(
    demo_run: tuple[Path, str],
) -> None:
    _, output = demo_run
    pending = _section(output, "PENDING")
    assert "outcome: PENDING" in pending
    assert "reason: REGISTRY_RECORD_NOT_FOUND" in pending
    decided = _section(output, "...decided by the re-check")
    assert "outcome: VERIFIED" in decided
    history = decided[decided.index("history:") :].splitlines()[1:]
    assert [line.split("UTC")[1].split() for line in history] == [
        ["PENDING", "by", "create", "(REGISTRY_RECORD_NOT_FOUND)"],
        ["VERIFIED", "by", "pending_recheck"],
    ]


def test_eligibility_allows_the_verified_and_denies_the_revoked(
    demo_run: tuple[Path, str],
) -> None:
    _, output = demo_run
    allowed = _section(output, "MAY THE VERIFIED ENTERPRISE OPEN A STORE?")
    assert "decision: ELIGIBILITY_DECISION_ALLOW" in allowed
    denied = _section(output, "MAY THE REVOKED ONE?")
    assert "decision: ELIGIBILITY_DECISION_DENY" in denied
    assert "business_status          BUSINESS_STATUS_NOT_ALLOWED" in denied
    assert re.search(
        r"integrity class: [A-E]; policy platforms/demo/policies/store_opening@1", denied
    )


def test_the_batch_re_verifies_and_reports_what_the_registry_changed(
    demo_run: tuple[Path, str],
) -> None:
    demo, output = demo_run
    batch = _section(output, "A BATCH")
    assert f"the platform verified {BATCH} merchants" in batch
    revoked = int(_found(r"the registry revoked (\d+) of them", batch))
    renewed = int(_found(r"renewed the expired licences of (\d+)", batch))
    assert revoked >= 1
    assert "$ integrity-worker &" in batch and "$ integrity-ops batch follow" in batch
    assert f"{BATCH}/{BATCH} [" in batch  # the progress bar reached the end
    assert f"items: done {BATCH}" in batch
    with (demo / "batch-report.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == BATCH
    changed = [row for row in rows if row["changed"] == "yes"]
    assert (
        sum(r["outcome_before"] == "verified" and r["outcome_after"] == "rejected" for r in changed)
        == revoked
    )
    assert (
        sum(r["outcome_before"] == "rejected" and r["outcome_after"] == "verified" for r in changed)
        == renewed
    )
    assert f"changed: {revoked + renewed}" in batch
    for row in changed:
        assert f"{row['uscc']} {row['outcome_before']} -> {row['outcome_after']}" in batch


def test_the_disclosure_log_is_signed_and_holds_to_its_checkpoint(
    demo_run: tuple[Path, str],
) -> None:
    _, output = demo_run
    shown = output.split("THE DISCLOSURE LOG")[1]
    size = int(_found(r"integrity\.demo/disclosures\n(\d+)\n", shown))
    assert size > BATCH  # every verification and eligibility answer above, at least
    assert "\u2014 integrity.demo/disclosures " in shown  # the checkpoint's signature line
    # The server published at its intervals, the command once more at the end.
    intact = re.search(
        r"ledger intact: (\d+) entries; (\d+) checkpoints? holds?, the latest of (\d+)", shown
    )
    assert intact is not None and int(intact[1]) == int(intact[3]) == size


def test_the_gateway_serves_the_pages_and_gives_a_demo_login(
    demo_run: tuple[Path, str],
) -> None:
    demo, output = demo_run
    shown = _section(output, "THE MERCHANT GATEWAY")
    assert re.search(r"GET /enterprises/\w{18} -> 200: \S+", shown), shown
    url = _found(r"the merchant's own page: +(http://localhost:\d+)/merchant", shown)
    assert f"{url}/merchant/disclosures" in shown and f"{url}/login" in shown
    login = (demo / "merchant.login").read_text().strip()
    assert login.count(".") == 2  # a JWT the demo platform signed
    assert (demo / "merchant.login").stat().st_mode & 0o777 == 0o600


def test_every_process_is_stopped_at_the_end(demo_run: tuple[Path, str]) -> None:
    _, output = demo_run
    url = _found(r"at (http://127\.0\.0\.1:\d+)", output)
    assert _refuses(url)
    assert output.rstrip().endswith("(batch report: batch-report.csv)")


def test_the_simulator_is_stopped_when_the_demo_fails(tmp_path: Path) -> None:
    registry = tmp_path / "registry.jsonl"
    registry.write_text("", encoding="utf-8")
    credentials = SimulatorCredentials.new()
    with (
        pytest.raises(RuntimeError, match="a step failed"),
        running_simulator(tmp_path, registry, credentials, {}) as simulator,
    ):
        url = simulator.url
        assert not _refuses(url)
        raise RuntimeError("a step failed")
    assert _refuses(url)


def test_a_process_that_never_gets_ready_is_reported_with_its_log(tmp_path: Path) -> None:
    command = [SIMULATOR, "--records-file", str(tmp_path / "missing.jsonl")]
    with (
        pytest.raises(ProcessDidNotStart, match=r"simulator\.log"),
        running(command, env={}, log=tmp_path / "simulator.log", ready=lambda _: True),
    ):
        pass
    assert "missing.jsonl" in (tmp_path / "simulator.log").read_text(encoding="utf-8")
