from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.settings import ConfigError, PiiKeys, Settings


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(PiiKeys.generate().to_json()))
    return path


def test_defaults_and_environment(keys_file: Path) -> None:
    settings = Settings.load(
        {"INTEGRITY_KEYS_FILE": str(keys_file), "INTEGRITY_REGISTRY_TIMEOUT": "0.5"}
    )
    assert settings.listen_address == "127.0.0.1:50051"
    assert settings.database_url.startswith("sqlite:")
    assert settings.effective_registry_url == settings.database_url
    assert settings.registry_timeout_seconds == 0.5
    assert len(settings.pii_keys.encryption_keys["k1"]) == 32


def test_flags_override_the_environment(keys_file: Path) -> None:
    settings = Settings.load(
        {"INTEGRITY_KEYS_FILE": str(keys_file), "INTEGRITY_LISTEN": "0.0.0.0:1"},
        listen_address="127.0.0.1:2",
        log_level=None,
    )
    assert settings.listen_address == "127.0.0.1:2"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(
            {
                "INTEGRITY_DATABASE_URL": "mysql://x",
                "INTEGRITY_SHUTDOWN_GRACE": "-1",
                "INTEGRITY_LOG_LEVEL": "loud",
                "INTEGRITY_LEDGER_COMMIT_INTERVAL": "soon",
            }
        )
    problems = "\n".join(caught.value.problems)
    for expected in (
        "database_url",
        "shutdown_grace_seconds",
        "log_level",
        "ledger_commit_interval_seconds",
        "INTEGRITY_KEYS_FILE",
    ):
        assert expected in problems


def test_ledger_commit_interval_from_the_environment(keys_file: Path) -> None:
    environ = {"INTEGRITY_KEYS_FILE": str(keys_file)}
    assert Settings.load(environ).ledger_commit_interval_seconds == 0.01
    environ["INTEGRITY_LEDGER_COMMIT_INTERVAL"] = "0"
    assert Settings.load(environ).ledger_commit_interval_seconds == 0
    environ["INTEGRITY_LEDGER_COMMIT_INTERVAL"] = "5"
    with pytest.raises(ConfigError):
        Settings.load(environ)


def test_unusable_keys_file_is_named_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"active": "k1", "keys": {"k1": "not base64!"}, "digest_key": "x"}')
    with pytest.raises(ConfigError) as caught:
        Settings.load({"INTEGRITY_KEYS_FILE": str(path)})
    assert str(path) in str(caught.value) and "not base64" not in str(caught.value)


def test_settings_repr_hides_keys(keys_file: Path) -> None:
    settings = Settings.load({"INTEGRITY_KEYS_FILE": str(keys_file)})
    key = settings.pii_keys.encryption_keys["k1"]
    assert repr(key) not in repr(settings)


def test_rate_limits_from_the_environment(keys_file: Path) -> None:
    from service.domain.rate_limits import LimitClass

    settings = Settings.load(
        {
            "INTEGRITY_KEYS_FILE": str(keys_file),
            "INTEGRITY_RATE_LIMITS": '{"anonymous": {"per_second": 2, "burst": 4, "per_day": 10}}',
        }
    )
    assert settings.rate_limits[LimitClass.ANONYMOUS].per_day == 10
    with pytest.raises(ConfigError) as caught:
        Settings.load({"INTEGRITY_KEYS_FILE": str(keys_file), "INTEGRITY_RATE_LIMITS": "{bad"})
    assert "rate_limits" in str(caught.value)


def test_cpu_policy_defaults_to_normal_and_refuses_others(keys_file: Path) -> None:
    environ = {"INTEGRITY_KEYS_FILE": str(keys_file)}
    assert Settings.load(environ).cpu_policy == "normal"
    environ["INTEGRITY_CPU_POLICY"] = "Batch"
    assert Settings.load(environ).cpu_policy == "batch"
    environ["INTEGRITY_CPU_POLICY"] = "fifo"
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ)
    assert "cpu_policy must be one of normal, batch" in str(caught.value)
