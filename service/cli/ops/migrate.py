"""integrity-ops migrate: bring the schema up to date."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from service.cli.ops.app_session import database_options, load_settings


@click.command("migrate")
@database_options
def migrate_command(**flags: Any) -> None:
    """Bring the database schema up to date."""
    from service.adapters.pii_vault import AesGcmVault
    from service.adapters.storage.engine import create_engine
    from service.adapters.storage.migrate import migrate

    settings = load_settings(**flags)
    keys = settings.pii_keys
    vault = AesGcmVault(keys.encryption_keys, keys.active_key_id, keys.digest_key)

    async def run() -> None:
        for url in {settings.database_url, settings.effective_registry_url}:
            engine = create_engine(url)
            try:
                await migrate(engine, vault)
            finally:
                await engine.dispose()

    asyncio.run(run())
    click.echo("schema is current")
