"""integrity-ops: operations on the service's data (keys, migrations, registry snapshots).

Each subcommand runs one coroutine, like the server, against the same settings.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from service.domain.callers import CallerKind, Scope
from service.domain.errors import ServiceError
from service.settings import ConfigError, PiiKeys, Settings


def _settings(**flags: Any) -> Settings:
    try:
        return Settings.load(os.environ, **flags)
    except ConfigError as error:
        click.echo(str(error), err=True)
        sys.exit(2)


def _clock() -> Any:
    """The clock commands run on: the system's, unless whoever invoked the command handed one
    in as click's context object (``{"clock": ...}``), as the tests do to fix "now"."""
    context = click.get_current_context(silent=True)
    handed = context.find_root().obj if context is not None else None
    return handed.get("clock") if isinstance(handed, dict) else None


@click.group()
def main() -> None:
    """Operate the enterprise integrity service."""


@main.group()
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


_db_options = [
    click.option("--database-url", help="[INTEGRITY_DATABASE_URL]"),
    click.option("--registry-url", help="[INTEGRITY_REGISTRY_URL]"),
    click.option("--keys-file", help="[INTEGRITY_KEYS_FILE]"),
]


def _with_db_options(function: Any) -> Any:
    for option in reversed(_db_options):
        function = option(function)
    return function


@main.command("migrate")
@_with_db_options
def migrate_command(**flags: Any) -> None:
    """Bring the database schema up to date."""
    from service.adapters.pii_vault import AesGcmVault
    from service.adapters.storage.engine import create_engine
    from service.adapters.storage.migrate import migrate

    settings = _settings(**flags)
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


@main.group()
def callers() -> None:
    """Platforms, the gateway and ops: their credentials and scopes."""


def _credentials_call(flags: dict[str, Any], work: Any) -> Any:

    return _app_call(flags, lambda app: work(app.credentials))


@callers.command("create")
@click.option("--kind", type=click.Choice([k.value for k in CallerKind]), required=True)
@click.option("--name", required=True, help="who this caller is, for people")
@click.option("--platform", help="the marketplace code, for platform callers (e.g. 1688)")
@click.option(
    "--scopes",
    help="comma-separated scopes (default: the kind's): " + ", ".join(s.value for s in Scope),
)
@_with_db_options
def callers_create(
    kind: str, name: str, platform: str | None, scopes: str | None, **flags: Any
) -> None:
    """Create a caller and print its first credential (shown only this once)."""
    try:
        chosen = None if scopes is None else [Scope(s.strip()) for s in scopes.split(",")]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scopes") from exc
    caller, token = _credentials_call(
        flags,
        lambda credentials: credentials.create_caller(
            CallerKind(kind), name, platform=platform, scopes=chosen
        ),
    )
    click.echo(
        f"caller {caller.id} ({caller.kind.value}) scopes: {','.join(sorted(caller.scopes))}"
    )
    click.echo(f"token: {token}")


@callers.command("add-credential")
@click.argument("caller_id")
@_with_db_options
def callers_add_credential(caller_id: str, **flags: Any) -> None:
    """Issue another credential for a caller (rotate: add, deploy, then revoke the old key)."""
    token = _credentials_call(flags, lambda credentials: credentials.add_credential(caller_id))
    click.echo(f"token: {token}")


@callers.command("revoke")
@click.argument("caller_or_key_id")
@_with_db_options
def callers_revoke(caller_or_key_id: str, **flags: Any) -> None:
    """Revoke a caller with all its credentials, or one credential by its key id."""
    _credentials_call(flags, lambda credentials: credentials.revoke(caller_or_key_id))
    click.echo(f"revoked {caller_or_key_id}")


@callers.command("list")
@_with_db_options
def callers_list(**flags: Any) -> None:
    """Every caller, active or revoked."""
    for caller, active in _credentials_call(flags, lambda c: c.list_callers()):
        state = "active" if active else "revoked"
        platform = f" platform={caller.platform}" if caller.platform else ""
        click.echo(
            f"{caller.id} {caller.kind.value}{platform} {state} "
            f"scopes={','.join(sorted(caller.scopes))} name={caller.name}"
        )


@main.group()
def ledger() -> None:
    """The disclosure ledger."""


@ledger.command("verify")
@_with_db_options
def ledger_verify(**flags: Any) -> None:
    """Recompute the ledger's hash chain; name the first entry that does not fit."""

    check = _app_call(flags, lambda app: app.disclosures.verify())
    if check.first_broken is None:
        click.echo(f"ledger intact: {check.checked} entries")
        return
    click.echo(
        f"ledger BROKEN at entry {check.first_broken}: {check.problem} "
        f"({check.checked} entries before it are intact)"
    )
    sys.exit(1)


@main.group()
def judicial() -> None:
    """Judicial and regulatory entries."""


@judicial.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="no progress bar")
@_with_db_options
def judicial_import(path: Path, quiet: bool, **flags: Any) -> None:
    """Import judicial and regulatory entries (JSON Lines or .csv). Safe to run again.

    Columns: uscc, entry_id, kind (dishonest_debtor, abnormal_operations,
    serious_violation, administrative_penalty), authority, reason, listing_date,
    removal_date, expiry_date, source, case_number.
    """
    from service.adapters.registry_files import count_lines, read_registry_file

    async def run(app: Any) -> Any:
        with tqdm(total=count_lines(path), unit="row", disable=quiet, file=sys.stderr) as bar:
            return await app.judicial_importer.run(read_registry_file(path), bar.update)

    report = _app_call(flags, run)
    click.echo(
        f"{report.changed} entries added or changed, {report.unchanged} unchanged, "
        f"{len(report.rejected)} rejected"
    )
    for rejected in report.rejected:
        click.echo(f"  line {rejected.line}: {rejected.reason}")


@main.group()
def platform() -> None:
    """Platform data for the business integrity archive."""


@platform.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--platform", "platform_code", required=True, help="the platform the data is for")
@click.option("--quiet", is_flag=True, help="no progress bar")
@_with_db_options
def platform_import(path: Path, platform_code: str, quiet: bool, **flags: Any) -> None:
    """Import platform records (JSON Lines, one PlatformRecord in proto JSON a line).

    The same checks and idempotency as IngestPlatformRecords: each line's event_id.
    """
    from google.protobuf import json_format
    from integrity.v1 import platform_data_pb2

    from service.adapters.registry_files import count_lines
    from service.api.platform_data_servicer import record_draft
    from service.app.ingestion import RecordOutcome
    from service.domain.callers import Caller

    operator = Caller("integrity-ops", CallerKind.OPS, "integrity-ops", None, frozenset(Scope))
    totals = dict.fromkeys(RecordOutcome, 0)
    problems: list[str] = []

    async def ingest(batch: list[tuple[int, Any]], app: Any) -> None:
        report = await app.ingestion.ingest(
            operator, f"platforms/{platform_code}", [record_draft(r) for _, r in batch]
        )
        for (line, _), result in zip(batch, report.results, strict=True):
            totals[result.outcome] += 1
            for violation in result.violations:
                problems.append(f"  line {line}: {violation.field}: {violation.description}")

    async def run(app: Any) -> None:
        batch: list[tuple[int, Any]] = []
        with (
            tqdm(total=count_lines(path), unit="row", disable=quiet, file=sys.stderr) as bar,
            path.open(encoding="utf-8") as stream,
        ):
            for line_number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    record = json_format.Parse(line, platform_data_pb2.PlatformRecord())
                except json_format.ParseError as error:
                    totals[RecordOutcome.REJECTED] += 1
                    problems.append(f"  line {line_number}: {error}")
                    bar.update(1)
                    continue
                batch.append((line_number, record))
                if len(batch) == 1000:
                    await ingest(batch, app)
                    bar.update(len(batch))
                    batch = []
            if batch:
                await ingest(batch, app)
                bar.update(len(batch))

    _app_call(flags, run)
    click.echo(
        f"{totals[RecordOutcome.ACCEPTED]} accepted, {totals[RecordOutcome.DUPLICATE]} "
        f"duplicates, {totals[RecordOutcome.REJECTED]} rejected"
    )
    for problem in problems:
        click.echo(problem)


def _app_call(flags: dict[str, Any], work: Any) -> Any:
    """Run one coroutine against a bootstrapped application; service errors end the command."""
    from service.bootstrap import bootstrap

    settings = _settings(**flags)

    async def run() -> Any:
        app = await bootstrap(settings, clock=_clock())
        try:
            return await work(app)
        finally:
            await app.close()

    try:
        return asyncio.run(run())
    except ServiceError as error:
        details = getattr(error, "violations", ())
        lines = [error.message] + [f"  {v.field}: {v.description}" for v in details]
        raise click.ClickException("\n".join(lines)) from error


@main.group()
def scorecard() -> None:
    """Scorecard versions: load, shadow, compare, activate."""


@scorecard.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--shadow", is_flag=True, help="run beside the active version without replacing it")
@_with_db_options
def scorecard_load(path: Path, shadow: bool, **flags: Any) -> None:
    """Check a scorecard file and load it as the active (or shadow) version."""
    document = json.loads(path.read_text(encoding="utf-8"))
    card = _app_call(flags, lambda app: app.levels.load_scorecard(document, shadow=shadow))
    click.echo(f"scorecard {card.version} loaded as {'shadow' if shadow else 'active'}")


@scorecard.command("activate")
@click.argument("version")
@_with_db_options
def scorecard_activate(version: str, **flags: Any) -> None:
    """Make a loaded version active; the previous active version is retired."""
    _app_call(flags, lambda app: app.levels.activate(version))
    click.echo(f"scorecard {version} is active")


@scorecard.command("compare")
@_with_db_options
def scorecard_compare(**flags: Any) -> None:
    """Class distributions of the active and shadow versions, side by side."""
    comparison = _app_call(flags, lambda app: app.levels.compare())
    classes = list(dict.fromkeys([*comparison.active, *comparison.shadow]))
    click.echo(
        f"{'class':20} {comparison.active_version:>12} {comparison.shadow_version or '-':>12}"
    )
    for name in classes:
        click.echo(
            f"{name:20} {comparison.active.get(name, 0):>12} {comparison.shadow.get(name, 0):>12}"
        )


@main.group()
def level() -> None:
    """Integrity levels."""


@level.command("recompute")
@click.argument("usccs", nargs=-1)
@click.option("--quiet", is_flag=True, help="no progress bar")
@_with_db_options
def level_recompute(usccs: tuple[str, ...], quiet: bool, **flags: Any) -> None:
    """Recompute the given enterprises' levels, or every enterprise's when none are given."""
    started = time.perf_counter()

    async def work(app: Any) -> int:
        if usccs:
            await app.levels.recompute(usccs)
            return len(usccs)
        with tqdm(unit="enterprise", disable=quiet, file=sys.stderr) as bar:
            return int(await app.levels.recompute_all(bar.update))

    count = _app_call(flags, work)
    click.echo(f"recomputed {count} enterprises in {time.perf_counter() - started:.1f}s")


@level.command("history")
@click.argument("uscc")
@_with_db_options
def level_history(uscc: str, **flags: Any) -> None:
    """Every level an enterprise has had, newest first."""
    for item in _app_call(flags, lambda app: app.levels.history(uscc)):
        click.echo(
            f"{item.compute_time:%Y-%m-%d %H:%M:%S} {item.level_class:18} {item.score:>4} "
            f"{item.scorecard_version} {item.inputs_digest[:12]} {item.cap_reason}"
        )


@main.group()
def policy() -> None:
    """Platform access and eligibility policies: load, list, retire."""


@policy.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_with_db_options
def policy_load(path: Path, **flags: Any) -> None:
    """Check a policy version (JSON) and load it; a malformed one changes nothing."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{path} is not JSON: {error}") from error
    loaded, created = _app_call(flags, lambda app: app.policies.load(document))
    state = "loaded" if created else "already loaded"
    click.echo(
        f"{loaded.reference} {state}: announced {loaded.announce_time.isoformat()}, "
        f"effective {loaded.effective_time.isoformat()}"
    )


@policy.command("list")
@_with_db_options
def policy_list(**flags: Any) -> None:
    """Every policy version with its announcement, effective and retirement times."""
    for item, retired in _app_call(flags, lambda app: app.policies.list()):
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
@_with_db_options
def policy_retire(platform: str, policy_id: str, version: int, **flags: Any) -> None:
    """Retire a policy version from now on; the version before it applies again, if any."""
    _app_call(flags, lambda app: app.policies.retire(platform, policy_id, version))
    click.echo(f"platforms/{platform}/policies/{policy_id}@{version} retired")


@main.group()
def enterprise() -> None:
    """Service state of an enterprise: suspend, restore."""


async def _set_service_state(app: Any, uscc: str, *, suspended: bool, reason: str) -> None:
    from service.domain.archive import service_state_fact
    from service.domain.errors import InvalidArgument, InvalidIdentifier
    from service.domain.identifiers.uscc import parse_uscc

    try:
        parse_uscc(uscc)
    except InvalidIdentifier as problem:
        raise InvalidArgument([problem.at("uscc")]) from problem
    fact = service_state_fact(uscc, suspended=suspended, reason=reason)
    changed = await app.fact_writer.write([fact], source="ops")
    await app.levels.recompute(changed or [uscc])


@enterprise.command("suspend")
@click.argument("uscc")
@click.option(
    "--reason", required=True, help="why, as the agreement lists (violation, risk control, ...)"
)
@_with_db_options
def enterprise_suspend(uscc: str, reason: str, **flags: Any) -> None:
    """Suspend the service for an enterprise: its eligibility checks are denied."""
    _app_call(flags, lambda app: _set_service_state(app, uscc, suspended=True, reason=reason))
    click.echo(f"{uscc} suspended")


@enterprise.command("restore")
@click.argument("uscc")
@_with_db_options
def enterprise_restore(uscc: str, **flags: Any) -> None:
    """Restore the service for a suspended enterprise."""
    _app_call(flags, lambda app: _set_service_state(app, uscc, suspended=False, reason=""))
    click.echo(f"{uscc} restored")


@main.group()
def registry() -> None:
    """Registry snapshots."""


@registry.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--snapshot-time",
    help="when the registry data was captured (ISO 8601 with offset); default: the file's "
    "modification time. Rows may carry their own snapshot_time.",
)
@click.option("--quiet", is_flag=True, help="no progress bar")
@_with_db_options
def registry_import(path: Path, snapshot_time: str | None, quiet: bool, **flags: Any) -> None:
    """Import a registry snapshot file (JSON Lines, or .csv). Safe to run again."""
    from service.adapters.registry_files import count_lines, read_registry_file
    from service.adapters.storage.migrate import migrate

    if snapshot_time:
        try:
            default_time = dt.datetime.fromisoformat(snapshot_time)
        except ValueError as exc:
            raise click.BadParameter("not an ISO 8601 time", param_hint="--snapshot-time") from exc
        if default_time.tzinfo is None:
            raise click.BadParameter("needs a UTC offset", param_hint="--snapshot-time")
    else:
        default_time = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    started = time.perf_counter()

    async def run(app: Any) -> Any:
        if app.registry_engine is not app.engine:
            await migrate(app.registry_engine, app.vault)
        with tqdm(total=count_lines(path), unit="row", disable=quiet, file=sys.stderr) as bar:
            return await app.importer.run(read_registry_file(path), default_time, bar.update)

    report = _app_call(flags, run)
    elapsed = time.perf_counter() - started
    click.echo(
        f"read {report.read} rows in {elapsed:.1f}s: {report.inserted} inserted, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.stale} older than "
        f"held, {report.repeated} repeated, {len(report.rejected)} rejected"
    )
    for rejected in report.rejected:
        click.echo(f"  line {rejected.line}: {rejected.reason}")


@registry.command("generate")
@click.option("--count", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
def registry_generate(count: int, seed: int, out: Path) -> None:
    """Write synthetic registry records (JSON Lines) for demos, tests and benchmarks."""
    from service.demo.synthetic import generate_registry_records, write_jsonl

    out.parent.mkdir(parents=True, exist_ok=True)
    clock = _clock()
    today = (clock.now() if clock is not None else dt.datetime.now(dt.UTC)).date()
    with out.open("w", encoding="utf-8") as stream:
        written = write_jsonl(generate_registry_records(count, seed, as_of=today), stream)
    click.echo(f"wrote {written} records to {out}")


if __name__ == "__main__":
    main()
