"""Child processes of the harness: start, wait until ready, stop by pid; CPU from /proc.

Every wait is bounded. Children are stopped by their own pid (SIGTERM, then SIGKILL after
a grace period), never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
LOOPBACK = "127.0.0.1"
# Children run from the repository root, where `python -m bench.eligibility...` resolves.
REPO_ROOT = Path(__file__).resolve().parents[2]


class ProcessFailed(RuntimeError):
    """A child exited or did not become ready in time; the message quotes its log."""


def free_port() -> int:
    """A port free on loopback right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def pinned(command: Sequence[str], cores: str | None) -> list[str]:
    """`command` under `taskset -c cores` (taskset execs it: the pid stays the command's)."""
    return ["taskset", "-c", cores, *command] if cores else list(command)


def parse_cores(cores: str) -> set[int]:
    """taskset's list format: "1", "0,2", "0-3"."""
    chosen: set[int] = set()
    for part in cores.split(","):
        first, _, last = part.strip().partition("-")
        chosen.update(range(int(first), int(last or first) + 1))
    return chosen


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of `pid` so far (/proc/<pid>/stat utime + stime)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND


def cpu_by_command(command_name: str) -> dict[int, float]:
    """CPU so far of every process named `command_name` (/proc/<pid>/comm), by pid."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            if (entry / "comm").read_text().strip() == command_name:
                found[int(entry.name)] = process_cpu_seconds(int(entry.name))
    return found


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU between two cpu_by_command readings (a process that exited in between is lost)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


@dataclass(frozen=True)
class MachineCpu:
    """Whole-machine CPU so far, in core-seconds (/proc/stat)."""

    busy: float
    steal: float

    @classmethod
    def read(cls) -> MachineCpu:
        with open("/proc/stat") as stream:
            values = [int(v) for v in stream.readline().split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = values
        busy = user + nice + system + irq + softirq
        return cls(busy / _TICKS_PER_SECOND, steal / _TICKS_PER_SECOND)

    def __sub__(self, earlier: MachineCpu) -> MachineCpu:
        return MachineCpu(self.busy - earlier.busy, self.steal - earlier.steal)


class Child:
    """One child process with its output in a log file."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log_path: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        # Truncate: readiness is read from this log, and an old "ready" line would lie.
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            list(command), stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def wait_ready(self, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise ProcessFailed(
                    f"{self.name} exited with {self.popen.returncode} before it was ready; "
                    f"{self.log_path}:\n{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.1)
        self.stop()
        raise ProcessFailed(
            f"{self.name} was not ready after {timeout:.0f} s; {self.log_path}:\n{self.log_tail()}"
        )

    def wait_idle(self, timeout: float, cores: float = 0.05, window: float = 1.0) -> float | None:
        """Wait until it uses under `cores` of CPU over `window` s; seconds waited, None if never.

        A server may work in the background after it starts (integrity-server warms its
        caches for ~10 s): measuring during that would charge the warming to the rounds.
        """
        started = time.monotonic()
        last = self.cpu_seconds()
        while time.monotonic() - started < timeout:
            time.sleep(window)
            now = self.cpu_seconds()
            if now - last < cores * window:
                return time.monotonic() - started - window
            last = now
        return None

    def stop(self, grace: float = 15.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        self._log.close()
        return self.popen.returncode

    def log_contains(self, text: str) -> bool:
        with contextlib.suppress(OSError):
            return text in self.log_path.read_text(errors="replace")
        return False
