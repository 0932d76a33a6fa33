"""A console script (integrity-server, integrity-ops, integrity-worker) run in its own
process to its end, as an operator runs it, and the one line it must say when it stops."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

EXIT_TIMEOUT = 60.0


def console_script(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@dataclass(frozen=True)
class Exited:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def problem_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


async def run_to_exit(program: str, env: dict[str, str], *args: str) -> Exited:
    """Run the console script with exactly this environment until it exits."""
    process = await asyncio.create_subprocess_exec(
        console_script(program),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), EXIT_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{program} did not stop") from None
    assert process.returncode is not None
    return Exited(process.returncode, out.decode(), err.decode())


def assert_one_line(result: Exited, program: str, exit_code: int, *named: str) -> str:
    """One line on stderr after the program's name, naming each of `named`, the exit code,
    and no traceback anywhere."""
    assert result.exit_code == exit_code, result
    assert "Traceback" not in result.stderr + result.stdout, result
    assert len(result.problem_lines) == 1, result.problem_lines
    line = result.problem_lines[0]
    assert line.startswith(f"{program}: "), line
    for name in named:
        assert name in line, line
    return line
