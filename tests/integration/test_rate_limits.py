"""Anti-scraping over the wire: per-caller limits with retry information."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from clients import AsyncIntegrityClient, IntegrityCallError
from service.bootstrap import Application, bootstrap, build_server
from service.domain.callers import CallerKind
from service.domain.rate_limits import DEFAULT_LIMITS, Limit, LimitClass
from service.settings import Settings
from tests.builders import import_rows, registry_row
from tests.clock import TestClock


@pytest.fixture
async def strict(settings: Settings) -> AsyncIterator[tuple[Application, int]]:
    limits = dict(DEFAULT_LIMITS)
    limits[LimitClass.ANONYMOUS] = Limit(per_second=0.001, burst=2, per_day=100)
    limits[LimitClass.PLATFORM] = Limit(per_second=0.001, burst=3)
    app = await bootstrap(
        Settings(
            pii_keys=settings.pii_keys, database_url=settings.database_url, rate_limits=limits
        ),
        clock=TestClock(),
    )
    server, _health = build_server(app)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield app, port
    await server.stop(None)
    await app.close()


async def test_anonymous_viewers_are_limited_per_address(strict: tuple[Application, int]) -> None:
    app, port = strict
    row = registry_row()
    await import_rows(app, [row])
    _gateway, token = await app.credentials.create_caller(CallerKind.GATEWAY, "gw")
    target = f"127.0.0.1:{port}"
    async with AsyncIntegrityClient(
        target, token=token, on_behalf_of="anonymous:203.0.113.7"
    ) as scraper:
        await scraper.get_archive(row["uscc"])
        await scraper.get_archive(row["uscc"])
        with pytest.raises(IntegrityCallError) as caught:
            await scraper.get_archive(row["uscc"])
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.reason == "RATE_LIMITED"
    assert caught.value.retry_after_seconds is not None and caught.value.retry_after_seconds > 100
    async with AsyncIntegrityClient(
        target, token=token, on_behalf_of="anonymous:198.51.100.2"
    ) as person:
        await person.get_archive(row["uscc"])  # someone else is not held back
    _ops, ops_token = await app.credentials.create_caller(CallerKind.OPS, "ops")
    async with AsyncIntegrityClient(target, token=ops_token) as ops:
        for _ in range(5):
            await ops.get_archive(row["uscc"])  # ops are not limited


async def test_platforms_are_limited_per_caller(strict: tuple[Application, int]) -> None:
    app, port = strict
    _platform, token = await app.credentials.create_caller(
        CallerKind.PLATFORM, "p", platform="limited"
    )
    async with AsyncIntegrityClient(f"127.0.0.1:{port}", token=token) as client:
        for _ in range(3):
            await client.list_verifications(str(registry_row()["uscc"]))
        with pytest.raises(IntegrityCallError) as caught:
            await client.list_verifications(str(registry_row()["uscc"]))
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
