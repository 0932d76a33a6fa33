"""GB/T 2260 administrative division codes.

The table is the one python-stdnum ships (``stdnum/cn/loc.dat``, compiled from
the Chinese Wikipedia lists): a two-digit province line followed by indented
four-digit suffix lines, each naming the division, optionally with the years
the name was in use, e.g. ``0110 county="[-1991]东郊区,[1992-]东丽区"``.

Identifiers keep the division code they were issued under for life: a resident
ID number issued in a county that was later merged, or an enterprise registered
by a bureau whose district was renamed, is still valid. Validation therefore
uses the union of every code that has ever been in the table, whatever its
years; only the synthetic data generator needs the codes that are valid today.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

_PROVINCE_LINE = re.compile(r'(\d{2}) province="([^"]+)"')
_DIVISION_LINE = re.compile(r'  (\d{4}) county="([^"]+)"')
_NAME_PERIOD = re.compile(r"(?:\[(\d{4})?-(\d{4})?\])?([^\[\],]+)")

# Taiwan, Hong Kong and Macao: their codes exist in GB/T 2260 but no mainland
# registry registers enterprises there, so the generator never uses them.
_OUTSIDE_MAINLAND_PROVINCES = frozenset({"71", "81", "82"})

# Statistical groupings that GB/T 2260 numbers like divisions but that are not
# places: "市辖区" (the districts of a city, taken together), "县" (its
# counties) and the headings for what a province administers directly
# ("省直辖县级行政单位", "自治区直辖县级行政单位", ...).
_GROUPING_NAMES = frozenset({"市辖区", "县"})
_GROUPING_MARKER = "直辖"

# loc.dat gives these codes no end year although their divisions moved to
# other codes (随州市 became the prefecture-level 421300 in 2000; 神农架林区 is
# 429021): leave them out of what is "valid today", keep them as known codes.
_STALE_CURRENT_CODES = frozenset({"422921", "429001"})


@dataclass(frozen=True)
class _NamePeriod:
    name: str
    start_year: int | None
    end_year: int | None

    @property
    def is_current(self) -> bool:
        return self.end_year is None


def _parse_name_periods(field: str) -> tuple[_NamePeriod, ...]:
    periods = []
    for part in field.split(","):
        match = _NAME_PERIOD.fullmatch(part)
        if match is None:
            raise ValueError(f"unexpected division name in loc.dat: {part!r}")
        start, end, name = match.groups()
        periods.append(
            _NamePeriod(
                name=name,
                start_year=int(start) if start else None,
                end_year=int(end) if end else None,
            )
        )
    return tuple(periods)


def _parse_table(text: str) -> dict[str, tuple[_NamePeriod, ...]]:
    table: dict[str, tuple[_NamePeriod, ...]] = {}
    province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if match := _PROVINCE_LINE.fullmatch(line):
            province, name = match.groups()
            # A province always has a code of its own, even if the file only
            # names it on the province line.
            table.setdefault(province + "0000", (_NamePeriod(name, None, None),))
        elif (match := _DIVISION_LINE.fullmatch(line)) and province:
            suffix, names = match.groups()
            table[province + suffix] = _parse_name_periods(names)
        else:
            # Fail loudly: a silently misread table would reject real IDs.
            raise ValueError(f"unexpected line in loc.dat: {line!r}")
    return table


@functools.cache
def _division_table() -> Mapping[str, tuple[_NamePeriod, ...]]:
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    return _parse_table(text)


def is_known_division(code: str) -> bool:
    """Whether ``code`` has ever been a GB/T 2260 division code (any year)."""
    return code in _division_table()


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
    registry or a person could be in. So are two codes the table wrongly
    shows as still in use.
    """
    return tuple(
        sorted(
            code
            for code, periods in _division_table().items()
            if not code.endswith("00")
            and code[:2] not in _OUTSIDE_MAINLAND_PROVINCES
            and code not in _STALE_CURRENT_CODES
            and any(period.is_current for period in periods)
            and not is_grouping_name(division_name(code) or "")
        )
    )


def province_of(code: str) -> str:
    """The province-level code (``xx0000``) of a six-digit division code."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise ValueError("a division code is six ASCII digits")
    return code[:2] + "0000"
