"""The contract's PlatformRecord message as a record draft, however it arrived (a gRPC
request or a line of a platform data file): one conversion for both."""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from integrity.v1 import platform_data_pb2

from service.domain.licence import DateParts
from service.domain.platform_ingest import RecordDraft


def _enum_prefix(enum_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum_name).upper() + "_"


def _value(message: Message, field: FieldDescriptor) -> Any:
    value = getattr(message, field.name)
    if field.message_type is not None and field.message_type.full_name == "google.type.Date":
        if not message.HasField(field.name):
            return None
        return DateParts(value.year, value.month, value.day)
    if field.enum_type is not None:
        known = field.enum_type.values_by_number.get(value)
        if known is None or value == 0:
            return ""
        return known.name.removeprefix(_enum_prefix(field.enum_type.name)).lower()
    if field.is_repeated:
        return list(value)
    return value


def record_draft(message: platform_data_pb2.PlatformRecord) -> RecordDraft:
    kind = message.WhichOneof("record") or ""
    values: dict[str, Any] = {}
    if kind:
        record = getattr(message, kind)
        values = {field.name: _value(record, field) for field in record.DESCRIPTOR.fields}
    return RecordDraft(event_id=message.event_id, uscc=message.uscc, kind=kind, values=values)
