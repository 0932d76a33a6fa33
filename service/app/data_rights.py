"""Data-subject requests as merchants make them and ops answer them
(service/domain/data_requests.py), and what a withdrawal or a deletion does.

Destroying an enterprise's legal-representative data happens in three steps, each safe to
repeat:
1. the request is recorded as in progress and, in the same transaction, the enterprise's
   verifications lose what they held of the person (from this moment new verifications on
   an earlier authorisation are refused, and archives leave the person out);
2. the registry snapshot's record loses it too (the registry may be a database apart);
3. the enterprise's keys are destroyed in the key store: every copy of what they sealed,
   backups of the database included, becomes unreadable.
Then the request is completed. A process that stops between the steps leaves the request
in progress; `finish_interrupted` (run by the retention job and by `integrity-ops
data-requests finish`) carries such requests through.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import structlog

from service.app.merchant_access import require_own_merchant, require_own_merchant_or_ops
from service.app.ports import Clock, PersonalDataKeys
from service.app.resource_names import parse_data_request_name, parse_enterprise_name
from service.domain import data_requests as rules
from service.domain.callers import Caller, Viewer
from service.domain.data_requests import Answer, DataRequest, RequestKind, RequestState
from service.domain.errors import InvalidArgument, InvalidIdentifier, NotFound
from service.domain.identifiers.uscc import parse_uscc

log = structlog.get_logger(__name__)


class DataRequestStore(Protocol):
    async def add(self, request: DataRequest, *, scrub: bool = False) -> None: ...

    async def get(self, request_id: str) -> DataRequest | None: ...

    async def replace(
        self, before: DataRequest, after: DataRequest, *, scrub: bool = False
    ) -> None: ...

    async def of_enterprise(self, uscc: str) -> list[DataRequest]: ...

    async def pending(
        self, due_before: dt.datetime | None, limit: int
    ) -> Sequence[DataRequest]: ...

    async def withdrawn_since(self, uscc: str) -> dt.datetime | None: ...

    async def scrub_registry(self, uscc: str) -> int: ...

    async def scrub_verifications(self, uscc: str) -> None: ...


def _enterprise(parent: str) -> str:
    """The USCC of `enterprises/{uscc}`, checked whole (check character included): a
    request is refused before anything is written, never half carried out."""
    uscc = parse_enterprise_name(parent)
    try:
        return parse_uscc(uscc).value
    except InvalidIdentifier as invalid:
        raise InvalidArgument([invalid.at("parent")]) from None


class DataRightsService:
    def __init__(
        self,
        store: DataRequestStore,
        keys: PersonalDataKeys,
        clock: Clock,
        *,
        on_destroyed: Callable[[str, str], Awaitable[object]],
    ) -> None:
        """on_destroyed(uscc, key): the enterprise's verifications decided again at once
        without the person (rejected, with the withdrawal's own reason, no source asked)
        and its level worked out again; key makes it happen once per request."""
        self._store = store
        self._keys = keys
        self._clock = clock
        self._on_destroyed = on_destroyed

    async def open(
        self, viewer: Viewer | None, parent: str, kind: RequestKind | None, statement: str
    ) -> DataRequest:
        """The enterprise's own merchant makes a request; a withdrawal is carried out at
        once and comes back completed."""
        uscc = _enterprise(parent)
        merchant = require_own_merchant(viewer, uscc, "makes requests about its data")
        request = rules.open_request(
            str(uuid.uuid4()), uscc, kind, statement, merchant.user_key, self._clock.now()
        )
        if request.kind is not RequestKind.WITHDRAWAL:
            await self._store.add(request)
            log.info("data_request_opened", uscc=uscc, kind=request.kind.value)
            return request
        in_effect = dataclasses.replace(request, state=RequestState.IN_PROGRESS)
        await self._store.add(in_effect, scrub=True)
        log.info("authorisation_withdrawn", uscc=uscc, request_id=request.id)
        return await self._carry_out(in_effect)

    async def of_enterprise(
        self, caller: Caller, viewer: Viewer | None, parent: str
    ) -> list[DataRequest]:
        uscc = parse_enterprise_name(parent)
        require_own_merchant_or_ops(caller, viewer, uscc, "data requests")
        return await self._store.of_enterprise(uscc)

    async def pending(
        self, due_within: dt.timedelta | None = None, limit: int = 100
    ) -> Sequence[DataRequest]:
        """For ops: still to be answered, nearest deadline first."""
        due_before = None if due_within is None else self._clock.now() + due_within
        return await self._store.pending(due_before, limit)

    async def take(self, name: str, assignee: str) -> DataRequest:
        before = await self._found(name)
        after = rules.take(before, assignee)
        await self._store.replace(before, after)
        return after

    async def resolve(self, name: str, outcome: Answer, answer: str) -> DataRequest:
        """Ops answer a request they took. Completing a deletion destroys the legal
        representative's data as a withdrawal does; completing a correction says the
        fact was corrected where it comes from (a new import, a platform's records)."""
        before = await self._found(name)
        after = rules.answer(before, outcome, answer, self._clock.now())
        deletes = before.kind is RequestKind.DELETION and outcome is Answer.COMPLETED
        await self._store.replace(before, after, scrub=deletes)
        if deletes:
            await self._destroy(after.uscc, after.id)
        log.info("data_request_answered", uscc=after.uscc, kind=after.kind.value, state=after.state)
        return after

    async def finish_interrupted(self) -> int:
        """Carry through withdrawals a stopped process left in progress; how many."""
        finished = 0
        for request in await self._store.pending(None, 1000):
            if request.kind is RequestKind.WITHDRAWAL and request.state is RequestState.IN_PROGRESS:
                await self._store.scrub_verifications(request.uscc)
                await self._carry_out(request)
                finished += 1
        return finished

    async def _carry_out(self, in_effect: DataRequest) -> DataRequest:
        await self._destroy(in_effect.uscc, in_effect.id)
        done = rules.completed_withdrawal(in_effect, self._clock.now())
        await self._store.replace(in_effect, done)
        return done

    async def destroy_personal_data(self, uscc: str, key: str) -> None:
        """Destroy the enterprise's legal-representative data, with no request: the
        retention purge of a closed account (service/app/retention.py)."""
        await self._store.scrub_verifications(uscc)
        await self._destroy(uscc, key)

    async def _destroy(self, uscc: str, key: str) -> None:
        await self._store.scrub_registry(uscc)
        await self._keys.destroy(uscc)
        await self._on_destroyed(uscc, f"personal-data-destroyed:{key}")

    async def _found(self, name: str) -> DataRequest:
        uscc, request_id = parse_data_request_name(name)
        request = await self._store.get(request_id)
        if request is None or request.uscc != uscc:
            raise NotFound(f"no data request {name}", reason="DATA_REQUEST_NOT_FOUND")
        return request
