"""TLS for the gRPC listener: the certificates re-read on renewal, client certificates optional.

grpc asks the fetcher for a new certificate configuration at each handshake. The fetcher
hands grpc a new configuration only when the files' bytes changed and the new files check
out, so a renewed certificate reaches every new connection without a restart, while
connections already open keep theirs. A renewal seen half-written (the new certificate,
the old key) is passed over with a warning and the previous certificate is served until
the files agree again.

Stat-ing the three files costs a fraction of reading them, so they are read again only
when their stat changed, or while they are fresh: a file rewritten twice within the file
system's timestamp granularity, at the same size, can keep its stat, so a file changed in
the last FRESH_SECONDS is read at every handshake until it has been left alone.
"""

from __future__ import annotations

import os
import threading
import time

import grpc
import structlog

from service.tls_files import (
    TlsFileError,
    TlsFiles,
    TlsMaterial,
    check_material,
    load_material,
    read_material,
)

log = structlog.get_logger("integrity.tls")

FRESH_SECONDS = 2.0

Signature = tuple[tuple[int, int, int, int, int], ...]


def _configuration(material: TlsMaterial) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration(
        [(material.private_key, material.certificate_chain)],
        root_certificates=material.client_ca,
    )


def _described(material: TlsMaterial) -> dict[str, str]:
    certificate = material.server_certificate()
    return {
        "serial": format(certificate.serial_number, "x"),
        "not_after": certificate.not_valid_after_utc.isoformat(),
    }


class RenewedCertificates:
    """The certificate-configuration fetcher of grpc.dynamic_ssl_server_credentials."""

    def __init__(
        self, files: TlsFiles, served: TlsMaterial, fresh_seconds: float = FRESH_SECONDS
    ) -> None:
        self._files = files
        self._fresh_seconds = fresh_seconds
        self._served = served
        self._rejected: TlsMaterial | None = None
        self._warned: str | None = None
        self._settled: Signature | None = None
        """The files' stat when last read, once they had been left alone for a while."""
        # grpc may call from several of its threads at once.
        self._lock = threading.Lock()

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        """None: keep serving what is served now."""
        with self._lock:
            try:
                return self._renewed()
            except Exception as error:  # raising into grpc would fail the handshake instead
                log.warning("tls_reload_failed", error_type=type(error).__name__)
                return None

    def _renewed(self) -> grpc.ServerCertificateConfiguration | None:
        signature = self._signature()
        if signature is not None and signature == self._settled:
            return None
        self._settled = None
        if signature is not None and not self._fresh(signature):
            self._settled = signature
        try:
            material = read_material(self._files)
        except TlsFileError as error:
            self._warn(error)
            return None
        if material == self._served:
            self._warned = None
            return None
        if material == self._rejected:
            return None
        try:
            check_material(self._files, material)
        except TlsFileError as error:
            self._rejected = material
            self._warn(error)
            return None
        self._served, self._rejected, self._warned = material, None, None
        log.info("tls_certificate_reloaded", **_described(material))
        return _configuration(material)

    def _signature(self) -> Signature | None:
        paths = [self._files.cert_file, self._files.key_file, self._files.client_ca_file]
        try:
            stats = [os.stat(path) for path in paths if path]
        except OSError:
            return None  # reading them says what is wrong
        # ctime too: a copy that keeps the old mtime (cp -p) still changes it.
        return tuple(
            (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) for st in stats
        )

    def _fresh(self, signature: Signature) -> bool:
        newest = max(ctime_ns for *_, ctime_ns in signature) / 1e9
        return time.time() - newest < self._fresh_seconds

    def _warn(self, error: TlsFileError) -> None:
        # Once per problem, not once per handshake.
        if str(error) != self._warned:
            self._warned = str(error)
            log.warning("tls_files_not_reloaded", setting=error.setting, problem=str(error))


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Credentials that serve the files now and whatever they hold at later handshakes.

    With a client CA file, a client must present a certificate that CA signed: the
    handshake fails otherwise. Required, not requested, because a check a caller may skip
    protects nothing; callers still send their token as well."""
    material = load_material(files)
    log.info(
        "tls_serving", client_certificates=files.client_ca_file is not None, **_described(material)
    )
    return grpc.dynamic_ssl_server_credentials(
        _configuration(material),
        # grpc documents None from the fetcher as "no change"; its type stubs leave it out.
        RenewedCertificates(files, material),  # type: ignore[arg-type]
        require_client_authentication=files.client_ca_file is not None,
    )
