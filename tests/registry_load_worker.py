"""One process of a multi-process load on the government registry, for the shared-limits
test: asks the registry about the given enterprises all at once, through the service's
own client and the limiter the service uses on that database (PostgreSQL's, or the
SQLite file's), and prints how it went as one JSON line.

    python -m tests.registry_load_worker URL TOKEN DATABASE_URL SOURCE CONCURRENCY RATE BURST USCC...

It prints {"ready": true} first and starts when a line arrives on stdin, so that several
workers start together.
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx

from service.adapters.registry_http.limits import SourceLimits
from service.adapters.registry_http.shared_limits import shared_limiter
from service.adapters.storage.engine import create_engine
from service.app.ports import RegistryUnavailable
from tests.clock import TestClock
from tests.registry_wire import gov_client, vault


async def _lookup(client: object, uscc: str) -> str:
    try:
        record = await client.lookup(uscc)  # type: ignore[attr-defined]
    except RegistryUnavailable as error:
        return f"unavailable:{error}"
    return "found" if record is not None else "no_record"


async def main(argv: list[str]) -> None:
    url, token, database_url, source, concurrency, rate, burst, *usccs = argv
    engine = create_engine(database_url)
    limits = SourceLimits(int(concurrency), float(rate), burst=int(burst))
    client = gov_client(
        url,
        vault(),
        TestClock(),
        budget=60.0,
        token=token,
        limiter=shared_limiter(engine, source, limits),
    )
    # The first HTTP request of a process is slow (httpx loads its transport): made here,
    # before the start, so that no request of the run arrives later than its start.
    async with httpx.AsyncClient() as warm_up:
        await warm_up.get(f"{url}/_sim/health")
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    outcomes = await asyncio.gather(*(_lookup(client, uscc) for uscc in usccs))
    await client.aclose()
    await engine.dispose()
    print(json.dumps({"outcomes": outcomes}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
