"""Channel options shared by the async and sync clients."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from google.protobuf import timestamp_pb2

# Retries UNAVAILABLE with backoff in the gRPC library itself. Safe for every RPC of the
# service: reads are idempotent, and creates carry a request_id the service deduplicates.
RETRY_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [
                    {"service": "integrity.v1.VerificationService"},
                    {"service": "integrity.v1.ArchiveService"},
                    {"service": "integrity.v1.DisclosureService"},
                    {"service": "integrity.v1.PlatformDataService"},
                    {"service": "integrity.v1.EligibilityService"},
                ],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)

CHANNEL_OPTIONS = (
    ("grpc.service_config", RETRY_SERVICE_CONFIG),
    ("grpc.enable_retries", 1),
)


def new_request_id() -> str:
    return str(uuid.uuid4())


def parent_of(uscc: str) -> str:
    return f"enterprises/{uscc}"


def call_metadata(token: str, on_behalf_of: str) -> tuple[tuple[str, str], ...]:
    metadata: tuple[tuple[str, str], ...] = ()
    if token:
        metadata += (("authorization", f"Bearer {token}"),)
    if on_behalf_of:
        metadata += (("x-on-behalf-of", on_behalf_of),)
    return metadata


def read_time_of(read_time: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if read_time is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(read_time)
    return stamp
