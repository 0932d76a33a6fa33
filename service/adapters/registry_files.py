"""Reading registry snapshot files: JSON Lines, or CSV with the same column names.

In CSV the legal representative is flat (legal_representative_name,
legal_representative_id_number) and the list columns (shareholders, changes) hold JSON.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from service.domain.registry_rows import RowRejected

_JSON_COLUMNS = ("shareholders", "changes")


def read_registry_file(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | RowRejected]]:
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    return _read_jsonl(path)


def _read_jsonl(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | RowRejected]]:
    with path.open(encoding="utf-8-sig", errors="strict", newline="") as stream:
        for line_number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_number, RowRejected(f"not valid JSON (column {exc.colno})")
                continue
            if not isinstance(row, dict):
                yield line_number, RowRejected("a row must be a JSON object")
                continue
            yield line_number, row


def _read_csv(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | RowRejected]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        for row in reader:
            line_number = reader.line_num
            parsed: dict[str, Any] = dict(row)
            try:
                for column in _JSON_COLUMNS:
                    if parsed.get(column):
                        parsed[column] = json.loads(parsed[column])
            except json.JSONDecodeError:
                yield line_number, RowRejected(f"{column} is not valid JSON")
                continue
            yield line_number, parsed


def count_lines(path: Path) -> int:
    """For the progress bar's total; cheap next to the import itself."""
    with path.open("rb") as stream:
        total = sum(1 for line in stream if line.strip())
    return total - 1 if path.suffix.lower() == ".csv" else total
