"""integrity-ops keys: the PII encryption keys file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from service.settings import PiiKeys


@click.group()
def keys() -> None:
    """PII encryption keys."""


@keys.command("generate")
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--key-id", default="k1", show_default=True)
def keys_generate(out: Path, key_id: str) -> None:
    """Write a new keys file (readable by its owner only)."""
    if out.exists():
        raise click.ClickException(f"{out} exists; refusing to overwrite keys")
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        json.dump(PiiKeys.generate(key_id).to_json(), stream, indent=2)
    click.echo(f"wrote {out}")
