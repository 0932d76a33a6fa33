"""Free text people write to the service: a dispute's statement, a request, ops' answers.

Kept as written (trimmed), never interpreted; only what cannot be shown safely is refused.
"""

from __future__ import annotations

import unicodedata

from service.domain.errors import FieldViolation


def text_problem(name: str, value: str, most: int, *, required: bool) -> FieldViolation | None:
    if not value.strip():
        return FieldViolation(name, "is required", "REQUIRED") if required else None
    if len(value) > most:
        return FieldViolation(name, f"has at most {most} characters", "TOO_LONG")
    if any(
        unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") and c not in "\n\t" for c in value
    ):
        return FieldViolation(
            name, "holds control, format or unassigned characters", "CHARACTER_NOT_ALLOWED"
        )
    return None
