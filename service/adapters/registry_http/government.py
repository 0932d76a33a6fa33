"""The government registry's enterprise record (docs/registry-wire.md, "gov").

An answer becomes a RegistryRecord through the same row checks as an imported snapshot
file, the legal representative sealed as the row is read. The registry never publishes
the legal representative's ID number, so the record has none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
import structlog

from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.source_http import SourceHttp
from service.adapters.registry_http.transport import MalformedAnswer, SourceTransport
from service.app.ports import Clock, PersonalDataKeys, PiiVault
from service.app.registry_import import sealed_record
from service.domain.licence import china_today
from service.domain.registry import RegistryRecord
from service.domain.registry_rows import RegistryRowDraft, RowRejected, parse_registry_row

log = structlog.get_logger(__name__)


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise RowRejected(f"{what} must be an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowRejected(f"{what} must be a list")
    return value


def _as_row(document: Mapping[str, Any]) -> dict[str, Any]:
    """The gov shape in the snapshot files' row shape (registry_rows.py)."""
    term = _object(document.get("term") or {}, "term")
    shareholders = [
        _object(s, "a shareholder") for s in _list(document.get("shareholders"), "shareholders")
    ]
    changes = [_object(c, "a change") for c in _list(document.get("changes"), "changes")]
    return {
        "uscc": document.get("uscc"),
        "name": document.get("name"),
        "enterprise_type": document.get("enterpriseType"),
        "legal_representative": {"name": document.get("legalRepresentative")},
        "registered_capital": document.get("registeredCapital"),
        "capital_currency": document.get("capitalCurrency"),
        "establishment_date": document.get("establishmentDate"),
        "term_start": term.get("start"),
        "term_end": None if term.get("openEnded") else term.get("end"),
        "registration_authority": document.get("registrationAuthority"),
        "approval_date": document.get("approvalDate"),
        "status": document.get("status"),
        "address": document.get("address"),
        "business_scope": document.get("businessScope"),
        "shareholders": [
            {
                "name": s.get("name"),
                "kind": s.get("kind"),
                "subscribed_capital": s.get("subscribedCapital"),
                "ratio": s.get("ratio"),
            }
            for s in shareholders
        ],
        "changes": changes,
        "snapshot_time": document.get("publishedAt"),
    }


def parse_enterprise(document: Any, uscc: str, today: dt.date) -> RegistryRowDraft:
    """The record's checked row, its people not sealed yet; MalformedAnswer when the
    document is not a record of this enterprise."""
    try:
        row = _as_row(_object(document, "the answer"))
        if row["uscc"] != uscc:
            raise RowRejected("the record is of another enterprise")
        if not row["snapshot_time"]:
            raise RowRejected("publishedAt is missing")
        draft = parse_registry_row(row, today)
    except RowRejected as problem:
        # The reasons never repeat the record's values (registry_rows.py).
        log.warning("registry_answer_malformed", source="government_registry", reason=str(problem))
        raise MalformedAnswer("malformed_record") from None
    assert draft.snapshot_time is not None
    return draft


class GovernmentRegistryClient:
    """The registry port (service/app/ports.py Registry) over the government API."""

    def __init__(
        self,
        transport: SourceTransport,
        token: str,
        vault: PiiVault,
        keys: PersonalDataKeys,
        clock: Clock,
        *,
        budget_seconds: float,
    ) -> None:
        self._transport = transport
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._vault = vault
        self._keys = keys
        self._clock = clock
        self._budget = budget_seconds

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def lookup(self, uscc: str, within_seconds: float | None = None) -> RegistryRecord | None:
        deadline = Deadline.within(self._budget, within_seconds)

        async def send(client: SourceHttp, timeout: float) -> httpx.Response:
            return await client.get(
                f"/v1/enterprises/{uscc}", headers=self._headers, timeout=timeout
            )

        def read(response: httpx.Response) -> RegistryRowDraft | None:
            if response.status_code == 404:
                return None
            today = china_today(self._clock.now())
            return parse_enterprise(orjson.loads(response.content), uscc, today)

        draft = await self._transport.send(send, deadline, read)
        if draft is None:
            return None
        # Sealed once the answer is in: the enterprise's key is not fetched on the source's
        # time, nor for an answer that never comes.
        assert draft.snapshot_time is not None
        sealer = await self._keys.sealer(uscc)
        return sealed_record(self._vault, sealer, draft, draft.snapshot_time)
