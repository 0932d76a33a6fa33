"""Settings, built once from an injectable environment mapping and command-line overrides.

Nothing reads the environment at import time. Settings.load collects every problem
before failing, so a misconfigured deployment learns all it must fix at once.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from service.adapters.storage.engine import sqlite_file
from service.cpu_policy import CPU_POLICIES
from service.domain.checkpoint import NoteInvalid, NoteSigner
from service.domain.rate_limits import DEFAULT_LIMITS, Limit, LimitClass, limits_from_document
from service.domain.recheck_schedule import DEFAULT_DELAYS, DEFAULT_MAX_AGE, RecheckSchedule
from service.listen_address import LOCAL_SOCKET_SCHEMES, ListenAddress, is_local
from service.tls_files import TlsFileError, TlsFiles, load_material

DEFAULT_DATABASE_URL = "sqlite:///var/integrity.db"
ENV_PREFIX = "INTEGRITY_"


# Each setting's environment variable, less the prefix; problems are reported under these
# names, the ones an operator sets.
ENV_NAMES = {
    "listen_address": "LISTEN",
    "database_url": "DATABASE_URL",
    "registry_url": "REGISTRY_URL",
    "key_store_url": "KEY_STORE_URL",
    "registry_timeout_seconds": "REGISTRY_TIMEOUT",
    "shutdown_grace_seconds": "SHUTDOWN_GRACE",
    "log_level": "LOG_LEVEL",
    "keys_file": "KEYS_FILE",
    "purposes_file": "PURPOSES_FILE",
    "rate_limits": "RATE_LIMITS",
    "ledger_commit_interval_seconds": "LEDGER_COMMIT_INTERVAL",
    "cpu_policy": "CPU_POLICY",
    "level_revisit_interval_seconds": "LEVEL_REVISIT_INTERVAL",
    "pending_recheck_interval_seconds": "PENDING_RECHECK_INTERVAL",
    "pending_recheck_delays_seconds": "PENDING_RECHECK_DELAYS",
    "pending_max_age_days": "PENDING_MAX_AGE_DAYS",
    "tls_cert_file": "TLS_CERT_FILE",
    "tls_key_file": "TLS_KEY_FILE",
    "tls_client_ca_file": "TLS_CLIENT_CA_FILE",
    "allow_plaintext": "ALLOW_PLAINTEXT",
    "reuse_port": "REUSE_PORT",
    "registry_sources": "REGISTRY_SOURCES",
    "gov_registry_url": "GOV_REGISTRY_URL",
    "gov_registry_token": "GOV_REGISTRY_TOKEN",
    "gov_registry_max_concurrency": "GOV_REGISTRY_MAX_CONCURRENCY",
    "gov_registry_max_rate": "GOV_REGISTRY_MAX_RATE",
    "gov_registry_max_burst": "GOV_REGISTRY_MAX_BURST",
    "provider_url": "PROVIDER_URL",
    "provider_app_id": "PROVIDER_APP_ID",
    "provider_secret": "PROVIDER_SECRET",
    "provider_max_concurrency": "PROVIDER_MAX_CONCURRENCY",
    "provider_max_rate": "PROVIDER_MAX_RATE",
    "provider_max_burst": "PROVIDER_MAX_BURST",
    "registry_retry_attempts": "REGISTRY_RETRY_ATTEMPTS",
    "registry_breaker_failures": "REGISTRY_BREAKER_FAILURES",
    "registry_breaker_cool_down_seconds": "REGISTRY_BREAKER_COOL_DOWN",
    "batch_concurrency": "BATCH_CONCURRENCY",
    "batch_lease_seconds": "BATCH_LEASE",
    "batch_poll_seconds": "BATCH_POLL_INTERVAL",
    "registry_changes_url": "REGISTRY_CHANGES_URL",
    "registry_changes_token_file": "REGISTRY_CHANGES_TOKEN_FILE",
    "ledger_key_file": "LEDGER_KEY_FILE",
    "ledger_checkpoint_interval_seconds": "LEDGER_CHECKPOINT_INTERVAL",
    "retention_purge_interval_seconds": "RETENTION_PURGE_INTERVAL",
}
# Registry sources a deployment may name in INTEGRITY_REGISTRY_SOURCES: one registration
# source (the imported snapshot or the government registry's API), and the data provider
# besides, or not.
REGISTRATION_SOURCES = ("snapshot", "gov")
SUPPLEMENTARY_SOURCES = ("provider",)
_SOURCE_INTEGERS = (
    "gov_registry_max_concurrency",
    "provider_max_concurrency",
    "gov_registry_max_burst",
    "provider_max_burst",
    "registry_retry_attempts",
    "registry_breaker_failures",
)
_SOURCE_NUMBERS = (
    "gov_registry_max_rate",
    "provider_max_rate",
    "registry_breaker_cool_down_seconds",
)
_SOURCE_TEXTS = (
    "gov_registry_url",
    "gov_registry_token",
    "provider_url",
    "provider_app_id",
    "provider_secret",
)
_SOURCE_NEEDS = {
    "gov": ("gov_registry_url", "gov_registry_token"),
    "provider": ("provider_url", "provider_app_id", "provider_secret"),
}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def env_name(setting: str) -> str:
    """The environment variable of a Settings field: env_name("listen_address") is
    INTEGRITY_LISTEN."""
    return ENV_PREFIX + ENV_NAMES[setting]


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PiiKeys:
    encryption_keys: Mapping[str, bytes] = field(repr=False)
    """Encryption keys by key id: 32 bytes each (AES-256-GCM)."""
    active_key_id: str
    """The key that seals new values; the others only open old ones."""
    digest_key: bytes = field(repr=False)
    """HMAC key for matching digests; changing it invalidates every stored digest."""

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> PiiKeys:
        keys = {str(k): base64.b64decode(v, validate=True) for k, v in document["keys"].items()}
        return cls(
            encryption_keys=keys,
            active_key_id=str(document["active"]),
            digest_key=base64.b64decode(document["digest_key"], validate=True),
        )

    @classmethod
    def generate(cls, key_id: str = "k1") -> PiiKeys:
        import secrets

        return cls({key_id: secrets.token_bytes(32)}, key_id, secrets.token_bytes(32))

    def to_json(self) -> dict[str, Any]:
        return {
            "active": self.active_key_id,
            "keys": {k: base64.b64encode(v).decode() for k, v in self.encryption_keys.items()},
            "digest_key": base64.b64encode(self.digest_key).decode(),
        }


@dataclass(frozen=True)
class Settings:
    pii_keys: PiiKeys
    """Keys for the legal representative's name and ID number (INTEGRITY_KEYS_FILE)."""
    listen_address: str = "127.0.0.1:50051"
    """host:port the gRPC server binds (INTEGRITY_LISTEN)."""
    database_url: str = DEFAULT_DATABASE_URL
    """sqlite:///path or postgresql://user@host:port/db (INTEGRITY_DATABASE_URL). A SQLite
    file's directory must exist."""
    registry_url: str | None = None
    key_store_url: str | None = None
    """Where the per-enterprise keys of legal representatives' data live
    (INTEGRITY_KEY_STORE_URL): a database of their own, so backups of the service's database
    hold ciphertext only; default: beside the database (see effective_key_store_url)."""
    """Where the registry snapshot lives; default: the database (INTEGRITY_REGISTRY_URL)."""
    registry_timeout_seconds: float = 2.0
    """A registry lookup slower than this counts as the registry being unavailable."""
    shutdown_grace_seconds: float = 10.0
    """On SIGTERM, in-flight calls get this long to finish (INTEGRITY_SHUTDOWN_GRACE)."""
    log_level: str = "info"
    """debug, info, warning or error (INTEGRITY_LOG_LEVEL)."""
    purposes_file: str | None = None
    """JSON table of disclosure purposes and scenarios; default: the packaged table."""
    rate_limits: Mapping[LimitClass, Limit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    """Per-caller limits by class; override any with INTEGRITY_RATE_LIMITS (JSON)."""
    ledger_commit_interval_seconds: float = 0.01
    """Under load, ledger commits start at most this often; 0 commits each batch at once
    (INTEGRITY_LEDGER_COMMIT_INTERVAL). A lone read never waits for it."""
    cpu_policy: str = "normal"
    """Linux scheduling policy for the server's threads: normal or batch
    (INTEGRITY_CPU_POLICY); see service/cpu_policy.py."""
    level_revisit_interval_seconds: float = 30.0
    """Levels are recomputed when their revisit time comes; the server also looks for due
    levels at least this often, to notice times written by other processes
    (INTEGRITY_LEVEL_REVISIT_INTERVAL)."""
    pending_recheck_interval_seconds: float = 30.0
    """PENDING verifications are asked about again when their time comes; the server also
    looks for due ones at least this often, to notice times written by other processes
    (INTEGRITY_PENDING_RECHECK_INTERVAL)."""
    pending_recheck_delays_seconds: tuple[float, ...] = tuple(
        d.total_seconds() for d in DEFAULT_DELAYS
    )
    """The waits before each re-check of a PENDING verification, the last repeating
    (INTEGRITY_PENDING_RECHECK_DELAYS, comma-separated seconds; default 5 min, 15 min,
    1 h, 6 h, then daily)."""
    pending_max_age_days: float = DEFAULT_MAX_AGE / dt.timedelta(days=1)
    """A verification still PENDING after this many days ends REJECTED with reason
    PENDING_EXPIRED (INTEGRITY_PENDING_MAX_AGE_DAYS)."""
    tls_cert_file: str | None = None
    """PEM certificate chain the gRPC listener presents (INTEGRITY_TLS_CERT_FILE); None
    serves plain text. Re-read when it changes, for new connections."""
    tls_key_file: str | None = None
    """PEM private key of that certificate, unencrypted (INTEGRITY_TLS_KEY_FILE)."""
    tls_client_ca_file: str | None = None
    """PEM CA certificates (INTEGRITY_TLS_CLIENT_CA_FILE); when set, every client must
    present a certificate one of them signed (mutual TLS)."""
    allow_plaintext: bool = False
    """Serve plain text on an address other than loopback (INTEGRITY_ALLOW_PLAINTEXT), for
    a network that encrypts on its own (a service mesh's sidecar)."""
    reuse_port: bool = False
    """Let several server processes bind the same address, the kernel spreading connections
    over them (INTEGRITY_REUSE_PORT); off, a second server on a taken address refuses to
    start."""
    batch_concurrency: int = 32
    """Re-verification batch items a worker re-checks at once (INTEGRITY_BATCH_CONCURRENCY)."""
    batch_lease_seconds: float = 60.0
    """How long a worker holds a batch item without renewing its lease (INTEGRITY_BATCH_LEASE):
    a worker that dies leaves its items to others this long after its last renewal."""
    batch_poll_seconds: float = 1.0
    """A worker with nothing to do looks for new items this often
    (INTEGRITY_BATCH_POLL_INTERVAL)."""
    registry_changes_url: str | None = None
    """Base URL of the registry provider's change feed, GET {url}/v1/changes
    (INTEGRITY_REGISTRY_CHANGES_URL); batches of changed records can then ask it."""
    registry_changes_token_file: str | None = None
    """A file holding the change feed's bearer token (INTEGRITY_REGISTRY_CHANGES_TOKEN_FILE)."""

    ledger_signer: NoteSigner | None = field(default=None, repr=False)
    """The disclosure log's checkpoint signing key (INTEGRITY_LEDGER_KEY_FILE, a file
    holding the key as `integrity-ops ledger keygen` writes it); without one no
    checkpoints are published and listings come without proofs."""
    ledger_checkpoint_interval_seconds: float = 60.0
    """The server publishes a checkpoint of the disclosure log this often when it has
    grown (INTEGRITY_LEDGER_CHECKPOINT_INTERVAL)."""
    retention_purge_interval_seconds: float = 3600.0
    """The server purges closed accounts past their retention this often
    (INTEGRITY_RETENTION_PURGE_INTERVAL)."""

    registry_sources: tuple[str, ...] = ("snapshot",)
    """Where verifications are checked (INTEGRITY_REGISTRY_SOURCES, comma-separated): one
    registration source, snapshot (the imported snapshot) or gov (the government
    registry's API), and optionally provider (the enterprise-data provider)."""
    gov_registry_url: str | None = None
    """Base URL of the government registry's API (INTEGRITY_GOV_REGISTRY_URL)."""
    gov_registry_token: str | None = field(default=None, repr=False)
    """Its bearer token (INTEGRITY_GOV_REGISTRY_TOKEN)."""
    gov_registry_max_concurrency: int = 4
    """Requests in flight to the registry at once, over every process
    (INTEGRITY_GOV_REGISTRY_MAX_CONCURRENCY): the contracted concurrency."""
    gov_registry_max_rate: float = 10.0
    """Requests per second to the registry, over every process
    (INTEGRITY_GOV_REGISTRY_MAX_RATE): the contracted rate."""
    gov_registry_max_burst: int | None = None
    """Requests the registry's contract lets come at once within its rate
    (INTEGRITY_GOV_REGISTRY_MAX_BURST; unset: one second's worth of the rate, 1 for a
    contract without burst): starts stay evenly spaced whatever it is; a larger burst
    lets a request that leaves late still go (limits.py)."""
    provider_url: str | None = None
    """Base URL of the data provider's API (INTEGRITY_PROVIDER_URL)."""
    provider_app_id: str | None = None
    """The app id the provider issued (INTEGRITY_PROVIDER_APP_ID)."""
    provider_secret: str | None = field(default=None, repr=False)
    """The secret requests are signed with (INTEGRITY_PROVIDER_SECRET)."""
    provider_max_concurrency: int = 4
    """Requests in flight to the provider at once, over every process
    (INTEGRITY_PROVIDER_MAX_CONCURRENCY): the contracted concurrency."""
    provider_max_rate: float = 10.0
    """Requests per second to the provider, over every process
    (INTEGRITY_PROVIDER_MAX_RATE): the contracted rate."""
    provider_max_burst: int | None = None
    """As gov_registry_max_burst, for the provider (INTEGRITY_PROVIDER_MAX_BURST)."""
    registry_retry_attempts: int = 3
    """Attempts per question to an HTTP source, the first included, all within the
    registry timeout (INTEGRITY_REGISTRY_RETRY_ATTEMPTS)."""
    registry_breaker_failures: int = 5
    """Consecutive failures that open a source's circuit breaker
    (INTEGRITY_REGISTRY_BREAKER_FAILURES); half the last 20 calls failing does too."""
    registry_breaker_cool_down_seconds: float = 30.0
    """How long an open breaker refuses calls before one probe
    (INTEGRITY_REGISTRY_BREAKER_COOL_DOWN)."""

    @property
    def registry_source_budget_seconds(self) -> float:
        """An HTTP source's own deadline: inside the registry timeout, leaving a tenth of
        it to read, seal and decide."""
        return self.registry_timeout_seconds * 0.9

    @property
    def recheck_schedule(self) -> RecheckSchedule:
        return RecheckSchedule(
            tuple(dt.timedelta(seconds=d) for d in self.pending_recheck_delays_seconds),
            dt.timedelta(days=self.pending_max_age_days),
        )

    @property
    def effective_registry_url(self) -> str:
        return self.registry_url or self.database_url

    @property
    def effective_key_store_url(self) -> str:
        """The key store: as set, else a database beside the service's: on SQLite the file
        `<name>.keys.db` next to it (in memory for an in-memory database), on PostgreSQL
        the database `<name>_keys` on the same server."""
        return self.key_store_url or default_key_store_url(self.database_url)

    @property
    def tls_files(self) -> TlsFiles | None:
        if not (self.tls_cert_file and self.tls_key_file):
            return None
        return TlsFiles(self.tls_cert_file, self.tls_key_file, self.tls_client_ca_file)

    @classmethod
    def load(
        cls, environ: Mapping[str, str], /, *, serving: bool = False, **overrides: Any
    ) -> Settings:
        """Settings from INTEGRITY_* variables, then overrides (command-line flags) on top.

        serving: for the process that listens, whose listener settings are checked too
        (the TLS files, plain text only on loopback); other commands ignore them."""
        problems: list[str] = []
        values: dict[str, Any] = {}
        env = {
            k.removeprefix(ENV_PREFIX): v for k, v in environ.items() if k.startswith(ENV_PREFIX)
        }
        raw: dict[str, Any] = {name: env.get(variable) for name, variable in ENV_NAMES.items()}
        raw.update({k: v for k, v in overrides.items() if v is not None})

        if raw.get("rate_limits"):
            try:
                values["rate_limits"] = limits_from_document(json.loads(raw["rate_limits"]))
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"{env_name('rate_limits')} is not usable: {exc}")
        if raw.get("purposes_file"):
            if Path(raw["purposes_file"]).is_file():
                values["purposes_file"] = str(raw["purposes_file"])
            else:
                problems.append(
                    f"{env_name('purposes_file')}: {raw['purposes_file']} does not exist"
                )
        for name in ("listen_address", "database_url", "registry_url", "key_store_url"):
            if raw.get(name):
                values[name] = str(raw[name])
        for name in (
            "tls_cert_file",
            "tls_key_file",
            "tls_client_ca_file",
            "registry_changes_url",
            "registry_changes_token_file",
        ):
            if raw.get(name):
                values[name] = str(raw[name])
        for name in (
            "registry_timeout_seconds",
            "shutdown_grace_seconds",
            "level_revisit_interval_seconds",
            "batch_lease_seconds",
            "batch_poll_seconds",
            "pending_recheck_interval_seconds",
            "pending_max_age_days",
            "ledger_checkpoint_interval_seconds",
            "retention_purge_interval_seconds",
        ):
            if raw.get(name) is not None:
                try:
                    number = float(raw[name])
                    if number <= 0 or not math.isfinite(number) or number > 36500:
                        raise ValueError
                    values[name] = number
                except ValueError:
                    unit = "days" if name.endswith("_days") else "seconds"
                    problems.append(f"{env_name(name)} must be a positive number of {unit}")
        if raw.get("pending_recheck_delays_seconds"):
            delays = _positive_numbers(raw["pending_recheck_delays_seconds"])
            if delays is None:
                problems.append(
                    f"{env_name('pending_recheck_delays_seconds')} must be positive numbers "
                    "of seconds, separated by commas"
                )
            else:
                values["pending_recheck_delays_seconds"] = delays
        if raw.get("ledger_commit_interval_seconds") is not None:
            try:
                interval = float(raw["ledger_commit_interval_seconds"])
                if not 0 <= interval <= 1:
                    raise ValueError
                values["ledger_commit_interval_seconds"] = interval
            except ValueError:
                problems.append(
                    f"{env_name('ledger_commit_interval_seconds')} must be 0 to 1 seconds"
                )
        if raw.get("batch_concurrency") is not None:
            try:
                concurrency = int(raw["batch_concurrency"])
                if not 1 <= concurrency <= 1024:
                    raise ValueError
                values["batch_concurrency"] = concurrency
            except ValueError:
                problems.append(
                    f"{env_name('batch_concurrency')} must be a whole number, 1 to 1024"
                )
        if raw.get("cpu_policy"):
            policy = str(raw["cpu_policy"]).lower()
            if policy not in CPU_POLICIES:
                problems.append(
                    f"{env_name('cpu_policy')} must be one of {', '.join(CPU_POLICIES)}"
                )
            values["cpu_policy"] = policy
        if raw.get("log_level"):
            level = str(raw["log_level"]).lower()
            if level not in {"debug", "info", "warning", "error"}:
                problems.append(
                    f"{env_name('log_level')} must be one of debug, info, warning, error"
                )
            values["log_level"] = level
        for name in ("allow_plaintext", "reuse_port"):
            if raw.get(name) is not None:
                flag = _flag(raw[name])
                if flag is None:
                    problems.append(f"{env_name(name)} must be true or false")
                values[name] = bool(flag)
        token_file = values.get("registry_changes_token_file")
        if token_file and not Path(token_file).is_file():
            problems.append(
                f"{env_name('registry_changes_token_file')}: {token_file} does not exist"
            )
        for name in ("database_url", "registry_url", "key_store_url"):
            url = values.get(name, DEFAULT_DATABASE_URL if name == "database_url" else None)
            if url:
                problems.extend(_database_problems(name, url))
        problems.extend(_registry_source_problems(raw, values))
        if serving:
            problems.extend(_listener_problems(values))

        if "ledger_signer" in raw:
            values["ledger_signer"] = raw["ledger_signer"]
        elif raw.get("ledger_key_file"):
            try:
                key = Path(raw["ledger_key_file"]).read_text(encoding="utf-8")
                values["ledger_signer"] = NoteSigner.parse(key)
            except (OSError, UnicodeDecodeError, NoteInvalid) as exc:
                # The file's content is a private key: never quoted, only what is wrong.
                reason = str(exc) if isinstance(exc, NoteInvalid) else type(exc).__name__
                problems.append(
                    f"{env_name('ledger_key_file')}: {raw['ledger_key_file']} is unusable: {reason}"
                )
        if "pii_keys" in raw:
            values["pii_keys"] = raw["pii_keys"]
        elif raw.get("keys_file"):
            try:
                document = json.loads(Path(raw["keys_file"]).read_text())
                values["pii_keys"] = PiiKeys.from_json(document)
            except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
                problems.append(
                    f"{env_name('keys_file')}: {raw['keys_file']} is unusable: {type(exc).__name__}"
                )
        else:
            problems.append(
                f"no PII keys: set {env_name('keys_file')} or --keys-file "
                "(create one with `integrity-ops keys generate`)"
            )
        if problems:
            raise ConfigError(problems)
        return cls(**values)


def _positive_numbers(value: Any) -> tuple[float, ...] | None:
    if isinstance(value, tuple):
        value = ",".join(str(v) for v in value)
    try:
        numbers = tuple(float(part) for part in str(value).split(","))
    except ValueError:
        return None
    # A wait must be one a clock can reach: finite, and at most a year.
    return numbers if all(0 < n <= 366 * 86400 for n in numbers) else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _registry_source_problems(raw: Mapping[str, Any], values: dict[str, Any]) -> list[str]:
    """The registry sources' settings, read into values; every problem with them."""
    problems: list[str] = []
    for name in _SOURCE_TEXTS:
        if raw.get(name):
            values[name] = str(raw[name]).strip()
    for name in _SOURCE_INTEGERS:
        if raw.get(name) is not None:
            try:
                values[name] = int(raw[name])
                if values[name] < 1:
                    raise ValueError
            except ValueError:
                problems.append(f"{env_name(name)} must be a whole number, at least 1")
    for name in _SOURCE_NUMBERS:
        if raw.get(name) is not None:
            try:
                values[name] = float(raw[name])
                if not values[name] > 0:
                    raise ValueError
            except ValueError:
                problems.append(f"{env_name(name)} must be a positive number")
    sources: tuple[str, ...] = Settings.registry_sources
    if raw.get("registry_sources") is not None:
        if isinstance(raw["registry_sources"], str):
            sources = tuple(
                s.strip().lower() for s in raw["registry_sources"].split(",") if s.strip()
            )
        else:
            sources = tuple(raw["registry_sources"])
        values["registry_sources"] = sources
    variable = env_name("registry_sources")
    unknown = [s for s in sources if s not in REGISTRATION_SOURCES + SUPPLEMENTARY_SOURCES]
    registration = [s for s in sources if s in REGISTRATION_SOURCES]
    if unknown:
        problems.append(
            f"{variable}: unknown source {', '.join(unknown)} (snapshot, gov, provider)"
        )
    elif len(registration) != 1 or len(set(sources)) != len(sources):
        problems.append(
            f"{variable} must name one registration source, snapshot or gov, and may add "
            "provider (for example gov,provider)"
        )
    for source in sources:
        for name in _SOURCE_NEEDS.get(source, ()):
            if not values.get(name):
                problems.append(f"{env_name(name)} is required with {source} in {variable}")
    for name in ("gov_registry_url", "provider_url"):
        url = values.get(name)
        if url and not url.startswith(("https://", "http://")):
            problems.append(f"{env_name(name)} must be an http:// or https:// URL")
    return problems


def _database_problems(name: str, url: str) -> list[str]:
    if not url.startswith(("sqlite:", "postgresql:", "postgres:")):
        return [f"{env_name(name)} must start with sqlite: or postgresql:"]
    try:
        path = sqlite_file(url)
    except ValueError:  # sqlalchemy's ArgumentError is one
        return [f"{env_name(name)} is not a database URL"]
    if path is not None and not path.parent.is_dir():
        return [f"{env_name(name)}: the directory {path.parent} of {url} does not exist"]
    return []


def _listener_problems(values: Mapping[str, Any]) -> list[str]:
    """TLS files that cannot be served, and plain text where the network could listen."""
    address = values.get("listen_address", Settings.listen_address)
    cert, key = values.get("tls_cert_file"), values.get("tls_key_file")
    client_ca = values.get("tls_client_ca_file")
    problems: list[str] = []
    parsed = True
    try:
        if not address.startswith(LOCAL_SOCKET_SCHEMES):
            ListenAddress.parse(address)
    except ValueError as error:
        problems.append(f"{env_name('listen_address')}: {error}")
        parsed = False
    if bool(cert) != bool(key):
        problems.append(
            f"{env_name('tls_cert_file')} and {env_name('tls_key_file')} go together: "
            "set both or neither"
        )
    elif cert and key:
        try:
            load_material(TlsFiles(cert, key, client_ca))
        except TlsFileError as error:
            problems.append(f"{env_name(error.setting)}: {error}")
    elif client_ca:
        problems.append(
            f"{env_name('tls_client_ca_file')} needs {env_name('tls_cert_file')} and "
            f"{env_name('tls_key_file')}: client certificates are checked only over TLS"
        )
    elif parsed and not values.get("allow_plaintext") and not is_local(address):
        problems.append(
            f"{env_name('listen_address')} {address} is not a loopback address: serving it "
            f"needs TLS ({env_name('tls_cert_file')} and {env_name('tls_key_file')}), or "
            f"{env_name('allow_plaintext')}=true for plain text"
        )
    return problems


def default_key_store_url(database_url: str) -> str:
    parsed = make_url(database_url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite":
        if not database or database == ":memory:" or database.startswith("file:"):
            return "sqlite://"
        path = Path(database)
        return str(parsed.set(database=str(path.with_name(f"{path.stem}.keys.db"))))
    return parsed.set(database=f"{database}_keys").render_as_string(hide_password=False)
