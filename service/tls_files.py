"""The TLS files the gRPC listener serves: read, checked, and compared for renewal.

A file is checked before it is served, at start-up and at each renewal: a certificate
and key that do not belong together, or a half-written file, would otherwise fail every
handshake instead of failing once, here, with the file named. Errors name the file and
what is wrong with it, never its content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization


class TlsFileError(Exception):
    """A TLS file that cannot be served. `setting` is the Settings field that names it."""

    def __init__(self, setting: str, path: str, reason: str) -> None:
        super().__init__(f"{path} {reason}")
        self.setting = setting
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class TlsFiles:
    cert_file: str
    """PEM certificate chain, the server's own certificate first."""
    key_file: str
    """PEM private key of that certificate, unencrypted."""
    client_ca_file: str | None = None
    """PEM certificates of the CAs that sign client certificates; None: no client certificates."""


@dataclass(frozen=True)
class TlsMaterial:
    """The files' bytes as read; equal materials serve the same certificates."""

    certificate_chain: bytes
    private_key: bytes = field(repr=False)
    client_ca: bytes | None

    def server_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.certificate_chain)[0]


def read_material(files: TlsFiles) -> TlsMaterial:
    """The files' bytes, unchecked (TlsFileError if one cannot be read)."""
    return TlsMaterial(
        certificate_chain=_read("tls_cert_file", files.cert_file),
        private_key=_read("tls_key_file", files.key_file),
        client_ca=_read("tls_client_ca_file", files.client_ca_file)
        if files.client_ca_file
        else None,
    )


def check_material(files: TlsFiles, material: TlsMaterial) -> None:
    """TlsFileError unless the certificates parse and the key is the certificate's."""
    try:
        certificate = material.server_certificate()
    except ValueError:
        raise TlsFileError("tls_cert_file", files.cert_file, "holds no PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(material.private_key, password=None)
    except (ValueError, TypeError):
        # TypeError: the key is encrypted; the server has no passphrase to open it with.
        raise TlsFileError(
            "tls_key_file", files.key_file, "holds no unencrypted PEM private key"
        ) from None
    spki = (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        mismatch = f"is not the key of the certificate in {files.cert_file}"
        raise TlsFileError("tls_key_file", files.key_file, mismatch)
    if material.client_ca is not None and files.client_ca_file:
        try:
            x509.load_pem_x509_certificates(material.client_ca)
        except ValueError:
            raise TlsFileError(
                "tls_client_ca_file", files.client_ca_file, "holds no PEM certificate"
            ) from None


def load_material(files: TlsFiles) -> TlsMaterial:
    material = read_material(files)
    check_material(files, material)
    return material


def _read(setting: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise TlsFileError(setting, path, f"cannot be read ({error.strerror})") from None
