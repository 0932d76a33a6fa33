"""How sensitive personal information is shown: masked, never in full."""

from __future__ import annotations


def mask_person_name(name: str) -> str:
    """Keep the first character (usually the surname) and hide the rest: "王小明" -> "王**"."""
    stripped = name.strip()
    if len(stripped) <= 1:
        return "*"
    return stripped[0] + "*" * (len(stripped) - 1)


def mask_id_number(id_number: str) -> str:
    """Keep the first and last characters: enough for a person to recognise their own number."""
    stripped = id_number.strip()
    if len(stripped) <= 2:
        return "*" * len(stripped)
    return stripped[0] + "*" * (len(stripped) - 2) + stripped[-1]
