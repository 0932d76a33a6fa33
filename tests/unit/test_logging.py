from __future__ import annotations

import io
import json

import structlog

from service.logging import configure_logging, info_enabled


def test_lines_are_json_with_context_and_id_numbers_redacted() -> None:
    stream = io.StringIO()
    configure_logging("info", stream)
    try:
        structlog.contextvars.bind_contextvars(request_id="abc")
        structlog.get_logger("t").info(
            "oops", detail="holder 11010519491231002X said", items=["44030019900101123x"]
        )
        structlog.get_logger("t").debug("hidden at info level")
    finally:
        structlog.contextvars.clear_contextvars()
        configure_logging("info")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["request_id"] == "abc" and event["level"] == "info"
    assert "11010519491231002X" not in lines[0] and "44030019900101123x" not in lines[0]
    assert event["detail"] == "holder [REDACTED] said"


def test_info_enabled_follows_the_configured_level() -> None:
    try:
        configure_logging("warning", io.StringIO())
        assert not info_enabled()
        configure_logging("debug", io.StringIO())
        assert info_enabled()
    finally:
        configure_logging("info")
    assert info_enabled()
