"""How sensitive personal information is shown: masked, never in full."""

from __future__ import annotations

import re
from dataclasses import replace

from service.domain.registry import ChangeRecord


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


# Registered changes whose before and after values name people: the legal representative,
# the person in charge, an individual business's operator, investors and shareholders,
# directors, supervisors, managers, partners, the liaison. Registries publish them in clear;
# the archive shows them as it shows the legal representative.
_PERSON_CHANGE_ITEMS = (
    "法定代表人",
    "负责人",
    "经营者",
    "投资人",
    "出资人",
    "股东",
    "发起人",
    "董事",
    "监事",
    "经理",
    "高级管理人员",
    "主要人员",
    "合伙人",
    "委派代表",
    "成员",
    "联络员",
)
# A holder's name with one of these is an organisation's, shown as registered.
_ORGANISATION_MARKERS = (
    "公司",
    "企业",
    "集团",
    "合伙",
    "合作社",
    "中心",
    "事务所",
    "研究院",
    "银行",
    "基金",
    "协会",
    "委员会",
    "政府",
    "管理局",
    "学校",
    "大学",
    "医院",
    "厂",
    "店",
)
_LIST_SEPARATORS = re.compile(r"([、,，;；\s]+)")
# Where a name ends and its annotation begins: "王小明(自然人股东)", "王小明：100万元".
_ANNOTATION = re.compile(r"[(（:：\[【]")


def change_names_people(item: str) -> bool:
    return any(marker in item for marker in _PERSON_CHANGE_ITEMS)


def mask_change(change: ChangeRecord) -> ChangeRecord:
    """A registered change as the service keeps it: people in its values masked. The
    original is not kept at all: nothing needs it, and free text cannot be sealed name by
    name reliably."""
    if not change_names_people(change.item):
        return change
    return replace(change, before=mask_names_in(change.before), after=mask_names_in(change.after))


def mask_names_in(text: str) -> str:
    """Mask each name in a list of holders, keeping organisations, separators and notes."""
    parts = []
    for part in _LIST_SEPARATORS.split(text):
        if not part or _LIST_SEPARATORS.fullmatch(part):
            parts.append(part)
            continue
        annotation = _ANNOTATION.search(part)
        name, note = (part[: annotation.start()], part[annotation.start() :]) if annotation else (
            part, ""
        )  # fmt: skip
        if (
            not name
            or any(char.isdigit() for char in name)  # an amount or a date, not a name
            or any(marker in name for marker in _ORGANISATION_MARKERS)
        ):
            parts.append(part)
        else:
            parts.append(mask_person_name(name) + note)
    return "".join(parts)
