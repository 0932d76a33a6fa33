"""integrity-gateway as ops run it: its own process, configured from the environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.gateway_rig import free_port

GATEWAY = str(Path(sys.executable).parent / "integrity-gateway")


def _environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRITY_")}
    env.update(values)
    return env


def test_a_misconfigured_gateway_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [GATEWAY],
        env=_environment(
            INTEGRITY_GATEWAY_LISTEN="0.0.0.0:9",
            INTEGRITY_GATEWAY_ISSUERS_FILE=str(tmp_path / "missing.json"),
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "INTEGRITY_GATEWAY_TOKEN_FILE is required" in result.stderr
    assert "INTEGRITY_GATEWAY_ISSUERS_FILE" in result.stderr
    assert "not a loopback address" in result.stderr


def test_the_gateway_serves_its_openapi_document_and_stops_on_sigterm(tmp_path: Path) -> None:
    token = tmp_path / "gateway.token"
    token.write_text("not-checked-until-a-call\n")
    port = free_port()
    process = subprocess.Popen(
        [GATEWAY, "--listen", f"127.0.0.1:{port}"],
        env=_environment(INTEGRITY_GATEWAY_TOKEN_FILE=str(token)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        document = None
        while document is None:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                document = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.05)  # polling for start-up, not timing anything
        assert document["openapi"].startswith("3.1")
        # integrity-server is not there: the gateway says so as a problem, 503 or 502.
        down = httpx.get(f"http://127.0.0.1:{port}/v1/ledger/checkpoint", timeout=30)
        assert down.status_code in (502, 503), down.text
        assert down.headers["content-type"] == "application/problem+json"
        assert "not-checked-until-a-call" not in (down.text + str(down.headers))
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    # Stopped gracefully: uvicorn raises the signal again once it has drained.
    assert process.returncode in (0, -signal.SIGTERM), output
