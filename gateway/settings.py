"""The gateway's settings, from INTEGRITY_GATEWAY_* variables and flags, every problem at once."""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.tls import ClientTls
from gateway.addresses import Network, parse_networks
from gateway.issuers import Issuer, read_issuers
from service.domain.checkpoint import NoteInvalid, NoteVerifier
from service.domain.errors import InvalidArgument
from service.listen_address import ListenAddress, is_local
from service.settings import ConfigError

PREFIX = "INTEGRITY_GATEWAY_"
ENV_NAMES = {
    "listen_address": "LISTEN",
    "upstream": "UPSTREAM",
    "token_file": "TOKEN_FILE",
    "issuers_file": "ISSUERS_FILE",
    "trusted_proxies": "TRUSTED_PROXIES",
    "clock_skew_seconds": "CLOCK_SKEW",
    "upstream_ca_file": "UPSTREAM_CA_FILE",
    "upstream_server_name": "UPSTREAM_SERVER_NAME",
    "tls_cert_file": "TLS_CERT_FILE",
    "tls_key_file": "TLS_KEY_FILE",
    "allow_plaintext": "ALLOW_PLAINTEXT",
    "log_level": "LOG_LEVEL",
    "upstream_timeout_seconds": "UPSTREAM_TIMEOUT",
    "session_key_file": "SESSION_KEY_FILE",
    "ledger_key": "LEDGER_KEY",
}


def env_name(setting: str) -> str:
    return PREFIX + ENV_NAMES[setting]


class GatewayConfigError(ConfigError):
    """Every problem with the gateway's settings."""


@dataclass(frozen=True)
class GatewaySettings:
    token: str = field(repr=False)
    """The gateway's own credential for integrity-server (INTEGRITY_GATEWAY_TOKEN_FILE)."""
    listen_address: str = "127.0.0.1:8080"
    """host:port the gateway serves HTTP on (INTEGRITY_GATEWAY_LISTEN)."""
    upstream: str = "127.0.0.1:50051"
    """integrity-server's gRPC address (INTEGRITY_GATEWAY_UPSTREAM)."""
    upstream_tls: ClientTls | None = None
    """TLS to integrity-server: its CA (INTEGRITY_GATEWAY_UPSTREAM_CA_FILE) and, if the
    address is not the name its certificate has, that name
    (INTEGRITY_GATEWAY_UPSTREAM_SERVER_NAME); None: plain text, on loopback."""
    upstream_timeout_seconds: float = 10.0
    """Each call to integrity-server gives up after this long
    (INTEGRITY_GATEWAY_UPSTREAM_TIMEOUT)."""
    issuers: Mapping[str, Issuer] = field(default_factory=dict)
    """The platforms whose users' tokens are accepted (INTEGRITY_GATEWAY_ISSUERS_FILE,
    gateway/issuers.py); none: every visitor is anonymous."""
    trusted_proxies: tuple[Network, ...] = ()
    """Addresses or CIDR blocks of the proxies whose X-Forwarded-For is believed
    (INTEGRITY_GATEWAY_TRUSTED_PROXIES, comma-separated)."""
    clock_skew_seconds: float = 60.0
    """How far a token's times may be off the gateway's clock (INTEGRITY_GATEWAY_CLOCK_SKEW)."""
    tls_cert_file: str | None = None
    """PEM certificate chain the gateway serves HTTPS with (INTEGRITY_GATEWAY_TLS_CERT_FILE)."""
    tls_key_file: str | None = None
    """Its private key (INTEGRITY_GATEWAY_TLS_KEY_FILE)."""
    allow_plaintext: bool = False
    """Serve plain HTTP on an address other than loopback (INTEGRITY_GATEWAY_ALLOW_PLAINTEXT),
    behind a proxy that terminates TLS."""
    log_level: str = "info"
    session_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    """Signs the pages' session cookies (INTEGRITY_GATEWAY_SESSION_KEY_FILE, a file of at
    least 32 bytes); unset, a random key of this process: its sessions end with it, and
    replicas must share a file."""
    ledger_verifier: NoteVerifier | None = None
    """The disclosure log's verifier key (INTEGRITY_GATEWAY_LEDGER_KEY, name+id+key): the
    merchant's disclosure page checks each entry's proof with it."""

    @classmethod
    def load(cls, environ: Mapping[str, str], /, **overrides: Any) -> GatewaySettings:
        problems: list[str] = []
        raw: dict[str, Any] = {
            name: environ.get(PREFIX + variable) for name, variable in ENV_NAMES.items()
        }
        raw.update({k: v for k, v in overrides.items() if v is not None})
        values: dict[str, Any] = {}
        for name in ("listen_address", "upstream", "tls_cert_file", "tls_key_file"):
            if raw.get(name):
                values[name] = str(raw[name])
        values["token"] = _read_text(raw.get("token_file"), "token_file", problems, required=True)
        if raw.get("issuers_file"):
            text = _read_text(raw["issuers_file"], "issuers_file", problems, required=True)
            if text:
                try:
                    values["issuers"] = read_issuers(json.loads(text))
                except ValueError as error:
                    problems.append(f"{env_name('issuers_file')} is not JSON: {error}")
                except InvalidArgument as error:
                    problems.extend(
                        f"{env_name('issuers_file')}: {v.field}: {v.description}"
                        for v in error.violations
                    )
        if raw.get("trusted_proxies"):
            try:
                values["trusted_proxies"] = tuple(
                    parse_networks(str(raw["trusted_proxies"]).split(","))
                )
            except ValueError as error:
                problems.append(f"{env_name('trusted_proxies')}: {error}")
        for name, low, high in (
            ("clock_skew_seconds", 0.0, 600.0),
            ("upstream_timeout_seconds", 0.1, 300.0),
        ):
            if raw.get(name) is not None:
                try:
                    number = float(raw[name])
                    if not (math.isfinite(number) and low <= number <= high):
                        raise ValueError
                    values[name] = number
                except ValueError:
                    problems.append(f"{env_name(name)} must be {low:g} to {high:g} seconds")
        if raw.get("log_level"):
            level = str(raw["log_level"]).lower()
            if level not in {"debug", "info", "warning", "error"}:
                problems.append(
                    f"{env_name('log_level')} must be one of debug, info, warning, error"
                )
            values["log_level"] = level
        if raw.get("allow_plaintext") is not None:
            values["allow_plaintext"] = str(raw["allow_plaintext"]).strip().lower() in {
                "1",
                "true",
                "yes",
                "on",
            }
        if raw.get("upstream_ca_file"):
            try:
                values["upstream_tls"] = ClientTls.from_files(
                    raw["upstream_ca_file"], server_name=str(raw.get("upstream_server_name") or "")
                )
            except OSError as error:
                problems.append(
                    f"{env_name('upstream_ca_file')}: {raw['upstream_ca_file']} is unusable: "
                    f"{type(error).__name__}"
                )
        if raw.get("session_key_file"):
            try:
                key = Path(str(raw["session_key_file"])).read_bytes().strip()
                if len(key) < 32:
                    problems.append(f"{env_name('session_key_file')} must hold at least 32 bytes")
                values["session_key"] = key
            except OSError as error:
                problems.append(
                    f"{env_name('session_key_file')}: {raw['session_key_file']} is unusable: "
                    f"{type(error).__name__}"
                )
        if raw.get("ledger_key"):
            try:
                values["ledger_verifier"] = NoteVerifier.parse(str(raw["ledger_key"]))
            except NoteInvalid as error:
                problems.append(f"{env_name('ledger_key')}: {error}")
        problems.extend(_listener_problems(values))
        if problems:
            raise GatewayConfigError(problems)
        return cls(**values)

    @property
    def host_and_port(self) -> tuple[str, int]:
        address = ListenAddress.parse(self.listen_address)
        return address.host, address.port


def _read_text(path: Any, name: str, problems: list[str], *, required: bool) -> str:
    if not path:
        if required:
            problems.append(f"{env_name(name)} is required")
        return ""
    try:
        return Path(str(path)).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        # A credential's file: named, never quoted.
        problems.append(f"{env_name(name)}: {path} is unusable: {type(error).__name__}")
        return ""


def _listener_problems(values: Mapping[str, Any]) -> list[str]:
    address = values.get("listen_address", GatewaySettings.listen_address)
    try:
        ListenAddress.parse(address)
    except ValueError as error:
        return [f"{env_name('listen_address')}: {error}"]
    cert, key = values.get("tls_cert_file"), values.get("tls_key_file")
    if bool(cert) != bool(key):
        return [
            f"{env_name('tls_cert_file')} and {env_name('tls_key_file')} go together: set "
            "both or neither"
        ]
    problems = [
        f"{env_name(name)}: {values[name]} does not exist"
        for name in ("tls_cert_file", "tls_key_file")
        if values.get(name) and not Path(values[name]).is_file()
    ]
    if not cert and not values.get("allow_plaintext") and not is_local(address):
        problems.append(
            f"{env_name('listen_address')} {address} is not a loopback address: serving it "
            f"needs TLS ({env_name('tls_cert_file')} and {env_name('tls_key_file')}), or "
            f"{env_name('allow_plaintext')}=true behind a proxy that terminates TLS"
        )
    return problems
