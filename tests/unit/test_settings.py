from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from service.settings import ConfigError, PiiKeys, Settings
from service.tls_files import TlsFiles
from tests.certificates import CertificateAuthority


@pytest.fixture
def keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The default database, sqlite:///var/integrity.db, is relative to the working
    # directory, and its directory must exist.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
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


def test_every_problem_is_reported_at_once_under_its_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(
            {
                "INTEGRITY_DATABASE_URL": "mysql://x",
                "INTEGRITY_SHUTDOWN_GRACE": "-1",
                "INTEGRITY_LOG_LEVEL": "loud",
                "INTEGRITY_LEDGER_COMMIT_INTERVAL": "soon",
                "INTEGRITY_REUSE_PORT": "perhaps",
            }
        )
    problems = caught.value.problems
    for expected in (
        "INTEGRITY_DATABASE_URL",
        "INTEGRITY_SHUTDOWN_GRACE",
        "INTEGRITY_LOG_LEVEL",
        "INTEGRITY_LEDGER_COMMIT_INTERVAL",
        "INTEGRITY_REUSE_PORT",
        "INTEGRITY_KEYS_FILE",
    ):
        assert any(expected in problem for problem in problems), expected
    assert len(problems) == 6


@pytest.mark.parametrize(
    ("variable", "name", "default", "good", "bad"),
    [
        ("LEDGER_COMMIT_INTERVAL", "ledger_commit_interval_seconds", 0.01, "0", "5"),
        ("LEVEL_REVISIT_INTERVAL", "level_revisit_interval_seconds", 30, "5", "0"),
        ("BATCH_LEASE", "batch_lease_seconds", 60, "15", "-1"),
        ("BATCH_POLL_INTERVAL", "batch_poll_seconds", 1, "0.25", "never"),
        ("BATCH_CONCURRENCY", "batch_concurrency", 32, "4", "0"),
        ("PENDING_RECHECK_INTERVAL", "pending_recheck_interval_seconds", 30, "5", "-1"),
        ("PENDING_MAX_AGE_DAYS", "pending_max_age_days", 30, "7", "inf"),
    ],
)
def test_intervals_from_the_environment(
    keys_file: Path, variable: str, name: str, default: float, good: str, bad: str
) -> None:
    environ = {"INTEGRITY_KEYS_FILE": str(keys_file)}
    assert getattr(Settings.load(environ), name) == default
    environ[f"INTEGRITY_{variable}"] = good
    assert getattr(Settings.load(environ), name) == float(good)
    environ[f"INTEGRITY_{variable}"] = bad
    with pytest.raises(ConfigError, match=f"INTEGRITY_{variable}"):
        Settings.load(environ)


def test_the_change_feed_token_file_must_exist(keys_file: Path, tmp_path: Path) -> None:
    environ = {
        "INTEGRITY_KEYS_FILE": str(keys_file),
        "INTEGRITY_REGISTRY_CHANGES_URL": "https://registry.example/feed",
        "INTEGRITY_REGISTRY_CHANGES_TOKEN_FILE": str(tmp_path / "missing"),
    }
    with pytest.raises(ConfigError, match="INTEGRITY_REGISTRY_CHANGES_TOKEN_FILE"):
        Settings.load(environ)
    (tmp_path / "missing").write_text("token")
    assert Settings.load(environ).registry_changes_url == "https://registry.example/feed"


def test_the_pending_recheck_schedule_from_the_environment(keys_file: Path) -> None:
    environ = {"INTEGRITY_KEYS_FILE": str(keys_file)}
    schedule = Settings.load(environ).recheck_schedule
    assert [d.total_seconds() for d in schedule.delays] == [300, 900, 3600, 21600, 86400]
    assert schedule.max_age == dt.timedelta(days=30)
    environ |= {
        "INTEGRITY_PENDING_RECHECK_DELAYS": "60, 600",
        "INTEGRITY_PENDING_MAX_AGE_DAYS": "2",
    }
    schedule = Settings.load(environ).recheck_schedule
    assert schedule.delays == (dt.timedelta(minutes=1), dt.timedelta(minutes=10))
    assert schedule.max_age == dt.timedelta(days=2)
    for bad in ("", "60,,600", "0", "ten", "1e12"):
        environ["INTEGRITY_PENDING_RECHECK_DELAYS"] = bad
        if bad == "":
            assert Settings.load(environ).recheck_schedule.delays[0] == dt.timedelta(minutes=5)
            continue
        with pytest.raises(ConfigError, match="INTEGRITY_PENDING_RECHECK_DELAYS"):
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
    assert "INTEGRITY_RATE_LIMITS" in str(caught.value)


def test_cpu_policy_defaults_to_normal_and_refuses_others(keys_file: Path) -> None:
    environ = {"INTEGRITY_KEYS_FILE": str(keys_file)}
    assert Settings.load(environ).cpu_policy == "normal"
    environ["INTEGRITY_CPU_POLICY"] = "Batch"
    assert Settings.load(environ).cpu_policy == "batch"
    environ["INTEGRITY_CPU_POLICY"] = "fifo"
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ)
    assert "INTEGRITY_CPU_POLICY must be one of normal, batch" in str(caught.value)


def test_a_sqlite_database_in_a_missing_directory_is_refused(
    keys_file: Path, tmp_path: Path
) -> None:
    environ = {"INTEGRITY_KEYS_FILE": str(keys_file)}
    for setting in ("INTEGRITY_DATABASE_URL", "INTEGRITY_REGISTRY_URL"):
        url = f"sqlite:///{tmp_path / 'missing' / 'x.db'}"
        with pytest.raises(ConfigError) as caught:
            Settings.load({**environ, setting: url})
        assert caught.value.problems == [
            f"{setting}: the directory {tmp_path / 'missing'} of {url} does not exist"
        ]
    (tmp_path / "var").rmdir()
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ)  # the default, relative to the working directory
    assert "INTEGRITY_DATABASE_URL: the directory var of" in str(caught.value)
    assert not (tmp_path / "var").exists()


def test_switches_read_true_and_false(keys_file: Path) -> None:
    environ = {"INTEGRITY_KEYS_FILE": str(keys_file)}
    assert Settings.load(environ).reuse_port is False
    assert Settings.load(environ).allow_plaintext is False
    for text, value in (("true", True), ("1", True), ("off", False), ("FALSE", False)):
        assert Settings.load({**environ, "INTEGRITY_REUSE_PORT": text}).reuse_port is value
        assert (
            Settings.load({**environ, "INTEGRITY_ALLOW_PLAINTEXT": text}).allow_plaintext is value
        )


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1:50051", False),
        ("127.8.9.10:1", False),
        ("localhost:50051", False),
        ("[::1]:50051", False),
        ("unix:/run/integrity.sock", False),
        ("0.0.0.0:50051", True),
        ("[::]:50051", True),
        (":50051", True),
        ("10.1.2.3:50051", True),
        ("integrity.internal:50051", True),
    ],
)
def test_plain_text_is_served_on_loopback_only_unless_allowed(
    keys_file: Path, address: str, refused: bool
) -> None:
    environ = {"INTEGRITY_KEYS_FILE": str(keys_file), "INTEGRITY_LISTEN": address}
    # Other commands do not listen, and so do not care.
    assert Settings.load(environ).listen_address == address
    if refused:
        with pytest.raises(ConfigError) as caught:
            Settings.load(environ, serving=True)
        [problem] = caught.value.problems
        assert problem.startswith(f"INTEGRITY_LISTEN {address} is not a loopback address")
        assert "INTEGRITY_ALLOW_PLAINTEXT=true" in problem
        allowed = {**environ, "INTEGRITY_ALLOW_PLAINTEXT": "true"}
        assert Settings.load(allowed, serving=True).allow_plaintext
    else:
        assert Settings.load(environ, serving=True).tls_files is None


@pytest.fixture
def tls_environ(keys_file: Path, tmp_path: Path) -> dict[str, str]:
    ca = CertificateAuthority.create("settings test CA")
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    ca.issue_server(serial=1).write(cert_file, key_file)
    (tmp_path / "client-ca.pem").write_bytes(ca.pem)
    return {
        "INTEGRITY_KEYS_FILE": str(keys_file),
        "INTEGRITY_LISTEN": "0.0.0.0:50051",
        "INTEGRITY_TLS_CERT_FILE": str(cert_file),
        "INTEGRITY_TLS_KEY_FILE": str(key_file),
    }


def test_tls_serves_any_address(tls_environ: dict[str, str], tmp_path: Path) -> None:
    settings = Settings.load(tls_environ, serving=True)
    assert settings.tls_files == TlsFiles(
        str(tmp_path / "server.pem"), str(tmp_path / "server.key"), None
    )
    flags = Settings.load(
        tls_environ, serving=True, tls_client_ca_file=str(tmp_path / "client-ca.pem")
    )
    assert flags.tls_files is not None
    assert flags.tls_files.client_ca_file == str(tmp_path / "client-ca.pem")


def test_tls_files_that_cannot_be_served_are_named(
    tls_environ: dict[str, str], tmp_path: Path
) -> None:
    other = CertificateAuthority.create("other").issue_server(serial=2)
    (tmp_path / "other.key").write_bytes(other.private_key)
    (tmp_path / "garbage.pem").write_text("not a certificate")
    cases = {
        "INTEGRITY_TLS_CERT_FILE: /nonexistent/cert.pem cannot be read": {
            "INTEGRITY_TLS_CERT_FILE": "/nonexistent/cert.pem"
        },
        f"INTEGRITY_TLS_CERT_FILE: {tmp_path / 'garbage.pem'} holds no PEM certificate": {
            "INTEGRITY_TLS_CERT_FILE": str(tmp_path / "garbage.pem")
        },
        f"INTEGRITY_TLS_KEY_FILE: {tmp_path / 'garbage.pem'} holds no unencrypted PEM": {
            "INTEGRITY_TLS_KEY_FILE": str(tmp_path / "garbage.pem")
        },
        f"INTEGRITY_TLS_KEY_FILE: {tmp_path / 'other.key'} is not the key of the certificate": {
            "INTEGRITY_TLS_KEY_FILE": str(tmp_path / "other.key")
        },
        f"INTEGRITY_TLS_CLIENT_CA_FILE: {tmp_path / 'garbage.pem'} holds no PEM certificate": {
            "INTEGRITY_TLS_CLIENT_CA_FILE": str(tmp_path / "garbage.pem")
        },
        "INTEGRITY_TLS_CERT_FILE and INTEGRITY_TLS_KEY_FILE go together": {
            "INTEGRITY_TLS_KEY_FILE": ""
        },
    }
    for expected, change in cases.items():
        with pytest.raises(ConfigError) as caught:
            Settings.load({**tls_environ, **change}, serving=True)
        [problem] = caught.value.problems
        assert problem.startswith(expected), (expected, problem)
        assert "BEGIN" not in problem  # a file's content is never repeated


def test_a_client_ca_needs_tls(keys_file: Path, tmp_path: Path) -> None:
    environ = {
        "INTEGRITY_KEYS_FILE": str(keys_file),
        "INTEGRITY_TLS_CLIENT_CA_FILE": str(tmp_path / "client-ca.pem"),
    }
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ, serving=True)
    [problem] = caught.value.problems
    assert problem.startswith("INTEGRITY_TLS_CLIENT_CA_FILE needs INTEGRITY_TLS_CERT_FILE")


def test_a_listen_address_must_be_host_and_port(keys_file: Path) -> None:
    environ = {"INTEGRITY_KEYS_FILE": str(keys_file), "INTEGRITY_ALLOW_PLAINTEXT": "true"}
    for address in ("127.0.0.1:50051", "[::1]:0", ":50051", "unix:/run/integrity.sock"):
        assert Settings.load({**environ, "INTEGRITY_LISTEN": address}, serving=True)
    for address in ("localhost", "::1:50051", "127.0.0.1:http", "127.0.0.1:70000"):
        with pytest.raises(ConfigError) as caught:
            Settings.load({**environ, "INTEGRITY_LISTEN": address}, serving=True)
        [problem] = caught.value.problems
        assert problem.startswith(f"INTEGRITY_LISTEN: {address} is not host:port")


def test_the_ledger_signing_key_is_read_and_a_bad_one_named_without_its_content(
    keys_file: Path, tmp_path: Path
) -> None:
    from service.domain.checkpoint import NoteSigner

    signer = NoteSigner.generate("integrity.test/disclosures")
    good = tmp_path / "ledger.key"
    good.write_text(f"{signer}\n")
    settings = Settings.load(
        {
            "INTEGRITY_KEYS_FILE": str(keys_file),
            "INTEGRITY_LEDGER_KEY_FILE": str(good),
            "INTEGRITY_LEDGER_CHECKPOINT_INTERVAL": "5",
        }
    )
    assert settings.ledger_signer is not None
    assert str(settings.ledger_signer.verifier) == str(signer.verifier)
    assert settings.ledger_checkpoint_interval_seconds == 5
    assert str(signer) not in repr(settings)
    bad = tmp_path / "bad.key"
    secret = str(signer).replace("PRIVATE+KEY", "PRIVATE+KEX")
    bad.write_text(secret)
    with pytest.raises(ConfigError) as error:
        Settings.load(
            {
                "INTEGRITY_KEYS_FILE": str(keys_file),
                "INTEGRITY_LEDGER_KEY_FILE": str(bad),
                "INTEGRITY_LEDGER_CHECKPOINT_INTERVAL": "0",
            }
        )
    problems = "\n".join(error.value.problems)
    assert f"INTEGRITY_LEDGER_KEY_FILE: {bad} is unusable" in problems
    assert "INTEGRITY_LEDGER_CHECKPOINT_INTERVAL must be a positive number" in problems
    # The key data is base64 and may itself hold "+": split off only the four known fields.
    assert secret.split("+", 4)[4] not in problems
