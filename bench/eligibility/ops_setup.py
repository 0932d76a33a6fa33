"""The service's data, set up the way ops do it, with the real integrity-ops commands.

    integrity-ops keys generate --out DIR/keys.json
    integrity-ops registry generate --count N --seed S --out DIR/registry.jsonl
    integrity-ops registry import DIR/registry.jsonl --quiet
    integrity-ops callers create --kind platform --name Bench --platform bench
    integrity-ops policy load DIR/policy.json

Importing 100,000 enterprises takes over a minute, so the prepared folder (and, for
PostgreSQL, the database integrity_bench_<N>) is kept, keyed by backend and N, and each
finished step is recorded in DIR/state.json: a rerun skips what is done; --fresh starts over.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.eligibility import postgres
from bench.eligibility.messages import PLATFORM, POLICY

BIN = Path(sys.executable).parent
SEED = 2026
# The limiter must never be what the benchmark measures.
RATE_LIMITS = json.dumps({"platform": {"per_second": 1_000_000, "burst": 1_000_000}})
POLICY_DOCUMENT: dict[str, Any] = {
    "platform": PLATFORM,
    "policy": POLICY,
    "version": 1,
    "description": "bench",
    "announce_time": "2026-01-01T00:00:00+08:00",
    "effective_time": "2026-01-08T00:00:00+08:00",
    "conditions": [
        {"kind": "business_status"},
        {"kind": "licence_valid_for_days", "days": 30},
        {"kind": "min_class", "class": "B", "on_unmet": "review"},
        {"kind": "no_active_judicial", "kinds": ["dishonest_debtor"]},
    ],
}


class SetupFailed(RuntimeError):
    pass


def console_script(name: str) -> str:
    beside = BIN / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SetupFailed(f"{name} is not installed in this virtualenv (pip install -e .)")
    return found


def clean_environment(**integrity: str) -> dict[str, str]:
    """This process's environment without inherited INTEGRITY_* settings, plus `integrity`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRITY_")}
    env.update({f"INTEGRITY_{key.upper()}": value for key, value in integrity.items()})
    return env


def missing_command(words: tuple[str, ...], output: str) -> SetupFailed:
    command = "integrity-ops " + " ".join(words)
    return SetupFailed(
        f"`{command}` does not exist in this checkout ({output.strip().splitlines()[-1]}).\n"
        f"The steps before it are done and kept; run the benchmark again once `{command}` "
        "exists and it carries on from there. To exercise the harness alone meanwhile, "
        "run with --service noop."
    )


@dataclass(frozen=True)
class ServiceData:
    """A prepared database and what calling the service over it needs."""

    folder: Path
    backend: str
    enterprises: int
    database_url: str
    keys_file: Path
    token: str
    hot_uscc: str
    """An enterprise in business with a long-valid licence: every condition is evaluated."""
    pool_file: Path
    """Every generated USCC, shuffled, one a line."""

    def server_env(self, log_level: str, cpu_policy: str) -> dict[str, str]:
        return clean_environment(
            database_url=self.database_url,
            keys_file=str(self.keys_file),
            rate_limits=RATE_LIMITS,
            log_level=log_level,
            cpu_policy=cpu_policy,
        )


class _State:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def done(self, step: str) -> bool:
        return step in self.values.get("steps", [])

    def record(self, step: str, **values: Any) -> None:
        self.values.setdefault("steps", []).append(step)
        self.values.update(values)
        self.path.write_text(json.dumps(self.values, indent=2))
        self.path.chmod(0o600)  # it holds the bench caller's token


def prepare(
    cache_root: Path,
    backend: str,
    enterprises: int,
    postgres_server: str,
    fresh: bool,
    say: Callable[[str], None],
) -> ServiceData:
    folder = cache_root / f"{backend}-{enterprises}"
    db_name = postgres.database_name(enterprises)
    if backend == "postgresql":
        postgres.check_server_url(postgres_server)  # loopback only
    if fresh:
        database = f" and database {db_name}" if backend == "postgresql" else ""
        say(f"--fresh: removing {folder}{database}")
        if backend == "postgresql":
            postgres.drop(postgres_server, db_name)
        if folder.is_dir() and folder.parent == cache_root:
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = _State(folder / "state.json")
    keys = folder / "keys.json"
    registry = folder / "registry.jsonl"
    if backend == "sqlite":
        url = f"sqlite:///{(folder / 'integrity.db').resolve()}"
    else:
        url = postgres.database_url(postgres_server, db_name)
    env = clean_environment(database_url=url, keys_file=str(keys))
    ops = console_script("integrity-ops")

    def run(*args: str, timeout: float) -> str:
        started = time.monotonic()
        try:
            result = subprocess.run(
                [ops, *args], env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as error:
            command = " ".join(args)
            raise SetupFailed(f"integrity-ops {command} took over {timeout:.0f} s") from error
        if result.returncode != 0 and "No such command" in result.stderr:
            raise missing_command(args[:2], result.stderr)
        if result.returncode != 0:
            raise SetupFailed(
                f"integrity-ops {' '.join(args)} failed ({result.returncode}):\n"
                f"{(result.stdout + result.stderr).strip()[-3000:]}"
            )
        say(f"  integrity-ops {' '.join(args[:2])}: {time.monotonic() - started:.1f} s")
        return result.stdout

    if not keys.exists():
        run("keys", "generate", "--out", str(keys), timeout=120)
    if not state.done("registry_file"):
        say(f"generating {enterprises} enterprises")
        registry.unlink(missing_ok=True)
        run(
            "registry", "generate", "--count", str(enterprises), "--seed", str(SEED),
            "--out", str(registry), timeout=3600,
        )  # fmt: skip
        state.record("registry_file")
    if not state.done("database"):
        if backend == "postgresql":
            postgres.create(postgres_server, db_name)
        state.record("database", database_url=url)
    if not state.done("import"):
        say(f"importing {enterprises:,} enterprises into {backend} (SQLite: ~75 s per 100,000)")
        say("  " + run("registry", "import", str(registry), "--quiet", timeout=4 * 3600).strip())
        state.record("import")
    if not state.done("caller"):
        output = run(
            "callers", "create", "--kind", "platform", "--name", "Bench", "--platform", PLATFORM,
            timeout=120,
        )  # fmt: skip
        state.record("caller", token=_token_from(output))
    if not state.done("policy"):
        policy_file = folder / "policy.json"
        policy_file.write_text(json.dumps(POLICY_DOCUMENT, indent=2))
        run("policy", "load", str(policy_file), timeout=120)
        state.record("policy")
    if not state.done("pool"):
        hot = _write_pool(registry, folder / "usccs.txt")
        state.record("pool", hot_uscc=hot)
    if not state.done("ready"):
        state.record("ready", enterprises=enterprises, backend=backend, seed=SEED)
    if backend == "postgresql":
        started = time.monotonic()
        postgres.settle(postgres_server, db_name)
        say(f"  VACUUM (ANALYZE) and CHECKPOINT: {time.monotonic() - started:.1f} s")
    return ServiceData(
        folder=folder,
        backend=backend,
        enterprises=enterprises,
        database_url=url,
        keys_file=keys,
        token=str(state.values["token"]),
        hot_uscc=str(state.values["hot_uscc"]),
        pool_file=folder / "usccs.txt",
    )


def _token_from(output: str) -> str:
    """The credential from `callers create`'s line `token: <token>`."""
    for line in output.splitlines():
        if line.startswith("token:") and line.removeprefix("token:").strip():
            return line.removeprefix("token:").strip()
    raise SetupFailed(f"`integrity-ops callers create` printed no token line:\n{output}")


def _write_pool(registry: Path, pool_file: Path) -> str:
    """Shuffle every USCC into `pool_file`; return one in business, licence valid 60+ days."""
    horizon = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    usccs: list[str] = []
    hot = None
    with registry.open(encoding="utf-8") as stream:
        for line in stream:
            row = json.loads(line)
            usccs.append(row["uscc"])
            term_end = row.get("term_end")
            if (
                hot is None
                and row.get("status") == "in_business"
                and (term_end is None or term_end >= horizon)
            ):
                hot = row["uscc"]
    if hot is None:
        raise SetupFailed(f"{registry} has no enterprise in business with a valid licence")
    random.Random(SEED).shuffle(usccs)
    pool_file.write_text("\n".join(usccs) + "\n", encoding="ascii")
    return str(hot)
