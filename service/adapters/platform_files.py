"""Reading platform data files: JSON Lines, one PlatformRecord in proto JSON a line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from google.protobuf import json_format
from integrity.v1 import platform_data_pb2

from service.adapters.platform_messages import record_draft
from service.domain.platform_ingest import RecordDraft
from service.domain.registry_rows import RowRejected


def read_platform_file(path: Path) -> Iterator[tuple[int, RecordDraft | RowRejected]]:
    """Each non-blank line as a draft, or why it is not a PlatformRecord; blank lines are
    skipped but counted, so line numbers match the file."""
    with path.open(encoding="utf-8") as stream:
        for line_number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                message = json_format.Parse(line, platform_data_pb2.PlatformRecord())
            except json_format.ParseError as error:
                yield line_number, RowRejected(str(error))
                continue
            yield line_number, record_draft(message)
