"""Registry source settings: which sources, their credentials, limits and resilience."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.settings import ConfigError, PiiKeys, Settings


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(PiiKeys.generate().to_json()))
    return {
        "INTEGRITY_KEYS_FILE": str(keys),
        "INTEGRITY_DATABASE_URL": f"sqlite:///{tmp_path / 'integrity.db'}",
    }


def test_the_snapshot_alone_by_default(env: dict[str, str]) -> None:
    assert Settings.load(env).registry_sources == ("snapshot",)


def test_gov_and_provider_with_their_credentials_and_limits(env: dict[str, str]) -> None:
    settings = Settings.load(
        env
        | {
            "INTEGRITY_REGISTRY_SOURCES": "gov, provider",
            "INTEGRITY_GOV_REGISTRY_URL": "https://registry.example/api",
            "INTEGRITY_GOV_REGISTRY_TOKEN": "t0ken",
            "INTEGRITY_PROVIDER_URL": "https://provider.example",
            "INTEGRITY_PROVIDER_APP_ID": "app",
            "INTEGRITY_PROVIDER_SECRET": "s3cret",
            "INTEGRITY_PROVIDER_MAX_CONCURRENCY": "3",
            "INTEGRITY_PROVIDER_MAX_RATE": "2.5",
            "INTEGRITY_PROVIDER_MAX_BURST": "5",
            "INTEGRITY_REGISTRY_RETRY_ATTEMPTS": "2",
            "INTEGRITY_REGISTRY_BREAKER_FAILURES": "7",
            "INTEGRITY_REGISTRY_BREAKER_COOL_DOWN": "12",
            "INTEGRITY_REGISTRY_TIMEOUT": "4",
        }
    )
    assert settings.registry_sources == ("gov", "provider")
    assert settings.provider_max_concurrency == 3 and settings.provider_max_rate == 2.5
    assert settings.provider_max_burst == 5
    assert settings.gov_registry_max_burst is None  # one second's worth of the rate
    assert settings.registry_retry_attempts == 2
    assert settings.registry_breaker_failures == 7
    assert settings.registry_breaker_cool_down_seconds == 12
    # The sources' own deadline is inside the caller's.
    assert settings.registry_source_budget_seconds < settings.registry_timeout_seconds
    # Credentials stay out of the settings' repr (and so out of logs and tracebacks).
    assert "t0ken" not in repr(settings) and "s3cret" not in repr(settings)


def test_every_problem_with_the_sources_at_once(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(
            env
            | {
                "INTEGRITY_REGISTRY_SOURCES": "gov,provider",
                "INTEGRITY_GOV_REGISTRY_URL": "ftp://registry",
                "INTEGRITY_PROVIDER_MAX_CONCURRENCY": "0",
                "INTEGRITY_PROVIDER_MAX_RATE": "fast",
                "INTEGRITY_GOV_REGISTRY_MAX_BURST": "0",
            }
        )
    problems = caught.value.problems
    assert (
        "INTEGRITY_GOV_REGISTRY_TOKEN is required with gov in INTEGRITY_REGISTRY_SOURCES"
        in problems
    )
    assert (
        "INTEGRITY_PROVIDER_URL is required with provider in INTEGRITY_REGISTRY_SOURCES" in problems
    )
    assert (
        "INTEGRITY_PROVIDER_SECRET is required with provider in INTEGRITY_REGISTRY_SOURCES"
        in problems
    )
    assert "INTEGRITY_GOV_REGISTRY_URL must be an http:// or https:// URL" in problems
    assert "INTEGRITY_PROVIDER_MAX_CONCURRENCY must be a whole number, at least 1" in problems
    assert "INTEGRITY_GOV_REGISTRY_MAX_BURST must be a whole number, at least 1" in problems
    assert "INTEGRITY_PROVIDER_MAX_RATE must be a positive number" in problems


@pytest.mark.parametrize("sources", ["provider", "snapshot,gov", "gov,gov", "registry", ""])
def test_one_registration_source_is_required(env: dict[str, str], sources: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(
            env
            | {
                "INTEGRITY_REGISTRY_SOURCES": sources,
                "INTEGRITY_GOV_REGISTRY_URL": "http://127.0.0.1:1",
                "INTEGRITY_GOV_REGISTRY_TOKEN": "t",
                "INTEGRITY_PROVIDER_URL": "http://127.0.0.1:1",
                "INTEGRITY_PROVIDER_APP_ID": "a",
                "INTEGRITY_PROVIDER_SECRET": "s",
            }
        )
    assert any(p.startswith("INTEGRITY_REGISTRY_SOURCES") for p in caught.value.problems)
