"""The gateway's settings and its platforms' document: every problem at once, secrets unquoted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.issuers import read_issuers
from gateway.settings import GatewayConfigError, GatewaySettings
from service.domain.errors import InvalidArgument

GOOD = {
    "platforms": [
        {
            "platform": "demo",
            "issuer": "https://accounts.demo.example",
            "audience": "integrity-gateway",
            "jwks_url": "https://accounts.demo.example/jwks.json",
        }
    ]
}


def test_a_good_document_reads() -> None:
    issuers = read_issuers(GOOD)
    assert issuers["https://accounts.demo.example"].platform == "demo"


def test_every_problem_of_a_document_is_named() -> None:
    bad = {
        "platforms": [
            {"platform": "Demo!", "issuer": "x", "audience": "a", "jwks_url": "ftp://x"},
            {"platform": "p2", "issuer": "y", "audience": "a"},
            {"platform": "p3", "issuer": "z", "audience": "a", "jwks": {}, "colour": "red"},
        ]
    }
    with pytest.raises(InvalidArgument) as error:
        read_issuers(bad)
    found = {(v.field, v.reason) for v in error.value.violations}
    assert ("platforms[0].platform", "PLATFORM_INVALID") in found
    assert ("platforms[0].jwks_url", "URL_INVALID") in found
    assert ("platforms[1].jwks_url", "JWKS_REQUIRED") in found
    assert ("platforms[2].colour", "FIELD_UNKNOWN") in found
    assert ("platforms[2].jwks", "JWKS_INVALID") in found


def test_settings_list_every_problem_without_quoting_secrets(tmp_path: Path) -> None:
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps({"platforms": []}))
    with pytest.raises(GatewayConfigError) as error:
        GatewaySettings.load(
            {
                "INTEGRITY_GATEWAY_ISSUERS_FILE": str(issuers),
                "INTEGRITY_GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8,not-an-address",
                "INTEGRITY_GATEWAY_CLOCK_SKEW": "-1",
                "INTEGRITY_GATEWAY_LISTEN": "0.0.0.0:8443",
            }
        )
    problems = "\n".join(error.value.problems)
    assert "INTEGRITY_GATEWAY_TOKEN_FILE is required" in problems
    assert "INTEGRITY_GATEWAY_ISSUERS_FILE: platforms: at least 1 items" in problems
    assert "INTEGRITY_GATEWAY_TRUSTED_PROXIES: 'not-an-address'" in problems
    assert "INTEGRITY_GATEWAY_CLOCK_SKEW must be 0 to 600 seconds" in problems
    assert "0.0.0.0:8443 is not a loopback address" in problems


def test_settings_from_files(tmp_path: Path) -> None:
    token = tmp_path / "gateway.token"
    token.write_text("secret-token-value\n")
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps(GOOD))
    settings = GatewaySettings.load(
        {
            "INTEGRITY_GATEWAY_TOKEN_FILE": str(token),
            "INTEGRITY_GATEWAY_ISSUERS_FILE": str(issuers),
            "INTEGRITY_GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1",
        }
    )
    assert settings.token == "secret-token-value"
    assert "secret-token-value" not in repr(settings)
    assert len(settings.trusted_proxies) == 2
    assert settings.host_and_port == ("127.0.0.1", 8080)
