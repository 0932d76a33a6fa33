"""What a merchant can dispute on its pages: the items its own archive shows it.

The service decides what an item may be (service/domain/disputes.py); this lists the items
the merchant can point at, named the way the level's reasons name the records, so the
dispute form offers a choice instead of asking for a code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gateway import wording
from service.domain.disputes import LEVEL_ITEM
from service.domain.visibility import FieldGroup

PUBLIC_GROUPS = tuple(group.value for group in FieldGroup if group.value.startswith("public."))


def _records(archive: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    info = archive.get("publicInformation") or {}
    for entry in info.get("judicialEntries") or []:
        if entry.get("entryId"):
            kind = wording.named(wording.JUDICIAL_KINDS, str(entry.get("kind", "")))
            yield f"judicial:{entry['entryId']}", f"{kind}：{entry.get('reason', '')}"
    for platform in (archive.get("businessIntegrity") or {}).get("platforms") or []:
        code = str(platform.get("platform", ""))
        for record in platform.get("conductRecords") or []:
            if record.get("recordId"):
                kind = wording.named(wording.CONDUCT_KINDS, str(record.get("kind", "")))
                label = f"{code} {kind}：{record.get('description', '')}"
                yield f"conduct:{code}:{record['recordId']}", label
        for record in platform.get("certifications") or []:
            if record.get("recordId"):
                label = f"{code} 实地认证：{record.get('certifier', '')}"
                yield f"certification:{code}:{record['recordId']}", label
    for reason in (archive.get("integrityLevel") or {}).get("reasons") or []:
        for record in reason.get("records") or []:
            yield str(record), wording.disputed(str(record))


def disputable_items(archive: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(item, label) pairs, each item once: the level, each record behind it or shown in
    the archive, then the public information's field groups."""
    items: dict[str, str] = {}
    if archive.get("integrityLevel"):
        items[LEVEL_ITEM] = wording.disputed(LEVEL_ITEM)
    for item, label in _records(archive):
        items.setdefault(item, label)
    for group in PUBLIC_GROUPS:
        items.setdefault(group, f"公示信息：{wording.disputed(group)}")
    return list(items.items())
