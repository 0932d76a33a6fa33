"""The google.rpc details a refused call carries in its trailers, for tests to inspect."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.message import Message
from google.rpc import status_pb2

_M = TypeVar("_M", bound=Message)


def detail_of(error: Any, kind: type[_M]) -> _M | None:
    """The first detail of this kind in the error's grpc-status-details-bin, or None.

    `error` is a grpc.RpcError from either the blocking or the asyncio API."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Is(kind.DESCRIPTOR):
                    found = kind()
                    detail.Unpack(found)
                    return found
    return None
