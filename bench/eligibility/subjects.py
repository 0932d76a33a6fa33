"""What B is: integrity-server over prepared data, or a second no-op (to check the harness).

Run no-op against no-op and the ratio must come out near 1.0: anything else is the
harness (or the machine) favouring one side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.eligibility.messages import representative_response
from bench.eligibility.ops_setup import ServiceData, prepare
from bench.eligibility.options import Options
from bench.eligibility.processes import Child
from bench.eligibility.servers import start_integrity, start_noop

# Starts B's server: (cores or None, folder for its log, name) -> (process, port).
Starter = Callable[[str | None, Path, str], tuple[Child, int]]
NOOP_TOKEN = "noop-bench-token"  # sent so both servers get the same request bytes


@dataclass(frozen=True)
class Subject:
    label: str
    token: str
    hot_uscc: str
    pool: tuple[str, ...]
    pool_file: Path
    start: Starter
    details: dict[str, Any]
    database_command: str | None = None
    """Process name of the database server B uses, whose CPU is B's too (postgres)."""


def integrity_subject(options: Options, cache_root: Path, say: Callable[[str], None]) -> Subject:
    data: ServiceData = prepare(
        cache_root,
        options.backend,
        options.enterprises,
        options.postgres_server,
        options.fresh,
        say,
    )
    pool = tuple(data.pool_file.read_text("ascii").split())

    def start(cores: str | None, log_dir: Path, name: str) -> tuple[Child, int]:
        return start_integrity(
            data, cores, options.server_log_level, log_dir, name, options.cpu_policy
        )

    return Subject(
        label=f"integrity-server ({data.backend}, {data.enterprises:,} enterprises)",
        token=data.token,
        hot_uscc=data.hot_uscc,
        pool=pool,
        pool_file=data.pool_file,
        start=start,
        details={
            "backend": data.backend,
            "enterprises": data.enterprises,
            "data_folder": str(data.folder),
            "database": data.database_url.rsplit("/", 1)[-1],
            "hot_uscc": data.hot_uscc,
            "server_log_level": options.server_log_level,
            "cpu_policy": options.cpu_policy,
        },
        database_command="postgres" if data.backend == "postgresql" else None,
    )


def noop_subject(run_dir: Path, cpu_policy: str, count: int = 10_000) -> Subject:
    from service.domain.identifiers.uscc import make_uscc

    pool = tuple(make_uscc("9", "1", "330106", f"MA{index:06d}") for index in range(count))
    pool_file = run_dir / "noop-usccs.txt"
    pool_file.write_text("\n".join(pool) + "\n", encoding="ascii")
    response = representative_response().SerializeToString()

    def start(cores: str | None, log_dir: Path, name: str) -> tuple[Child, int]:
        return start_noop(name, response, cores, log_dir, cpu_policy=cpu_policy)

    return Subject(
        label="no-op grpc.aio (as B)",
        token=NOOP_TOKEN,
        hot_uscc=pool[0],
        pool=pool,
        pool_file=pool_file,
        start=start,
        details={"synthetic_usccs": count, "cpu_policy": cpu_policy},
    )
