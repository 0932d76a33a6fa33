"""The bytes on the wire: gRPC-framed request bodies and prebuilt responses.

h2load sends one file as every request's body, so the request is framed here once: the
5-byte gRPC prefix (a zero "not compressed" byte, then the message length as 4 bytes
big-endian) and the serialized CheckEligibilityRequest.
"""

from __future__ import annotations

import datetime as dt
import struct

from integrity.v1 import eligibility_pb2

METHOD_PATH = "/integrity.v1.EligibilityService/CheckEligibility"
GRPC_PREFIX_BYTES = 5
USCC_LENGTH = 18
POLICY = "store_opening"
PLATFORM = "bench"


def grpc_frame(message: bytes) -> bytes:
    """The length-prefixed message as it travels in an HTTP/2 DATA frame."""
    return struct.pack(">BI", 0, len(message)) + message


def request_message(uscc: str, policy: str = POLICY) -> bytes:
    if len(uscc) != USCC_LENGTH or not uscc.isascii():
        raise ValueError(f"not an 18-character ASCII USCC: {uscc!r}")
    return eligibility_pb2.CheckEligibilityRequest(uscc=uscc, policy=policy).SerializeToString()


def uscc_offset(body: bytes, uscc: str) -> int:
    """Where the USCC's bytes sit in a framed request body (rewritten in place to vary it)."""
    offset = body.find(uscc.encode("ascii"))
    if offset < GRPC_PREFIX_BYTES or body.find(uscc.encode("ascii"), offset + 1) != -1:
        raise ValueError("the USCC must occur exactly once in the body, after the prefix")
    return offset


def representative_response() -> eligibility_pb2.CheckEligibilityResponse:
    """What a REVIEW answer looks like, for when no real answer is available to copy."""
    response = eligibility_pb2.CheckEligibilityResponse(
        decision=eligibility_pb2.ELIGIBILITY_DECISION_REVIEW,
        unmet_conditions=[
            eligibility_pb2.UnmetCondition(
                condition="min_class",
                reason_code="CLASS_TOO_LOW",
                description="integrity class C is below the required class B",
                consequence=eligibility_pb2.ELIGIBILITY_DECISION_REVIEW,
            )
        ],
        supplementary_information=["recent_financial_statements"],
        policy_version=f"platforms/{PLATFORM}/policies/{POLICY}@1",
        level_class="C",
    )
    response.decide_time.FromDatetime(dt.datetime(2026, 1, 8, 12, 34, 56, 789_012, tzinfo=dt.UTC))
    return response


def response_of_size(
    template: eligibility_pb2.CheckEligibilityResponse, size: int
) -> eligibility_pb2.CheckEligibilityResponse:
    """A copy of `template` padded to serialize to exactly `size` bytes.

    The baseline answers with these bytes: the same size as the real answers, so both send
    the same traffic and h2load's received bytes can be checked against one figure. The
    padding is extra supplementary_information items of at most 127 characters (each costs
    its length plus 2 bytes), so any size from the template's own, or 2 bytes more, is
    reachable.
    """
    response = eligibility_pb2.CheckEligibilityResponse()
    response.CopyFrom(template)
    missing = size - response.ByteSize()
    if missing == 0:
        return response
    if missing < _ITEM_OVERHEAD:
        raise ValueError(f"{size} bytes: the template is {response.ByteSize()}, need 0 or 2+ more")
    items = -(-missing // (_MAX_SHORT_ITEM + _ITEM_OVERHEAD))
    characters = missing - _ITEM_OVERHEAD * items
    for index in range(items):
        length = characters // items + (1 if index < characters % items else 0)
        response.supplementary_information.append("~" * length)
    assert response.ByteSize() == size
    return response


def closest_template(
    samples: list[eligibility_pb2.CheckEligibilityResponse], size: int
) -> eligibility_pb2.CheckEligibilityResponse:
    """The largest sample that `response_of_size` can pad to `size`."""
    fitting = [s for s in samples if s.ByteSize() == size or s.ByteSize() <= size - _ITEM_OVERHEAD]
    if not fitting:
        raise ValueError(f"no sample is small enough to pad to {size} bytes")
    return max(fitting, key=lambda sample: sample.ByteSize())


# A repeated string item of up to 127 characters: one tag byte and one length byte.
_ITEM_OVERHEAD = 2
_MAX_SHORT_ITEM = 127
