"""EligibilityService over gRPC."""

from __future__ import annotations

from typing import Any

from integrity.v1 import eligibility_pb2, eligibility_pb2_grpc

from service.api.callers import current_principal
from service.api.proto_values import timestamp_out
from service.app.eligibility import EligibilityChecker
from service.domain.policies import Consequence, Decision

Context = Any  # grpc-stubs lags the aio API

DECISIONS = {
    Decision.ALLOW: eligibility_pb2.ELIGIBILITY_DECISION_ALLOW,
    Decision.DENY: eligibility_pb2.ELIGIBILITY_DECISION_DENY,
    Decision.REVIEW: eligibility_pb2.ELIGIBILITY_DECISION_REVIEW,
}
_CONSEQUENCES = {
    Consequence.DENY: eligibility_pb2.ELIGIBILITY_DECISION_DENY,
    Consequence.REVIEW: eligibility_pb2.ELIGIBILITY_DECISION_REVIEW,
}


class EligibilityServicer(eligibility_pb2_grpc.EligibilityServiceServicer):
    def __init__(self, checker: EligibilityChecker) -> None:
        self._checker = checker

    async def CheckEligibility(
        self, request: eligibility_pb2.CheckEligibilityRequest, context: Context
    ) -> eligibility_pb2.CheckEligibilityResponse:
        check = await self._checker.check(current_principal().caller, request.uscc, request.policy)
        result = check.result
        return eligibility_pb2.CheckEligibilityResponse(
            decision=DECISIONS[result.decision],
            unmet_conditions=[
                eligibility_pb2.UnmetCondition(
                    condition=unmet.kind,
                    reason_code=unmet.reason_code,
                    description=unmet.description,
                    consequence=_CONSEQUENCES[unmet.consequence],
                )
                for unmet in result.unmet
            ],
            supplementary_information=list(result.supplementary_information),
            policy_version=check.policy.reference,
            level_class=check.level_class,
            decide_time=timestamp_out(check.decide_time),
        )
