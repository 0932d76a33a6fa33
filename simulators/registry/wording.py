"""How each shape words what the registry holds: status, licence term, times."""

from __future__ import annotations

import datetime as dt
import functools

from service.domain.licence import CHINA_TZ, RegistrationStatus, parse_registration_status

# The government registry's full wording, and the provider's short one.
_GOV_STATUS = {
    RegistrationStatus.IN_BUSINESS: "存续（在营、开业、在册）",
    RegistrationStatus.MOVED_OUT: "迁出",
    RegistrationStatus.CANCELLED: "注销",
    RegistrationStatus.REVOKED: "吊销，未注销",
    RegistrationStatus.WITHDRAWN: "撤销",
    RegistrationStatus.SUSPENDED: "停业",
    RegistrationStatus.IN_LIQUIDATION: "清算",
    RegistrationStatus.BEING_ESTABLISHED: "筹建",
}
_PROVIDER_STATUS = {**_GOV_STATUS, RegistrationStatus.IN_BUSINESS: "存续"}
_PROVIDER_STATUS[RegistrationStatus.REVOKED] = "吊销"
OPEN_ENDED = "长期"


def _status(text: str, wording: dict[RegistrationStatus, str]) -> str:
    status = parse_registration_status(text)
    if status is None or status not in wording:
        return text
    # Chinese wording given in the data is the registry's own: keep it as written.
    return text if status.value != text.lower() and wording is _GOV_STATUS else wording[status]


# A handful of wordings come again and again: read each once.
@functools.lru_cache(maxsize=1024)
def gov_status(raw: str) -> str:
    return _status(raw, _GOV_STATUS)


@functools.lru_cache(maxsize=1024)
def provider_status(raw: str) -> str:
    return _status(raw, _PROVIDER_STATUS)


def parse_time(raw: object) -> dt.datetime | None:
    """An RFC 3339 time with its offset, in UTC; None for anything else."""
    if not isinstance(raw, str):
        return None
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when.astimezone(dt.UTC) if when.tzinfo is not None else None


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def china_time(when: dt.datetime) -> str:
    """The provider's "2026-11-20 08:00:00", China Standard Time."""
    return when.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def china_date(when: dt.datetime) -> str:
    return when.astimezone(CHINA_TZ).date().isoformat()
