"""Who is calling. Until per-caller credentials exist every call shares one caller, so
idempotency keys are scoped per caller already and keep working when they arrive."""

from __future__ import annotations

from typing import Any

DEFAULT_CALLER = "default"


def caller_of(context: Any) -> str:
    return DEFAULT_CALLER
