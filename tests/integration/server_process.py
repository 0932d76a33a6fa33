"""integrity-server in its own process, as deployed: started, or seen failing to start."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

SERVER = str(Path(sys.executable).parent / "integrity-server")
STARTUP_TIMEOUT = 60.0


@dataclass
class ServerProcess:
    process: asyncio.subprocess.Process
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def read_rest(self) -> str:
        assert self.process.stdout is not None
        rest = await asyncio.wait_for(self.process.stdout.read(), STARTUP_TIMEOUT)
        self.lines.extend(rest.decode().splitlines())
        return "\n".join(self.lines)


async def start_server(env: dict[str, str], listen: str = "127.0.0.1:0") -> ServerProcess:
    process = await asyncio.create_subprocess_exec(
        SERVER,
        "--listen",
        listen,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    while True:
        raw = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT)
        if not raw:
            raise AssertionError("server exited during start-up:\n" + "\n".join(lines))
        line = raw.decode().rstrip()
        lines.append(line)
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "server_started":
                return ServerProcess(process, int(event["port"]), lines)


@dataclass(frozen=True)
class FailedStart:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def problem_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


async def failed_start(env: dict[str, str], *args: str) -> FailedStart:
    """Run integrity-server expecting it to give up during start-up."""
    process = await asyncio.create_subprocess_exec(
        SERVER,
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), STARTUP_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError("integrity-server did not stop during start-up") from None
    assert process.returncode is not None
    return FailedStart(process.returncode, out.decode(), err.decode())
