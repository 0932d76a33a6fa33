"""Times as China reads them (UTC+8), for the pages."""

from __future__ import annotations

import datetime as dt

from service.domain.licence import CHINA_TZ


def in_china(moment: dt.datetime, pattern: str) -> str:
    return moment.astimezone(CHINA_TZ).strftime(pattern)
