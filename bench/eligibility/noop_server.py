"""The no-op baseline: the same RPC answered with prebuilt bytes, nothing else.

    python -m bench.eligibility.noop_server --listen 127.0.0.1:PORT --response FILE

Same grpcio, same event loop (uvloop, as integrity-server), one process. The handler is
registered without (de)serializers, so grpc hands it the raw request bytes and sends the
prebuilt response bytes as they are: what is left is the cost of grpc.aio itself.
Prints one JSON line {"event": "server_started", "port": N} when it serves.

With --record-bodies FILE (used only by the rotation probe, never in a measured run) it
also counts each distinct request body and writes them to FILE as it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import signal
import sys
from pathlib import Path
from typing import Any

import grpc

from service.cpu_policy import CPU_POLICIES, apply_cpu_policy

SERVICE = "integrity.v1.EligibilityService"
METHOD = "CheckEligibility"


def _handler(
    response: bytes, seen: collections.Counter[bytes] | None
) -> grpc.GenericRpcHandler[Any, Any]:
    async def check_eligibility(_request: bytes, _context: Any) -> bytes:
        return response

    async def check_eligibility_recording(request: bytes, _context: Any) -> bytes:
        assert seen is not None
        seen[request] += 1
        return response

    behaviour = check_eligibility if seen is None else check_eligibility_recording
    # No request_deserializer / response_serializer: grpc passes bytes through untouched.
    return grpc.method_handlers_generic_handler(
        SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(behaviour)}
    )


async def serve(
    listen: str, response: bytes, seen: collections.Counter[bytes] | None = None
) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handler(response, seen),))
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"could not bind {listen}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    print(json.dumps({"event": "server_started", "port": port}), flush=True)
    await stop.wait()
    await server.stop(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, help="host:port, 127.0.0.1 only")
    parser.add_argument("--response", type=Path, required=True, help="serialized response")
    parser.add_argument("--record-bodies", type=Path, help="count request bodies into FILE")
    parser.add_argument(
        "--cpu-policy", choices=CPU_POLICIES, default="normal", help="as INTEGRITY_CPU_POLICY"
    )
    args = parser.parse_args(argv)
    # First, as integrity-server does: every thread grpc starts takes this policy.
    apply_cpu_policy(args.cpu_policy)
    if not args.listen.startswith("127.0.0.1:"):
        sys.exit("the baseline listens on 127.0.0.1 only")
    response = args.response.read_bytes()
    seen: collections.Counter[bytes] | None = None
    if args.record_bodies is not None:
        seen = collections.Counter()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.listen, response, seen))
    else:
        uvloop.run(serve(args.listen, response, seen))
    if args.record_bodies is not None and seen is not None:
        counts = {body.hex(): count for body, count in seen.items()}
        args.record_bodies.write_text(json.dumps(counts))


if __name__ == "__main__":
    main()
