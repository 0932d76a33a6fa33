"""EligibilityService over gRPC."""

from __future__ import annotations

from integrity.v1 import eligibility_pb2, eligibility_pb2_grpc

from service.api.proto_values import timestamp_out
from service.api.request_handling import ApiCall
from service.app.eligibility import EligibilityChecker
from service.domain.policies import Consequence, Decision

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

    async def CheckEligibility(  # type: ignore[override]  # an ApiCall, not grpc's context
        self, request: eligibility_pb2.CheckEligibilityRequest, call: ApiCall
    ) -> eligibility_pb2.CheckEligibilityResponse:
        check = await self._checker.check(call.principal.caller, request.uscc, request.policy)
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
