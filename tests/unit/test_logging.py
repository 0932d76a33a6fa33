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


def test_grouped_and_full_width_id_numbers_and_phone_numbers_are_redacted() -> None:
    stream = io.StringIO()
    configure_logging("info", stream)
    slipped = [
        "call 138 0013 8000 back",
        "+86-139-1234-5678",
        "110105 19491231 002X",
        "１１０１０５１９４９１２３１００２Ｘ",
        "landline 010-62345678",
    ]
    try:
        for text in slipped:
            structlog.get_logger("t").info("oops", detail=text)
        structlog.get_logger("t").info("kept", detail="order 2026110100012 for 1,250.00 yuan")
    finally:
        configure_logging("info")
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["detail"] for e in events[:-1]] == ["[REDACTED]"] * len(slipped)
    assert events[-1]["detail"] == "order 2026110100012 for 1,250.00 yuan"
