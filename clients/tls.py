"""TLS for the clients' channels: whom to trust, and the client's own certificate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc

from clients._channel import CHANNEL_OPTIONS


@dataclass(frozen=True)
class ClientTls:
    """How a client opens a TLS channel. `ClientTls()` trusts the system's CAs."""

    root_certificates: bytes | None = None
    """PEM certificates of the CAs to trust for the server; None: the system's."""
    certificate_chain: bytes | None = None
    """PEM client certificate, for a server that requires one (mutual TLS)."""
    private_key: bytes | None = field(default=None, repr=False)
    """PEM private key of that certificate."""
    server_name: str = ""
    """Check the server's certificate for this name instead of the target's host (tests,
    or a server reached by an address its certificate does not name)."""

    @classmethod
    def from_files(
        cls,
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        *,
        server_name: str = "",
    ) -> ClientTls:
        """Read the PEM files: the CA to trust, and the client's certificate and key if any."""

        def read(path: str | Path | None) -> bytes | None:
            return Path(path).read_bytes() if path else None

        return cls(read(ca_file), read(cert_file), read(key_file), server_name)

    def __post_init__(self) -> None:
        if (self.certificate_chain is None) != (self.private_key is None):
            raise ValueError(
                "a client certificate needs its private key, and the key its certificate"
            )

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )

    def options(self) -> tuple[tuple[str, str], ...]:
        if not self.server_name:
            return ()
        return (("grpc.ssl_target_name_override", self.server_name),)


def open_channel(grpc_module: ModuleType, target: str, tls: ClientTls | None) -> Any:
    """A channel of grpc_module (grpc or grpc.aio: their factories take the same arguments),
    over TLS when tls is given."""
    if tls is None:
        return grpc_module.insecure_channel(target, options=CHANNEL_OPTIONS)
    return grpc_module.secure_channel(
        target, tls.credentials(), options=CHANNEL_OPTIONS + tls.options()
    )
