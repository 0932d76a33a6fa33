"""The certificate fetcher over real files: what it hands grpc, and when it reads."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from service.api.tls import RenewedCertificates
from service.tls_files import TlsFiles, load_material
from tests.certificates import CertificateAuthority


@pytest.fixture
def files(tmp_path: Path) -> TlsFiles:
    files = TlsFiles(str(tmp_path / "server.pem"), str(tmp_path / "server.key"))
    CertificateAuthority.create("CA").issue_server(serial=1).write(
        Path(files.cert_file), Path(files.key_file)
    )
    return files


def test_a_renewal_of_settled_files_is_seen_by_their_stat(files: TlsFiles) -> None:
    # fresh_seconds=0: every file counts as settled at once, so only a changed stat gets
    # the files read again.
    fetch = RenewedCertificates(files, load_material(files), fresh_seconds=0)
    assert fetch() is None
    renewed = CertificateAuthority.create("CA 2").issue_server(serial=2)
    renewed.write(Path(files.cert_file), Path(files.key_file))
    configuration = fetch()
    assert configuration is not None
    assert fetch() is None  # served now: not handed over again


def test_a_half_written_renewal_is_passed_over_with_one_warning(
    files: TlsFiles, log_stream: io.StringIO
) -> None:
    fetch = RenewedCertificates(files, load_material(files))
    renewed = CertificateAuthority.create("CA 2").issue_server(serial=2)
    Path(files.key_file).write_bytes(renewed.private_key)
    assert fetch() is None
    assert fetch() is None
    assert log_stream.getvalue().count('"event": "tls_files_not_reloaded"') == 1
    Path(files.cert_file).write_bytes(renewed.certificate)
    assert fetch() is not None
    assert '"event": "tls_certificate_reloaded"' in log_stream.getvalue()


def test_files_that_vanish_keep_what_is_served(files: TlsFiles, log_stream: io.StringIO) -> None:
    fetch = RenewedCertificates(files, load_material(files))
    Path(files.cert_file).unlink()
    assert fetch() is None
    assert fetch() is None
    assert log_stream.getvalue().count("cannot be read") == 1
