"""JSON Schemas of the API's bodies, derived from the protos (the proto3 JSON mapping).

The bodies are the service's messages as the protobuf JSON mapping writes them, so their
schemas come from the same descriptors, never a second definition that could drift: field
names in lowerCamelCase, 64-bit integers as strings, bytes as base64, enums by name,
Timestamps as RFC 3339 text. The mapping leaves out fields at their default, so no field is
required.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

_INTEGER_32 = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_FIXED32,
}
_INTEGER_64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_SFIXED64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_FIXED64,
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?s$"},
    "google.type.Date": {
        "type": "object",
        "properties": {
            "year": {"type": "integer"},
            "month": {"type": "integer"},
            "day": {"type": "integer"},
        },
    },
}


def reference(full_name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{full_name}"}


def _enum(enum: EnumDescriptor) -> dict[str, Any]:
    return {"type": "string", "enum": [value.name for value in enum.values]}


def _scalar(field: FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
        return message_schema(field.message_type, schemas)
    if kind == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        return _enum(field.enum_type)
    if kind in _INTEGER_32:
        return {"type": "integer"}
    if kind in _INTEGER_64:
        return {"type": "string", "pattern": r"^-?[0-9]+$"}
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return {"type": ["number", "string"]}  # "NaN", "Infinity" are strings
    if kind == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if kind == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "contentEncoding": "base64"}
    return {"type": "string"}


def _field(field: FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        value = message.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _scalar(value, schemas)}
    if field.is_repeated:
        return {"type": "array", "items": _scalar(field, schemas)}
    return _scalar(field, schemas)


def message_schema(message: Descriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    """A reference to the message's schema, added to `schemas` (with every message it
    holds) under its full name."""
    name = message.full_name
    if name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[name])
    if name not in schemas:
        schemas[name] = {}  # placed first: a message that holds itself refers back to it
        schemas[name] = {
            "type": "object",
            "properties": {f.json_name: _field(f, schemas) for f in message.fields},
            "additionalProperties": False,
        }
    return reference(name)
