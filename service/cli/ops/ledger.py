"""integrity-ops ledger: the disclosure ledger, its checkpoints and its audit."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from service.cli.ops.app_session import database_options, load_settings, run_with_app
from service.domain.checkpoint import NoteInvalid, NoteSigner, NoteVerifier


@click.group()
def ledger() -> None:
    """The disclosure ledger."""


def _verifier(key: str | None) -> NoteVerifier | None:
    if key is None:
        return None
    try:
        return NoteVerifier.parse(key)
    except NoteInvalid as problem:
        raise click.BadParameter(str(problem), param_hint="--key") from None


@ledger.command("verify")
@database_options
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A signed checkpoint kept outside the database (a merchant's, a witness's) to "
    "hold the ledger against as well.",
)
@click.option(
    "--key",
    help="The log's verifier key (name+id+key); default: the service's own "
    "[INTEGRITY_LEDGER_KEY_FILE].",
)
def ledger_verify(checkpoint_file: Path | None, key: str | None, **flags: Any) -> None:
    """Rebuild the ledger's hash chain and Merkle tree from its entries and hold them
    against every published checkpoint: names the first entry that does not fit, and a
    tail cut off or a past rewritten."""
    trusted = checkpoint_file.read_text(encoding="utf-8") if checkpoint_file else None
    verifier = _verifier(key)
    audit = run_with_app(flags, lambda app: app.ledger_log.audit(trusted, verifier), migrate=False)
    if audit.first_broken is not None:
        click.echo(
            f"ledger BROKEN at entry {audit.first_broken}: it does not follow the entry "
            f"before it or its content does not match its hash "
            f"({audit.first_broken - 1} entries before it are intact)"
        )
    for problem in audit.problems:
        click.echo(f"ledger {problem}")
    if not audit.intact:
        sys.exit(1)
    held = (
        "1 checkpoint holds" if audit.checkpoints == 1 else f"{audit.checkpoints} checkpoints hold"
    )
    checked = (
        f"; {held}, the latest of {audit.latest_size} entries"
        if audit.checkpoints
        else "; no checkpoint published yet"
    )
    click.echo(f"ledger intact: {audit.entries} entries{checked}")


@ledger.command("checkpoint")
@database_options
@click.option(
    "--publish/--latest",
    default=True,
    show_default=True,
    help="Sign a checkpoint of the ledger as it is now, or show the latest one published.",
)
def ledger_checkpoint(publish: bool, **flags: Any) -> None:
    """Print a signed checkpoint of the disclosure log (C2SP checkpoint format)."""
    published = run_with_app(
        flags,
        lambda app: app.ledger_log.publish() if publish else app.ledger_log.checkpoint(),
        migrate=False,
    )
    click.echo(published.note, nl=False)


@ledger.command("keygen")
@click.option(
    "--name",
    required=True,
    help="The log's name, its checkpoints' origin: a schema-less URL, e.g. "
    "integrity.example.com/disclosures.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True)
def ledger_keygen(name: str, out: Path) -> None:
    """Write a new checkpoint signing key (readable by its owner only) and print its
    verifier key, the one to give merchants and auditors."""
    try:
        signer = NoteSigner.generate(name)
    except NoteInvalid as problem:
        raise click.BadParameter(str(problem), param_hint="--name") from None
    if out.exists():
        raise click.ClickException(f"{out} exists; refusing to overwrite a signing key")
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(f"{signer}\n")
    click.echo(f"wrote {out}")
    click.echo(f"verifier key: {signer.verifier}")


@ledger.command("verifier-key")
def ledger_verifier_key() -> None:
    """Print the verifier key of the signing key in INTEGRITY_LEDGER_KEY_FILE: what to give
    merchants, auditors and the gateway (INTEGRITY_GATEWAY_LEDGER_KEY)."""
    signer = load_settings().ledger_signer
    if signer is None:
        raise click.ClickException("no signing key: set INTEGRITY_LEDGER_KEY_FILE")
    click.echo(str(signer.verifier))
