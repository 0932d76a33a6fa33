"""What a result needs to be read later: when, where, with what, on which machine."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.eligibility import h2load
from bench.eligibility.options import Options
from bench.eligibility.processes import REPO_ROOT
from bench.eligibility.subjects import Subject
from bench.eligibility.variants import DESCRIPTIONS


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def run_metadata(
    options: Options, subject: Subject, h2load_path: str, run_dir: Path
) -> dict[str, Any]:
    # Read-only: another engineer works in this checkout.
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=10
    ).stdout.strip()
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run_folder": str(run_dir),
        "options": asdict(options),
        "subject": {"label": subject.label, **subject.details},
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "kernel": platform.release(),
            "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        },
        "versions": {
            "python": sys.version.split()[0],
            "grpcio": version("grpcio"),
            "protobuf": version("protobuf"),
            "uvloop": version("uvloop"),
            "h2load": h2load.h2load_version(h2load_path),
        },
        "git_commit": commit,
        "variants": {v: DESCRIPTIONS[v] for v in options.variants},
    }
