"""A PostgreSQL database of the benchmark's own, made and dropped with psql.

The server is the local one (trust authentication); the database is named after the
registry size, integrity_bench_<N>, so each size keeps its prepared data.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from urllib.parse import urlsplit

_NAME = re.compile(r"^integrity_bench_\d+$")


class PostgresUnavailable(RuntimeError):
    pass


def database_name(enterprises: int) -> str:
    return f"integrity_bench_{enterprises}"


def database_url(server_url: str, name: str) -> str:
    return server_url.rstrip("/") + "/" + name


def check_server_url(server_url: str) -> None:
    parts = urlsplit(server_url)
    if parts.scheme not in {"postgresql", "postgres"} or parts.hostname != "127.0.0.1":
        raise PostgresUnavailable(f"{server_url}: expected postgresql://user@127.0.0.1:port/")
    if parts.path.strip("/"):
        raise PostgresUnavailable(f"{server_url}: give the server only, without a database")


def _psql(server_url: str, sql: str, database: str = "postgres", timeout: float = 120) -> str:
    psql = shutil.which("psql")
    if psql is None:
        raise PostgresUnavailable("psql is not installed (Debian: postgresql-client)")
    try:
        result = subprocess.run(
            [psql, database_url(server_url, database), "-v", "ON_ERROR_STOP=1", "-tAc", sql],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        raise PostgresUnavailable(f"psql timed out running {sql!r}") from error
    if result.returncode != 0:
        raise PostgresUnavailable(f"psql failed on {sql!r}: {result.stderr.strip()}")
    return result.stdout.strip()


def exists(server_url: str, name: str) -> bool:
    if not _NAME.match(name):
        raise ValueError(name)
    return _psql(server_url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"


def create(server_url: str, name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(name)
    if not exists(server_url, name):
        _psql(server_url, f'CREATE DATABASE "{name}"')


def drop(server_url: str, name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(name)
    # With the key store the service made beside it (its default, `<name>_keys`).
    for database in (name, f"{name}_keys"):
        _psql(server_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def settle(server_url: str, name: str) -> None:
    """Do now the work PostgreSQL would otherwise defer into the measured rounds.

    After the bulk import (and every earlier run's ledger rows), the first reads of each
    row set its hint bits and dirty its page, and the next checkpoint writes all of that
    out: on a server whose autovacuum is off (as on the machines this runs on) nothing
    does it beforehand. VACUUM (ANALYZE) sets the hint bits and gives the planner its
    statistics; CHECKPOINT then writes the dirty pages, so rounds start from a clean
    server rather than meeting a backlog of setup's writes.
    """
    if not _NAME.match(name):
        raise ValueError(name)
    _psql(server_url, "VACUUM (ANALYZE)", database=name, timeout=1800)
    _psql(server_url, "CHECKPOINT", database=name, timeout=600)
