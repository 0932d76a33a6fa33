"""The gateway's OpenAPI document drives a fuzz run against it (schemathesis): no 5xx, and
every response, status code, content type and body, is what the document says.

integrity-server and integrity-gateway run as their own processes, as deployed, on a SQLite
file with generated registry data; requests come anonymous, as a logged-in viewer and as a
merchant, with tokens its platform signed (keys given inline in the issuers file).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from service.demo.processes import running
from tests.gateway_rig import AUDIENCE, PlatformSigner

BIN = Path(sys.executable).parent
schema = schemathesis.pytest.from_fixture("gateway_schema")
PLATFORM = PlatformSigner("fuzz")
KNOWN: list[str] = []
"""USCCs of the generated registry: half the drawn ones are replaced by one of them, so
that the fuzz reaches the answers of enterprises that exist, not only refusals."""


@schemathesis.hook
def map_path_parameters(_context: Any, parameters: dict[str, Any] | None) -> Any:
    if parameters and KNOWN and isinstance(parameters.get("uscc"), str):
        drawn = sum(map(ord, parameters["uscc"]))
        if drawn % 2 == 0:
            # The merchant's own enterprise (KNOWN[0]) one time in two of those.
            parameters["uscc"] = KNOWN[0] if drawn % 4 == 0 else KNOWN[drawn % len(KNOWN)]
    return parameters


def _ops(env: Mapping[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "integrity-ops"), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("gateway-fuzz")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRITY_")}
    env.update(
        INTEGRITY_DATABASE_URL=f"sqlite:///{work / 'integrity.db'}",
        INTEGRITY_KEYS_FILE=str(work / "keys.json"),
        INTEGRITY_LEDGER_KEY_FILE=str(work / "ledger.key"),
        INTEGRITY_LOG_LEVEL="warning",
        # Rate limits would answer most of the run 429 and hide what lies behind them.
        INTEGRITY_RATE_LIMITS=json.dumps(
            {
                name: {"per_second": 1e6, "burst": 10**6}
                for name in ("anonymous", "logged_in", "merchant", "gateway")
            }
        ),
    )
    _ops(env, "keys", "generate", "--out", str(work / "keys.json"))
    _ops(
        env,
        "ledger",
        "keygen",
        "--name",
        "integrity.test/disclosures",
        "--out",
        env["INTEGRITY_LEDGER_KEY_FILE"],
    )
    registry = work / "registry.jsonl"
    _ops(env, "registry", "generate", "--count", "20", "--seed", "7", "--out", str(registry))
    _ops(env, "registry", "import", str(registry))
    with registry.open(encoding="utf-8") as rows:
        KNOWN[:] = [json.loads(line)["uscc"] for line in rows]
    created = _ops(env, "callers", "create", "--kind", "gateway", "--name", "fuzzed gateway")
    token_file = work / "gateway.token"
    token_file.write_text(created.split("token: ")[1].strip())
    issuers = work / "issuers.json"
    issuers.write_text(
        json.dumps(
            {
                "platforms": [
                    {
                        "platform": PLATFORM.platform,
                        "issuer": PLATFORM.issuer,
                        "audience": AUDIENCE,
                        "jwks": PLATFORM.jwks(),
                    }
                ]
            }
        )
    )
    server_command = [str(BIN / "integrity-server"), "--listen", "127.0.0.1:0"]
    with running(
        server_command,
        env={**env, "INTEGRITY_LOG_LEVEL": "info"},
        log=work / "server.log",
        ready=lambda event: event.get("event") == "server_started",
    ) as server:
        gateway_env = {
            **env,
            "INTEGRITY_GATEWAY_TOKEN_FILE": str(token_file),
            "INTEGRITY_GATEWAY_ISSUERS_FILE": str(issuers),
            "INTEGRITY_GATEWAY_UPSTREAM": f"127.0.0.1:{server['port']}",
        }
        with running(
            [str(BIN / "integrity-gateway"), "--listen", "127.0.0.1:0"],
            env=gateway_env,
            log=work / "gateway.log",
            ready=lambda event: event.get("event") == "gateway_started",
        ) as gateway:
            yield f"http://127.0.0.1:{gateway['port']}"


@pytest.fixture(scope="module")
def gateway_schema(gateway_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{gateway_url}/openapi.json")


def _headers(who: str) -> dict[str, str]:
    if who == "anonymous":
        return {}
    # Real time: the processes run on the system clock (shifted, under faketime, with it).
    now = dt.datetime.fromtimestamp(time.time(), dt.UTC)
    claims: dict[str, Any] = {}
    if who == "merchant":
        claims["merchant_uscc"] = KNOWN[0]
    token = PLATFORM.token("fuzz-user", now, lifetime=dt.timedelta(hours=2), **claims)
    return {"Authorization": f"Bearer {token}"}


# Every check but one: a schema-valid request may still be refused with a 400, because a
# USCC's check character (or a registered name's rules) is not a thing JSON Schema can say.
# Requests outside the schema must still be refused (negative_data_rejection), and nothing
# may be a 5xx or answered otherwise than documented.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@schema.parametrize()
@FUZZ
def test_anonymous_requests_never_fail_and_are_answered_as_documented(case: Any) -> None:
    case.call_and_validate(headers=_headers("anonymous"), excluded_checks=EXCLUDED)


@schema.parametrize()
@FUZZ
def test_a_viewers_requests_never_fail_and_are_answered_as_documented(case: Any) -> None:
    case.call_and_validate(headers=_headers("viewer"), excluded_checks=EXCLUDED)


@schema.parametrize()
@FUZZ
def test_a_merchants_requests_never_fail_and_are_answered_as_documented(case: Any) -> None:
    case.call_and_validate(headers=_headers("merchant"), excluded_checks=EXCLUDED)
