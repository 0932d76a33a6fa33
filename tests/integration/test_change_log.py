"""The change log: a follower that remembers the highest number it read never skips one."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest

from service.adapters.storage.change_log import append_changes
from service.bootstrap import Application

NOW = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)


async def _waiting_for_an_advisory_lock(postgres_url: str) -> bool:
    connection = await asyncpg.connect(postgres_url)
    try:
        waiting = await connection.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
    finally:
        await connection.close()
    return bool(waiting)


# SQLite writers take turns on the database lock; the ordering is PostgreSQL's problem.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_later_writer_cannot_commit_its_change_before_an_earlier_one(
    app: Application, postgres_url: str
) -> None:
    """On PostgreSQL, numbers are drawn at insert and seen at commit. Without ordering, a
    writer drawing 2 could commit before one holding 1; a follower reading 2 first would
    never read 1."""
    follower = app.follower
    await follower.start()
    seen: list[str] = []
    async with app.engine.connect() as first:
        await first.begin()
        await append_changes(first, ["91110000000000001X"], NOW)  # holds its number, open

        async def second_writer() -> None:
            async with app.engine.begin() as second:
                await append_changes(second, ["91110000000000002X"], NOW)

        second = asyncio.create_task(second_writer())
        deadline = asyncio.get_running_loop().time() + 10
        while not second.done() and not await _waiting_for_an_advisory_lock(postgres_url):
            assert asyncio.get_running_loop().time() < deadline, (
                "second writer neither ran nor waited"
            )
            await asyncio.sleep(0.01)
        seen += await follower.poll()  # whatever has committed so far
        await first.commit()
    await second
    seen += await follower.poll()
    assert sorted(seen) == ["91110000000000001X", "91110000000000002X"]
