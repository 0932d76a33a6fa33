"""Build the GB/T 2260 division table the service ships, from published lists.

The service must know every division code ever published: identity numbers
keep the address code they were issued under for life, and unified social
credit codes keep their registering authority's division. No single list has
them all, so this takes the union of:

- yescallop/areacodes ``data/YYYY.txt``: the Ministry of Civil Affairs' list as
  at 31 December of each year from 1981, with the project's errata applied;
  lines ``code name``.
- cn/GB2260 ``mca/YYYYMM.tsv`` (the ministry's lists from 1980),
  ``stats/YYYYMM.tsv`` (the statistics bureau's lists from 2002, which also
  number the "市辖区"/"县" groupings and development zones) and
  ``YYYYMM.tsv`` at its root (the GB/T 2260-2002 and -2007 editions); lines
  ``source<TAB>revision<TAB>code<TAB>name`` under a header. ``contrib/`` holds
  unofficial subdivisions of Hong Kong and Macao and is left out.
- python-stdnum's ``stdnum/cn/loc.dat`` (compiled from the Chinese Wikipedia
  lists), which the service used before: it dates names by year and knows codes
  from before 1980 and from after the newest list above.

Every code any of them lists is in the table. For each code the name of each
year comes from the most authoritative source that lists it that year (the
order above, areacodes first); runs of years with one name become one row.

Get the inputs from the repositories' snapshots, for example::

    git -C areacodes archive HEAD data | tar -x -C /tmp/areacodes
    git -C GB2260 archive HEAD mca stats 200212.tsv 200712.tsv | tar -x -C /tmp/GB2260
    python scripts/build_gb2260_table.py \\
        --areacodes /tmp/areacodes/data --areacodes-commit <sha> --areacodes-date <date> \\
        --gb2260 /tmp/GB2260 --gb2260-commit <sha> --gb2260-date <date> \\
        --stdnum-loc .venv/lib/python3.11/site-packages/stdnum/cn/loc.dat \\
        --stdnum-version 2.2 --out service/domain/identifiers/gb2260.tsv

It reads local files only.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# Source letters, most authoritative first: a name from an earlier source wins.
AREACODES, MCA, GB_EDITION, STATS, STDNUM = "a", "m", "g", "s", "p"
SOURCE_ORDER = (AREACODES, MCA, GB_EDITION, STATS, STDNUM)
_GB2260_SOURCE_LETTERS = {"mca": MCA, "gb": GB_EDITION, "stats": STATS}

_AREACODES_FILE = re.compile(r"(\d{4})\.txt")
_AREACODES_LINE = re.compile(r"(\d{6}) (\S+)")
_GB2260_FILE = re.compile(r"(\d{4})(\d{2})\.tsv")
_GB2260_HEADER = "Source\tRevision\tCode\tName"
_GB2260_LINE = re.compile(r"([a-z]+)\t(\d{6})\t(\d{6})\t(\S+)")
_LOC_PROVINCE_LINE = re.compile(r'(\d{2}) province="([^"]+)"')
_LOC_DIVISION_LINE = re.compile(r'  (\d{4}) county="([^"]+)"')
_LOC_NAME_PERIOD = re.compile(r"(?:\[(\d{4})?-(\d{4})?\])?([^\[\],]+)")

TABLE_COLUMNS = ("code", "name", "first", "last", "sources")


@dataclass(frozen=True)
class Sighting:
    """A source showing ``code`` named ``name`` in use in ``year``."""

    code: str
    name: str
    year: int
    source: str
    # The year loc.dat ends a name in sorts before that year's lists, which
    # show the state at 31 December, and before a name it starts that year.
    ended: bool = False
    # False where loc.dat gives only the year a name ended ("[-1982]昌平县").
    dates_start: bool = True

    @property
    def moment(self) -> tuple[int, int]:
        return (self.year, 0 if self.ended else 1)


@dataclass(frozen=True)
class LocPeriod:
    """One name of a code in loc.dat, with the years it gives (inclusive)."""

    name: str
    start_year: int | None
    end_year: int | None


@dataclass(frozen=True)
class TableRow:
    code: str
    name: str
    first_year: int | None  # None: no source dates it
    last_year: int | None  # None: still in use
    sources: str


def read_areacodes(data_dir: Path) -> Iterator[Sighting]:
    """The yearly lists of yescallop/areacodes ``data/``."""
    files = sorted(path for path in data_dir.iterdir() if _AREACODES_FILE.fullmatch(path.name))
    if not files:
        raise ValueError(f"no YYYY.txt lists in {data_dir}")
    for path in files:
        year = int(path.name[:4])
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = _AREACODES_LINE.fullmatch(line)
            if match is None:
                raise ValueError(f"{path}:{number}: not 'code name': {line!r}")
            yield Sighting(match[1], match[2], year, AREACODES)


def read_gb2260(root: Path) -> Iterator[Sighting]:
    """The dated lists of cn/GB2260: ``mca/``, ``stats/`` and the editions at its root."""
    folders = (root, root / "mca", root / "stats")
    if missing := [str(folder) for folder in folders if not folder.is_dir()]:
        raise ValueError(f"not a GB2260 checkout, missing: {', '.join(missing)}")
    files = sorted(
        path for folder in folders for path in folder.iterdir() if _GB2260_FILE.fullmatch(path.name)
    )
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines or lines[0] != _GB2260_HEADER:
            raise ValueError(f"{path}: the first line is not {_GB2260_HEADER!r}")
        for number, line in enumerate(lines[1:], 2):
            match = _GB2260_LINE.fullmatch(line)
            if match is None or match[1] not in _GB2260_SOURCE_LETTERS:
                raise ValueError(f"{path}:{number}: not a GB2260 list line: {line!r}")
            if match[2] != path.name[:6]:
                raise ValueError(f"{path}:{number}: revision {match[2]} in the wrong file")
            yield Sighting(match[3], match[4], int(match[2][:4]), _GB2260_SOURCE_LETTERS[match[1]])


def parse_loc_dat(text: str) -> dict[str, tuple[LocPeriod, ...]]:
    """python-stdnum's loc.dat: a province line, then indented four-digit suffix lines."""
    table: dict[str, tuple[LocPeriod, ...]] = {}
    province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if match := _LOC_PROVINCE_LINE.fullmatch(line):
            province, name = match.groups()
            # A province always has a code of its own, even if the file only
            # names it on the province line.
            table.setdefault(province + "0000", (LocPeriod(name, None, None),))
        elif (match := _LOC_DIVISION_LINE.fullmatch(line)) and province:
            suffix, names = match.groups()
            table[province + suffix] = _parse_loc_names(names)
        else:
            # Fail loudly: a silently misread table would lose codes.
            raise ValueError(f"unexpected line in loc.dat: {line!r}")
    return table


def _parse_loc_names(field: str) -> tuple[LocPeriod, ...]:
    periods = []
    for part in field.split(","):
        match = _LOC_NAME_PERIOD.fullmatch(part)
        if match is None:
            raise ValueError(f"unexpected division name in loc.dat: {part!r}")
        start, end, name = match.groups()
        periods.append(LocPeriod(name, int(start) if start else None, int(end) if end else None))
    return tuple(periods)


def build_table(
    list_sightings: Iterable[Sighting], loc: dict[str, tuple[LocPeriod, ...]]
) -> list[TableRow]:
    """Every code of the dated lists and of loc.dat, one row per run of years with one name."""
    listed = list(list_sightings)
    if not listed:
        raise ValueError("no dated list given")
    # The dated lists are the authority for the years they cover; loc.dat's
    # own years disagree with them in places (Zhejiang's codes of 1980-1983).
    newest_year = max(sighting.year for sighting in listed)
    ever_listed = {sighting.code for sighting in listed}
    sightings = [
        *listed,
        *(s for s in _loc_sightings(loc) if s.code not in ever_listed or s.year > newest_year),
    ]
    dated = {sighting.code for sighting in sightings}
    undated = [
        TableRow(code, period.name, None, None, STDNUM)
        for code, periods in loc.items()
        if code not in dated
        for period in periods
    ]
    rows = _rows(sightings, _current_codes(listed, loc, newest_year, ever_listed), set(loc))
    return sorted([*rows, *undated], key=lambda row: row.code)


def _loc_sightings(loc: dict[str, tuple[LocPeriod, ...]]) -> Iterator[Sighting]:
    # loc.dat dates a name only by the years it gives, at either end.
    for code, periods in loc.items():
        for period in periods:
            if period.start_year is not None:
                yield Sighting(code, period.name, period.start_year, STDNUM)
            if period.end_year is not None:
                dated = period.start_year is not None
                yield Sighting(code, period.name, period.end_year, STDNUM, True, dated)


def _current_codes(
    listed: list[Sighting],
    loc: dict[str, tuple[LocPeriod, ...]],
    newest_year: int,
    ever_listed: set[str],
) -> set[str]:
    """In the newest list and not ended by loc.dat since, or left open by loc.dat unlisted.

    loc.dat's open ends are believed only where no list contradicts them: it
    leaves some moved codes open (429001 随州市 is 421300 since 2000).
    """
    current = {
        sighting.code
        for sighting in listed
        if sighting.year == newest_year
        and not any(
            period.end_year is not None and period.end_year > newest_year
            for period in loc.get(sighting.code, ())
        )
    }
    current.update(
        code
        for code, periods in loc.items()
        if any(
            period.end_year is None
            and (code not in ever_listed or (period.start_year or 0) > newest_year)
            for period in periods
        )
    )
    return current


def _rows(sightings: list[Sighting], current: set[str], in_loc: set[str]) -> list[TableRow]:
    rank = {source: position for position, source in enumerate(SOURCE_ORDER)}
    best: dict[str, dict[tuple[int, int], Sighting]] = defaultdict(dict)
    sources: dict[str, set[str]] = defaultdict(set)
    for code in in_loc:
        sources[code].add(STDNUM)
    for sighting in sightings:
        sources[sighting.code].add(sighting.source)
        held = best[sighting.code].get(sighting.moment)
        if held is None or rank[sighting.source] < rank[held.source]:
            best[sighting.code][sighting.moment] = sighting
    rows = []
    for code in sorted(best):
        letters = "".join(source for source in SOURCE_ORDER if source in sources[code])
        runs: list[list[Sighting]] = []
        for moment in sorted(best[code]):
            sighting = best[code][moment]
            if runs and runs[-1][-1].name == sighting.name:
                runs[-1].append(sighting)
            else:
                runs.append([sighting])
        for position, run in enumerate(runs):
            is_current = code in current and position == len(runs) - 1
            last_year = None if is_current else run[-1].year
            first_year = run[0].year if run[0].dates_start else None
            rows.append(TableRow(code, run[0].name, first_year, last_year, letters))
    return rows


def render_table(rows: Iterable[TableRow], provenance: Iterable[str]) -> str:
    lines = [f"# {line}".rstrip() for line in provenance]
    lines.append("\t".join(TABLE_COLUMNS))
    for row in rows:
        first, last = (
            "" if year is None else str(year) for year in (row.first_year, row.last_year)
        )
        lines.append("\t".join((row.code, row.name, first, last, row.sources)))
    return "\n".join(lines) + "\n"


def _provenance(args: argparse.Namespace, rows: list[TableRow]) -> list[str]:
    codes = {row.code for row in rows}
    return [
        "GB/T 2260 administrative division codes: every code ever published, with its names.",
        f"Generated by scripts/build_gb2260_table.py ({len(codes)} codes); do not edit by hand.",
        "",
        "Sources (letters of the sources column, most authoritative first):",
        f"  a  yescallop/areacodes data/*.txt (snapshot: commit {args.areacodes_commit}",
        f"     of {args.areacodes_date}): the Ministry of Civil Affairs' list at 31 December",
        "     of each year from 1981, with that project's errata applied (CC0 1.0)",
        f"  m  cn/GB2260 mca/*.tsv (snapshot: commit {args.gb2260_commit}",
        f"     of {args.gb2260_date}): the ministry's lists, 1980-2019",
        "  g  cn/GB2260 200212.tsv, 200712.tsv: the GB/T 2260-2002 and -2007 editions",
        "  s  cn/GB2260 stats/*.tsv: the statistics bureau's lists, 2002-2018, which also number",
        "     the 市辖区/县 groupings and development zones (xx71...)",
        f"  p  python-stdnum {args.stdnum_version} stdnum/cn/loc.dat (from the Chinese Wikipedia",
        "     lists): codes before 1980 and after the newest list, years as it gives them",
        "",
        "Union: every code any source lists. Each year's name comes from the first source",
        "listing the code that year; a run of years with one name is one row. first/last:",
        "the years of the first and last dated list showing that name; for codes no list has,",
        "and after the newest list, the years loc.dat gives (first is empty where it gives",
        "none). last is empty while the code is in use: in the newest list and not ended",
        "since by loc.dat, or left open by loc.dat and in no list (or opened after the newest).",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areacodes", type=Path, required=True, help="areacodes data/ folder")
    parser.add_argument("--areacodes-commit", required=True)
    parser.add_argument("--areacodes-date", required=True, help="the snapshot commit's date")
    parser.add_argument("--gb2260", type=Path, required=True, help="GB2260 checkout root")
    parser.add_argument("--gb2260-commit", required=True)
    parser.add_argument("--gb2260-date", required=True, help="the snapshot commit's date")
    parser.add_argument("--stdnum-loc", type=Path, required=True, help="stdnum/cn/loc.dat")
    parser.add_argument("--stdnum-version", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    sightings = [*read_areacodes(args.areacodes), *read_gb2260(args.gb2260)]
    loc = parse_loc_dat(args.stdnum_loc.read_text(encoding="utf-8"))
    rows = build_table(sightings, loc)
    args.out.write_text(render_table(rows, _provenance(args, rows)), encoding="utf-8")


if __name__ == "__main__":
    main()
