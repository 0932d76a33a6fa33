"""integrity-server in its own process, as deployed: started, or seen failing to start."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field

from tests.integration.console_process import Exited, console_script, run_to_exit

SERVER = console_script("integrity-server")
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


FailedStart = Exited


async def failed_start(env: dict[str, str], *args: str) -> FailedStart:
    """Run integrity-server expecting it to give up during start-up."""
    return await run_to_exit("integrity-server", env, *args)
