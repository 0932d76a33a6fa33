"""GB/T 2260 administrative division codes.

The table is ``gb2260.tsv`` beside this module: every code ever published, in
the Ministry of Civil Affairs' yearly lists since 1980, the GB/T 2260 editions,
the statistics bureau's lists and python-stdnum's table, with each name and the
years it was listed. ``scripts/build_gb2260_table.py`` builds it; its header
names the sources and their snapshots. A row is tab-separated::

    code    name    first   last    sources
    120110  东郊区  1980    1991    amgsp
    120110  东丽区  1992            amgsp

``last`` is empty while the code is in use; ``first`` is empty where no source
dates the name.

Identifiers keep the division code they were issued under for life: a resident
ID number issued in a county that was later merged, or an enterprise registered
by a bureau whose district was renamed, is still valid. Validation therefore
uses the union of every code that has ever been published, whatever its years,
the groupings such as "市辖区" that the lists number like divisions included;
only the synthetic data generator needs the codes that are valid today.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

_TABLE_PACKAGE, _TABLE_FILE = "service.domain.identifiers", "gb2260.tsv"
_TABLE_HEADER = "code\tname\tfirst\tlast\tsources"
_TABLE_ROW = re.compile(r"(\d{6})\t([^\t]+)\t(\d{4})?\t(\d{4})?\t([amgsp]+)")

# Taiwan, Hong Kong and Macao: their codes exist in GB/T 2260 but no mainland
# registry registers enterprises there, so the generator never uses them.
_OUTSIDE_MAINLAND_PROVINCES = frozenset({"71", "81", "82"})

# Statistical groupings that GB/T 2260 numbers like divisions but that are not
# places: "市辖区" (the districts of a city, taken together), "县" (its
# counties) and the headings for what a province administers directly
# ("省直辖县级行政单位", "自治区直辖县级行政区划", ...).
_GROUPING_NAMES = frozenset({"市辖区", "县"})
_GROUPING_MARKER = "直辖"


@dataclass(frozen=True)
class _NamePeriod:
    """A name of a code and the first and last years it was listed under it."""

    name: str
    first_year: int | None
    last_year: int | None  # None: still in use

    @property
    def is_current(self) -> bool:
        return self.last_year is None


def _parse_table(text: str) -> dict[str, tuple[_NamePeriod, ...]]:
    table: dict[str, list[_NamePeriod]] = {}
    lines = (line for line in text.splitlines() if not line.startswith("#"))
    if next(lines, None) != _TABLE_HEADER:
        raise ValueError(f"the division table does not start with {_TABLE_HEADER!r}")
    for line in lines:
        match = _TABLE_ROW.fullmatch(line)
        if match is None:
            # Fail loudly: a silently misread table would reject real IDs.
            raise ValueError(f"unexpected line in the division table: {line!r}")
        code, name, first, last, _sources = match.groups()
        period = _NamePeriod(name, int(first) if first else None, int(last) if last else None)
        table.setdefault(code, []).append(period)
    return {code: tuple(periods) for code, periods in table.items()}


@functools.cache
def _division_table() -> Mapping[str, tuple[_NamePeriod, ...]]:
    text = resources.files(_TABLE_PACKAGE).joinpath(_TABLE_FILE).read_text(encoding="utf-8")
    return _parse_table(text)


@functools.cache
def _known_codes() -> frozenset[str]:
    return frozenset(_division_table())


def is_known_division(code: str) -> bool:
    """Whether ``code`` has ever been a GB/T 2260 division code (any year)."""
    return code in _known_codes()


def division_name(code: str) -> str | None:
    """The division's current name, or its last name if it no longer exists."""
    periods = _division_table().get(code)
    if periods is None:
        return None
    current = [period for period in periods if period.is_current]
    return (current or list(periods))[-1].name


def is_grouping_name(name: str) -> bool:
    """Whether ``name`` is a statistical heading such as "市辖区" rather than a place."""
    return name in _GROUPING_NAMES or _GROUPING_MARKER in name


@functools.cache
def current_county_codes() -> tuple[str, ...]:
    """County-level codes valid today in mainland China, sorted.

    Statistical headings such as "市辖区" are left out: they are not places a
    registry or a person could be in.
    """
    return tuple(
        sorted(
            code
            for code, periods in _division_table().items()
            if not code.endswith("00")
            and code[:2] not in _OUTSIDE_MAINLAND_PROVINCES
            and any(period.is_current for period in periods)
            and not is_grouping_name(division_name(code) or "")
        )
    )


def province_of(code: str) -> str:
    """The province-level code (``xx0000``) of a six-digit division code."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise ValueError("a division code is six ASCII digits")
    return code[:2] + "0000"
