"""The demo's long-running processes (integrity-server, the registry simulator): started,
waited for until they say they are ready, their output kept in a log file, and stopped
when the demo ends, however it ends (an error or Ctrl-C included)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

STOP_TIMEOUT = 30.0
START_TIMEOUT = 60.0

ReadyLine = Callable[[Mapping[str, Any]], bool]


class ProcessDidNotStart(RuntimeError):
    pass


@contextlib.contextmanager
def running(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    log: Path,
    ready: ReadyLine,
) -> Iterator[Mapping[str, Any]]:
    """Run ``command`` until the block ends; yields the JSON line ``ready`` accepted.

    Its stdout and stderr go to ``log``; a process that exits, or does not say it is
    ready within START_TIMEOUT, is stopped and raises ProcessDidNotStart naming the log."""
    process = subprocess.Popen(  # noqa: S603  (the service's own programs, arguments built here)
        list(command),
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        # Out of the terminal's process group: Ctrl-C reaches the demo alone, which then
        # stops its processes in order (a server drains) rather than all dying at once.
        start_new_session=True,
    )
    try:
        yield _ready_line(process, Path(command[0]).name, log, ready)
    finally:
        stop(process)


def _ready_line(
    process: subprocess.Popen[str], name: str, log: Path, ready: ReadyLine
) -> Mapping[str, Any]:
    """The ready line, read by a thread that then keeps draining the output into the log
    (so a full pipe never blocks the process), waited for until START_TIMEOUT."""
    found: list[Mapping[str, Any]] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        with log.open("w", encoding="utf-8") as sink:
            for line in process.stdout:
                sink.write(line)
                sink.flush()
                event = _json_line(line)
                if not found and event is not None and ready(event):
                    found.append(event)
                    seen.set()
        seen.set()

    threading.Thread(target=read, daemon=True).start()
    seen.wait(START_TIMEOUT)
    if not found:
        raise ProcessDidNotStart(f"{name} did not start within {START_TIMEOUT:.0f} s; see {log}")
    return found[0]


def _json_line(line: str) -> Mapping[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM (a server drains its calls), then SIGKILL past the deadline."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
