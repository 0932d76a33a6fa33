"""Every reason and outcome the domain can decide has its place on the wire."""

from __future__ import annotations

from integrity.v1 import verification_pb2

from service.api.convert import reason_code_number
from service.domain.verification import ReasonCode


def test_every_reason_code_has_its_proto_value() -> None:
    names = {
        verification_pb2.VerificationReasonCode.Name(reason_code_number(code))
        for code in ReasonCode
    }
    assert names == {f"VERIFICATION_REASON_CODE_{code.value}" for code in ReasonCode}
    assert "VERIFICATION_REASON_CODE_PENDING_EXPIRED" in names
