"""The server as deployed: the integrity-server console command in its own process."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from integrity.v1 import verification_pb2

from clients import AsyncIntegrityClient, IntegrityCallError
from tests.builders import registry_row, verification_for
from tests.integration.server_process import SERVER, STARTUP_TIMEOUT, ServerProcess, start_server


@pytest.fixture
async def running(server_env: dict[str, str]) -> AsyncIterator[ServerProcess]:
    server = await start_server(server_env)
    yield server
    if server.process.returncode is None:
        server.process.kill()
        await server.process.wait()


async def test_health_and_reflection(running: ServerProcess) -> None:
    async with grpc.aio.insecure_channel(running.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "integrity.v1.VerificationService"):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING

        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for response in stub.ServerReflectionInfo(iter([request])):
            names = {s.name for s in response.list_services_response.service}
            break
    assert {"integrity.v1.VerificationService", "grpc.health.v1.Health"} <= names


def _thread_policies(pid: int) -> dict[int, int]:
    tasks = Path(f"/proc/{pid}/task")
    return {int(task.name): os.sched_getscheduler(int(task.name)) for task in tasks.iterdir()}


@pytest.mark.parametrize(
    ("setting", "policy"),
    [(None, "SCHED_OTHER"), ("batch", "SCHED_BATCH")],
)
async def test_every_server_thread_runs_under_the_configured_cpu_policy(
    server_env: dict[str, str], token: str, setting: str | None, policy: str
) -> None:
    """The default is the system's normal policy; SCHED_BATCH only when asked for."""
    assert "INTEGRITY_CPU_POLICY" not in os.environ
    env = server_env if setting is None else {**server_env, "INTEGRITY_CPU_POLICY": setting}
    server = await start_server(env)
    try:
        # A served call first, so the threads that grpc and the drivers start on demand
        # exist too.
        async with AsyncIntegrityClient(server.target, token=token, timeout=30) as client:
            await client.create_verification(verification_for(registry_row()))
        policies = _thread_policies(server.process.pid)
    finally:
        server.process.kill()
        await server.process.wait()
    assert len(policies) > 3  # the event loop, grpc's threads, the database drivers'
    assert set(policies.values()) == {getattr(os, policy)}


async def test_missing_keys_fail_fast_with_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRITY_")}
    process = await asyncio.create_subprocess_exec(
        SERVER,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), STARTUP_TIMEOUT)
    assert process.returncode == 2
    assert b"INTEGRITY_KEYS_FILE" in err


async def _wait_for_blocked_lookup(postgres_url: str) -> None:
    """Until a server backend waits on our lock: the call is in flight inside the server."""
    connection = await asyncpg.connect(postgres_url)
    try:
        for _ in range(600):
            waiting = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query LIKE '%registry_records%'"
            )
            if waiting:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the lookup never reached the registry")
    finally:
        await connection.close()


async def test_sigterm_drains_in_flight_calls(
    running: ServerProcess, postgres_url: str, token: str
) -> None:
    row = registry_row()
    locker = await asyncpg.connect(postgres_url)
    transaction = locker.transaction()
    await transaction.start()
    await locker.execute("LOCK TABLE registry_records IN ACCESS EXCLUSIVE MODE")
    async with AsyncIntegrityClient(running.target, token=token, timeout=120) as client:
        in_flight = asyncio.create_task(client.create_verification(verification_for(row)))
        try:
            await _wait_for_blocked_lookup(postgres_url)
            running.process.send_signal(signal.SIGTERM)
            # New calls are refused while the old one drains...
            async with grpc.aio.insecure_channel(running.target) as channel:
                health = health_pb2_grpc.HealthStub(channel)
                with pytest.raises(grpc.aio.AioRpcError):
                    for _ in range(600):
                        answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
                        if answer.status != health_pb2.HealthCheckResponse.SERVING:
                            break
                        await asyncio.sleep(0.05)
                    await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        finally:
            await transaction.rollback()
            await locker.close()
        # ...and the call in flight still gets its answer.
        result = await in_flight
    assert result.outcome == verification_pb2.VERIFICATION_OUTCOME_PENDING
    assert await asyncio.wait_for(running.process.wait(), STARTUP_TIMEOUT) == 0
    logs = await running.read_rest()
    assert '"event": "server_stopped"' in logs
    with pytest.raises(IntegrityCallError):
        async with AsyncIntegrityClient(running.target, token=token, timeout=2) as late:
            await late.get_verification(result.name)
