"""integrity-ops policy: platform access and eligibility policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from service.cli.ops.app_session import database_options, run_with_app


@click.group()
def policy() -> None:
    """Platform access and eligibility policies: load, list, retire."""


@policy.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@database_options
def policy_load(path: Path, **flags: Any) -> None:
    """Check a policy version (JSON) and load it; a malformed one changes nothing."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{path} is not JSON: {error}") from error
    loaded, created = run_with_app(flags, lambda app: app.policies.load(document))
    state = "loaded" if created else "already loaded"
    click.echo(
        f"{loaded.reference} {state}: announced {loaded.announce_time.isoformat()}, "
        f"effective {loaded.effective_time.isoformat()}"
    )


@policy.command("list")
@database_options
def policy_list(**flags: Any) -> None:
    """Every policy version with its announcement, effective and retirement times."""
    for item, retired in run_with_app(flags, lambda app: app.policies.list(), migrate=False):
        retirement = f" retired {retired.isoformat()}" if retired else ""
        click.echo(
            f"{item.reference} announced {item.announce_time.isoformat()} "
            f"effective {item.effective_time.isoformat()}{retirement} "
            f"conditions={len(item.conditions)}"
        )


@policy.command("retire")
@click.argument("platform")
@click.argument("policy_id")
@click.argument("version", type=int)
@database_options
def policy_retire(platform: str, policy_id: str, version: int, **flags: Any) -> None:
    """Retire a policy version from now on; the version before it applies again, if any."""
    run_with_app(flags, lambda app: app.policies.retire(platform, policy_id, version))
    click.echo(f"platforms/{platform}/policies/{policy_id}@{version} retired")
