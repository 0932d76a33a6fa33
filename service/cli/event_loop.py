"""The event loop the service's long-running processes run on.

uvloop where it is installed (a dependency on every platform but Windows): its transports
and scheduling are native code, which a process bound by socket traffic (gRPC, the
database, the registry sources) spends much of its time in. asyncio's own loop otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)
