"""JSON logs through structlog, with a last line of defence against personal data.

Code never logs names, ID numbers or phone numbers on purpose; the redaction processor
catches ID numbers (however written) and phone numbers that slip into an event anyway.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TextIO

import structlog

from service.domain.personal_data_screen import find_personal_data

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        value = _ID_NUMBER.sub("[REDACTED]", value)
        # Numbers written in groups, full-width or with +86, and phone numbers, are found
        # by the same screen that refuses them in platforms' free text: the whole value goes.
        return "[REDACTED]" if find_personal_data(value) is not None else value
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


@dataclass(slots=True)
class CallContext:
    """The call a log line belongs to. The request handling sets one per call: one context
    variable, where binding structlog's per-key variables and clearing them cost a good
    share of a cheap call."""

    request_id: str
    method: str
    caller: str | None = None


current_call: ContextVar[CallContext | None] = ContextVar("current_call", default=None)


def add_call_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    call = current_call.get()
    if call is not None:
        event_dict.setdefault("request_id", call.request_id)
        event_dict.setdefault("method", call.method)
        if call.caller is not None:
            event_dict.setdefault("caller", call.caller)
    return event_dict


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return {key: _redact(value) for key, value in event_dict.items()}


_configured_level = logging.INFO


def info_enabled() -> bool:
    """Whether info lines are written: asking costs nothing, where calling a module-level
    structlog logger builds a bound logger first, even for a line that is then dropped."""
    return _configured_level <= logging.INFO


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    global _configured_level
    _configured_level = _LEVELS[level]
    # aiosqlite logs every statement at debug level through the standard library: keep it
    # quiet, it is noise at best and costs time on every database call.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_call_context,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_personal_data,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
