"""Access and eligibility decisions under the platform's policy in force, and policy admin."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from service.app.ports import Clock, DisclosureLedger
from service.app.standings import PolicyBook, StandingCache
from service.domain.callers import Caller
from service.domain.disclosure import ELIGIBILITY_DECISION, disclosed_to
from service.domain.errors import (
    FieldViolation,
    InvalidArgument,
    InvalidIdentifier,
    NotFound,
    PermissionDenied,
)
from service.domain.identifiers.uscc import check_uscc
from service.domain.policies import EligibilityResult, Policy, evaluate
from service.domain.policy_documents import parse_policy
from service.domain.visibility import FieldGroup

ELIGIBILITY_PURPOSE = "eligibility_evaluation"
DISCLOSED = (ELIGIBILITY_DECISION, FieldGroup.INTEGRITY_LEVEL.value)


class ClassSource(Protocol):
    async def class_names(self) -> Sequence[str]: ...


class PolicyWriter(Protocol):
    async def add(self, policy: Policy, document: Mapping[str, Any], now: dt.datetime) -> bool: ...

    async def retire(
        self, platform: str, policy_id: str, version: int, now: dt.datetime
    ) -> None: ...


@dataclass(frozen=True)
class Check:
    result: EligibilityResult
    policy: Policy
    level_class: str
    decide_time: dt.datetime


# The shape policy documents give policy ids (service/domain/policy_documents.py).
_POLICY_ID = re.compile(r"[a-z0-9_]{1,64}")


class EligibilityChecker:
    def __init__(
        self,
        standings: StandingCache,
        policies: PolicyBook,
        ledger: DisclosureLedger,
        clock: Clock,
        classes: ClassSource,
    ) -> None:
        self._classes = classes
        self._standings = standings
        self._policies = policies
        self._ledger = ledger
        self._clock = clock

    async def check(self, caller: Caller, uscc: str, policy_id: str) -> Check:
        violations = []
        try:
            check_uscc(uscc)
        except InvalidIdentifier as problem:
            violations.append(problem.at("uscc"))
        if not policy_id:
            violations.append(FieldViolation("policy", "is required", "REQUIRED"))
        elif not _POLICY_ID.fullmatch(policy_id):
            # Refused before it is looked up or named in any answer.
            violations.append(
                FieldViolation("policy", "1 to 64 of a-z, 0-9 and _", "POLICY_ID_INVALID")
            )
        if violations:
            raise InvalidArgument(violations)
        if caller.platform is None:
            raise PermissionDenied(
                "eligibility is checked against the caller's own platform policies",
                reason="NOT_A_PLATFORM",
            )
        now = self._clock.now()
        if not self._policies.known_classes:
            self._policies.use_classes(await self._classes.class_names())
        policy = await self._policies.in_force(caller.platform, policy_id, now)
        if policy is None:
            raise NotFound(
                f"platform {caller.platform} has no policy {policy_id} in force",
                reason="POLICY_NOT_IN_FORCE",
            )
        standing = await self._standings.get(uscc, now)
        result = evaluate(policy, standing, now, self._policies.known_classes)
        # Recorded before the answer leaves, like every disclosure.
        await self._ledger.record(
            disclosed_to(
                caller,
                uscc,
                tier="platform",
                purpose=ELIGIBILITY_PURPOSE,
                scenario=policy_id,
                fields=DISCLOSED,
                at=now,
            )
        )
        return Check(result, policy, standing.level_class or "", now)


class PolicyAdmin:
    """Ops load, list and retire policy versions; a malformed one changes nothing."""

    def __init__(
        self, writer: PolicyWriter, book: PolicyBook, classes: ClassSource, clock: Clock
    ) -> None:
        self._writer = writer
        self._book = book
        self._classes = classes
        self._clock = clock

    async def load(self, document: Mapping[str, Any]) -> tuple[Policy, bool]:
        policy = parse_policy(document, await self._classes.class_names())
        created = await self._writer.add(policy, document, self._clock.now())
        self._book.invalidate()
        return policy, created

    async def retire(self, platform: str, policy_id: str, version: int) -> None:
        await self._writer.retire(platform, policy_id, version, self._clock.now())
        self._book.invalidate()

    async def list(self) -> list[tuple[Policy, dt.datetime | None]]:
        self._book.use_classes(await self._classes.class_names())
        listed: list[tuple[Policy, dt.datetime | None]] = []
        for versions, retired in (await self._book.versions()).values():
            listed.extend((policy, retired.get(policy.version)) for policy in versions)
        return listed
