"""The baseline for the registry simulator's throughput: the same routes on the same stack
(Starlette, uvicorn with httptools, uvloop, one process), answering prebuilt bytes.

    python -m bench.registry_noop_server --port PORT --gov FILE --provider FILE
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(gov: bytes, provider: bytes) -> Starlette:
    async def enterprise(_request: Request) -> Response:
        return Response(gov, media_type="application/json")

    async def verify(request: Request) -> Response:
        await request.body()
        return Response(provider, media_type="application/json")

    return Starlette(
        routes=[
            Route("/v1/enterprises/{uscc}", enterprise, methods=["GET"]),
            Route("/open/v2/enterprise/verify", verify, methods=["POST"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--gov", type=Path, required=True)
    parser.add_argument("--provider", type=Path, required=True)
    args = parser.parse_args()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    app = build(args.gov.read_bytes(), args.provider.read_bytes())
    config = uvicorn.Config(
        app, http="httptools", lifespan="off", access_log=False, log_config=None, backlog=4096
    )
    print('{"event": "noop_ready"}', flush=True)
    import uvloop

    uvloop.run(uvicorn.Server(config).serve(sockets=[listener]))
    sys.exit(0)


if __name__ == "__main__":
    main()
