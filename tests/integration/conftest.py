"""Fixtures for integrity-server run in its own process."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli.ops import main as ops
from service.settings import PiiKeys
from tests.registry_simulator import registry_simulator  # noqa: F401  (a fixture)


@pytest.fixture
def server_env(tmp_path: Path, postgres_url: str) -> dict[str, str]:
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(PiiKeys.generate().to_json()))
    return {
        "INTEGRITY_DATABASE_URL": f"sqlite:///{tmp_path / 'integrity.db'}",
        # The registry snapshot in PostgreSQL, so a test can hold a lock on it.
        "INTEGRITY_REGISTRY_URL": postgres_url,
        "INTEGRITY_REGISTRY_TIMEOUT": "60",
        "INTEGRITY_KEYS_FILE": str(keys_file),
    }


@pytest.fixture
def token(server_env: dict[str, str]) -> str:
    """A platform credential, issued the way ops issue one."""
    result = CliRunner().invoke(
        ops,
        ["callers", "create", "--kind", "platform", "--name", "Test", "--platform", "test"],
        env=server_env,
    )
    assert result.exit_code == 0, result.output
    return result.output.split("token: ")[1].strip()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on: bound here and never listened on, so connecting is refused."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]
