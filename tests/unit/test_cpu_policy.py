from __future__ import annotations

import io
import json
import os

import pytest

from service.cpu_policy import apply_cpu_policy


def _refuse(_pid: int, _policy: int, _param: os.sched_param) -> None:
    raise PermissionError(1, "Operation not permitted")


@pytest.mark.parametrize("policy", ["normal", "batch"])
def test_a_platform_that_refuses_the_call_gets_a_warning_not_a_failure(
    log_stream: io.StringIO, policy: str
) -> None:
    before = os.sched_getscheduler(0)
    apply_cpu_policy(policy, set_scheduler=_refuse)
    assert os.sched_getscheduler(0) == before
    [line] = log_stream.getvalue().splitlines()
    event = json.loads(line)
    assert event["event"] == "cpu_policy_not_applied"
    assert event["level"] == "warning" and event["policy"] == policy
    assert "Operation not permitted" in event["error"]


def test_an_unknown_policy_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        apply_cpu_policy("fifo")
