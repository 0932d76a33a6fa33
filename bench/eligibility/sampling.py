"""Real answers, read with a real gRPC client: h2load cannot tell a gRPC error from success.

Before and after every measured run the harness calls CheckEligibility a few times with
grpcio and checks each answer is a success with a decision. It also asks the health
service whether integrity-server is serving.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from integrity.v1 import eligibility_pb2, eligibility_pb2_grpc

from bench.eligibility.messages import POLICY
from bench.eligibility.processes import LOOPBACK


class SampleFailed(RuntimeError):
    """An answer was an error or had no decision; the message says which and why."""


def sample_answers(
    port: int, token: str, usccs: Sequence[str], timeout: float = 10.0, pause: float = 0.0
) -> list[eligibility_pb2.CheckEligibilityResponse]:
    """Call CheckEligibility for each USCC in turn, `pause` seconds apart."""
    metadata = (("authorization", f"Bearer {token}"),)
    answers = []
    with grpc.insecure_channel(f"{LOOPBACK}:{port}") as channel:
        stub = eligibility_pb2_grpc.EligibilityServiceStub(channel)
        for index, uscc in enumerate(usccs):
            if pause and index:
                time.sleep(pause)
            request = eligibility_pb2.CheckEligibilityRequest(uscc=uscc, policy=POLICY)
            try:
                answer = stub.CheckEligibility(request, metadata=metadata, timeout=timeout)
            except grpc.RpcError as error:
                code = error.code() if isinstance(error, grpc.Call) else None
                details = error.details() if isinstance(error, grpc.Call) else str(error)
                hint = (
                    " (CheckEligibility is not implemented or not registered in this server)"
                    if code == grpc.StatusCode.UNIMPLEMENTED
                    else ""
                )
                name = code.name if code is not None else "error"
                raise SampleFailed(f"{uscc}: {name}: {details}{hint}") from error
            if answer.decision == eligibility_pb2.ELIGIBILITY_DECISION_UNSPECIFIED:
                raise SampleFailed(f"{uscc}: the answer has no decision: {answer}")
            answers.append(answer)
    return answers


def serving(port: int, timeout: float = 1.0) -> bool:
    """Whether the server's overall health is SERVING (False while it starts)."""
    try:
        with grpc.insecure_channel(f"{LOOPBACK}:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            answer = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    except grpc.RpcError:
        return False
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)
