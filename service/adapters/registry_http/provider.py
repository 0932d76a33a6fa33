"""The enterprise-data provider's verification (docs/registry-wire.md, "provider").

The provider is asked about what the platform submitted, so the request carries the
legal representative's name and ID number: opened from the vault for that request only
(the authorisation's identity-verification scope covers data providers), never logged.
What comes back is sealed as it is parsed: the name and, when the provider returns it,
the ID number.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import structlog

from service.adapters.registry_http.deadline import Deadline
from service.adapters.registry_http.source_http import SourceHttp
from service.adapters.registry_http.transport import MalformedAnswer, SourceTransport
from service.app.ports import Clock, PersonalDataKeys, RegistryUnavailable, Sealer
from service.domain.errors import InvalidIdentifier
from service.domain.identifiers.resident_id import parse_resident_id
from service.domain.licence import CHINA_TZ, LicenceTerm, china_today, parse_registration_status
from service.domain.registry_sources import ProviderRecord, ProviderVerdict, ProviderVerdicts
from service.domain.sealed import PiiKind
from service.domain.verification import LicenceSubmission

log = structlog.get_logger(__name__)

FOUND = "0000"
NO_SUCH_ENTERPRISE = "2001"
OPEN_ENDED = "长期"
_VERDICTS = {
    "1": ProviderVerdict.CONSISTENT,
    "0": ProviderVerdict.INCONSISTENT,
    "-1": ProviderVerdict.CANNOT_TELL,
}


def signature(secret: bytes, app_id: str, timestamp: str, body: bytes) -> str:
    message = f"{app_id}\n{timestamp}\n".encode() + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


class _Malformed(ValueError):
    """Why an answer is not the provider's contract; never repeats its values."""


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{key} must be text")
    return value.strip()


def _date(data: Mapping[str, Any], key: str) -> dt.date | None:
    value = _text(data, key)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _Malformed(f"{key} is not a date") from None


def _term(data: Mapping[str, Any]) -> LicenceTerm | None:
    start = _date(data, "termStart")
    if _text(data, "termEnd") == OPEN_ENDED:
        return LicenceTerm(start, None, open_ended=True)
    end = _date(data, "termEnd")
    if start is None and end is None:
        return None
    return LicenceTerm(start, end, open_ended=False)


def _verdicts(data: Mapping[str, Any]) -> ProviderVerdicts:
    raw = data.get("verifyResult") or {}
    if not isinstance(raw, dict):
        raise _Malformed("verifyResult must be an object")

    def verdict(key: str) -> ProviderVerdict:
        value = raw.get(key, "-1")
        # Checked for text first: an object or a list cannot even be looked up.
        if not isinstance(value, str) or value not in _VERDICTS:
            raise _Malformed(f"verifyResult.{key} is not 1, 0 or -1")
        return _VERDICTS[value]

    return ProviderVerdicts(
        enterprise_name=verdict("companyName"),
        legal_rep_name=verdict("legalPerson"),
        legal_rep_id_number=verdict("legalPersonIdNo"),
    )


def _snapshot_time(data: Mapping[str, Any]) -> dt.datetime:
    value = _text(data, "updateTime")
    if value is None:
        raise _Malformed("updateTime is missing")
    try:
        local = dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise _Malformed("updateTime is not YYYY-MM-DD HH:MM:SS") from None
    # The provider writes China Standard Time without saying so.
    return local.replace(tzinfo=CHINA_TZ).astimezone(dt.UTC)


@dataclass(frozen=True)
class _Answer:
    """A usable answer, its person not sealed yet (that waits for the enterprise's key)."""

    record: ProviderRecord
    name: str | None
    id_number: str | None

    def sealed(self, sealer: Sealer) -> ProviderRecord:
        return dataclasses.replace(
            self.record,
            legal_rep_name=sealer.seal(PiiKind.PERSON_NAME, self.name) if self.name else None,
            legal_rep_id_number=(
                sealer.seal(PiiKind.ID_NUMBER, self.id_number) if self.id_number else None
            ),
        )


def parse_verification(data: Any, uscc: str, today: dt.date) -> _Answer:
    """The provider's data for a "0000" answer; MalformedAnswer when it is not usable."""
    try:
        if not isinstance(data, dict):
            raise _Malformed("data must be an object")
        if _text(data, "creditCode") != uscc:
            raise _Malformed("the answer is about another enterprise")
        raw_status = _text(data, "regStatus")
        status = parse_registration_status(raw_status) if raw_status else None
        verdicts = _verdicts(data)
        term = _term(data)
        snapshot_time = _snapshot_time(data)
        id_number = _text(data, "legalPersonIdNo")
        if id_number is not None:
            try:
                id_number = parse_resident_id(id_number.upper(), today).value
            except InvalidIdentifier:
                raise _Malformed("legalPersonIdNo is not an ID number") from None
        name = _text(data, "legalPerson")
    except _Malformed as problem:
        log.warning("registry_answer_malformed", source="data_provider", reason=str(problem))
        raise MalformedAnswer("malformed_record") from None
    record = ProviderRecord(
        uscc=uscc,
        enterprise_name=_text(data, "companyName"),
        status=status,
        legal_rep_name=None,
        legal_rep_id_number=None,
        term=term,
        address=_text(data, "regAddress"),
        verdicts=verdicts,
        snapshot_time=snapshot_time,
    )
    return _Answer(record, name, id_number)


class DataProviderClient:
    """The data-provider port (service/app/ports.py DataProvider) over its HTTP API."""

    def __init__(
        self,
        transport: SourceTransport,
        app_id: str,
        secret: str,
        keys: PersonalDataKeys,
        clock: Clock,
        *,
        budget_seconds: float,
    ) -> None:
        self._transport = transport
        self._app_id = app_id
        self._secret = secret.encode()
        self._keys = keys
        self._clock = clock
        self._budget = budget_seconds

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def _body(self, submission: LicenceSubmission) -> bytes:
        rep = submission.legal_representative
        document = {
            "creditCode": submission.uscc,
            "companyName": submission.enterprise_name,
            "legalPerson": await self._keys.open(rep.name),
            "legalPersonIdNo": await self._keys.open(rep.id_number) if rep.id_number else None,
        }
        return json.dumps(document, ensure_ascii=False).encode()

    async def verify(
        self, submission: LicenceSubmission, within_seconds: float | None = None
    ) -> ProviderRecord | None:
        """The provider's record, None when it has none; RegistryUnavailable otherwise."""
        deadline = Deadline.within(self._budget, within_seconds)
        body = await self._body(submission)

        async def send(client: SourceHttp, timeout: float) -> httpx.Response:
            # Signed per attempt: the provider refuses a timestamp 300 s off.
            timestamp = str(int(self._clock.now().timestamp()))
            headers = {
                "X-App-Id": self._app_id,
                "X-Timestamp": timestamp,
                "X-Signature": signature(self._secret, self._app_id, timestamp, body),
                "Content-Type": "application/json",
            }
            return await client.post(
                "/open/v2/enterprise/verify", content=body, headers=headers, timeout=timeout
            )

        def read(response: httpx.Response) -> _Answer | None:
            answer = orjson.loads(response.content)
            code = answer.get("code") if isinstance(answer, dict) else None
            if code == NO_SUCH_ENTERPRISE:
                return None
            if code != FOUND:
                known = isinstance(code, str) and code.isalnum() and len(code) <= 8
                reason = f"code_{code}" if known else "malformed_record"
                log.warning("registry_answer_refused", source="data_provider", reason=reason)
                raise RegistryUnavailable(reason)
            today = china_today(self._clock.now())
            return parse_verification(answer.get("data"), submission.uscc, today)

        usable = await self._transport.send(send, deadline, read)
        if usable is None:
            return None
        # Sealed once the answer is in: the enterprise's key is not fetched on the source's
        # time, nor for an answer that never comes.
        return usable.sealed(await self._keys.sealer(submission.uscc))
