"""Data-subject requests: what the enterprise's merchant asks of the data held about it and
its legal representative, and how each is answered.

Kinds:
- correction: a fact about the person or the enterprise is wrong (the merchant says which
  and what is right); ops correct it where it comes from and complete the request, or
  refuse it with a reason;
- deletion: delete the legal representative's personal data, where the law allows; ops
  complete it (the data is destroyed, as on withdrawal) or refuse it with the provision
  that forbids it (the platform privacy policy lists the cases);
- withdrawal: the legal representative withdraws their authorisation. It takes effect at
  once, with no one to review it: processing of the person's data stops and the data is
  destroyed (service/app/data_rights.py), and the request is completed as it is made.

Every request is answered within RESPONSE_HOURS (the platform privacy policy: "We will
respond thereto within 72 hours"). A request goes open -> in progress -> completed or
refused, with the answer the merchant is shown.

Pure rules: the use cases keep requests, act on them and answer callers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from service.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from service.domain.free_text import text_problem

RESPONSE_HOURS = 72
STATEMENT_MAX = 2000
ANSWER_MAX = 2000


class RequestKind(StrEnum):
    CORRECTION = "correction"
    DELETION = "deletion"
    WITHDRAWAL = "withdrawal"


class RequestState(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REFUSED = "refused"

    @property
    def pending(self) -> bool:
        return self in (RequestState.OPEN, RequestState.IN_PROGRESS)


class Answer(StrEnum):
    COMPLETED = "completed"
    REFUSED = "refused"


WITHDRAWAL_ANSWER = (
    "授权已撤回：即日起停止处理法定代表人的个人信息，已保存的信息已销毁（所有副本不可读）。"
)


@dataclass(frozen=True)
class DataRequest:
    id: str
    uscc: str
    kind: RequestKind
    statement: str
    """What the merchant asks, in its words (for a withdrawal, may be empty)."""
    opened_by: str
    open_time: dt.datetime
    deadline: dt.datetime
    state: RequestState = RequestState.OPEN
    assignee: str = ""
    answer: str = ""
    """What the merchant is shown as the answer."""
    answer_time: dt.datetime | None = None

    def due_within(self, now: dt.datetime, window: dt.timedelta) -> bool:
        return self.state.pending and self.deadline <= now + window


def open_request(
    request_id: str,
    uscc: str,
    kind: RequestKind | None,
    statement: str,
    opened_by: str,
    now: dt.datetime,
) -> DataRequest:
    """A new request, answered by RESPONSE_HOURS from now; InvalidArgument naming every
    field that is not acceptable. A withdrawal needs no statement; the others do."""
    problems: list[FieldViolation] = []
    if kind is None:
        problems.append(
            FieldViolation(
                "kind", "must be correction, deletion or withdrawal", "REQUEST_KIND_UNKNOWN"
            )
        )
    problem = text_problem(
        "statement", statement, STATEMENT_MAX, required=kind is not RequestKind.WITHDRAWAL
    )
    if problem is not None:
        problems.append(problem)
    if problems or kind is None:
        raise InvalidArgument(problems, "the request could not be made as asked")
    return DataRequest(
        id=request_id,
        uscc=uscc,
        kind=kind,
        statement=statement.strip(),
        opened_by=opened_by,
        open_time=now,
        deadline=now + dt.timedelta(hours=RESPONSE_HOURS),
    )


def take(request: DataRequest, assignee: str) -> DataRequest:
    """Ops take a request in hand; taking one in progress hands it over."""
    if not request.state.pending:
        raise FailedPrecondition(
            f"the request is already {request.state.value}", reason="DATA_REQUEST_ANSWERED"
        )
    if not assignee.strip():
        raise InvalidArgument([FieldViolation("assignee", "is required", "REQUIRED")])
    return replace(request, state=RequestState.IN_PROGRESS, assignee=assignee.strip())


def answer(request: DataRequest, outcome: Answer, text: str, now: dt.datetime) -> DataRequest:
    """End a request in progress; the answer is what the merchant is shown."""
    if request.state is not RequestState.IN_PROGRESS:
        reason = "DATA_REQUEST_ANSWERED" if not request.state.pending else "DATA_REQUEST_NOT_TAKEN"
        raise FailedPrecondition(
            f"a request is answered once taken; this one is {request.state.value}", reason=reason
        )
    problem = text_problem("answer", text, ANSWER_MAX, required=True)
    if problem is not None:
        raise InvalidArgument([problem])
    return replace(request, state=RequestState(outcome.value), answer=text.strip(), answer_time=now)


def completed_withdrawal(request: DataRequest, now: dt.datetime) -> DataRequest:
    """A withdrawal as it is carried out: completed when made."""
    return replace(request, state=RequestState.COMPLETED, answer=WITHDRAWAL_ANSWER, answer_time=now)
