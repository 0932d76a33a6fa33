from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from service.domain.identifiers.divisions import _parse_table, is_known_division

BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_gb2260_table.py"
HEADER = "Source\tRevision\tCode\tName\n"


@pytest.fixture(scope="module")
def build() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("build_gb2260_table", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up while the class is being made.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_the_shipped_table_keeps_every_code_python_stdnums_table_has(build: ModuleType) -> None:
    loc_dat = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    stdnum_codes = set(build.parse_loc_dat(loc_dat))
    assert len(stdnum_codes) > 6800
    assert {code for code in stdnum_codes if not is_known_division(code)} == set()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    areacodes, gb2260, loc = tmp_path / "areacodes", tmp_path / "GB2260", tmp_path / "loc.dat"
    _write(areacodes / "2022.txt", "110000 北京市\n120110 东丽区\n429001 随州市\n500105 江北区\n")
    _write(areacodes / "2023.txt", "110000 北京市\n120110 东丽区\n500105 江北区\n")
    _write(areacodes / "README.md", "not a list\n")
    _write(gb2260 / "mca" / "202212.tsv", HEADER + "mca\t202212\t120110\t东郊区\n")
    _write(gb2260 / "mca" / "198012.tsv", HEADER + "mca\t198012\t132102\t邯山区\n")
    _write(gb2260 / "stats" / "201810.tsv", HEADER + "stats\t201810\t110100\t市辖区\n")
    _write(gb2260 / "200212.tsv", HEADER + "gb\t200212\t110000\t北京市\n")
    _write(gb2260 / "sources.tsv", "Source\tRevision\tURL\tSchema\n")
    _write(
        loc,
        '11 province="北京市"\n'
        '  0000 county="北京市"\n'
        '  0201 county="[-1982]昌平县"\n'
        '42 province="湖北省"\n'
        '  9001 county="随州市"\n'
        '50 province="重庆市"\n'
        '  0105 county="[1997-2025]江北区"\n'
        '  0157 county="[2025-]两江新区"\n',
    )
    return {"areacodes": areacodes, "gb2260": gb2260, "loc": loc}


def test_builds_the_union_the_service_reads(
    build: ModuleType, sources: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "gb2260.tsv"
    build.main(
        [
            *("--areacodes", str(sources["areacodes"]), "--areacodes-commit", "a" * 40),
            *("--areacodes-date", "2025-11-04"),
            *("--gb2260", str(sources["gb2260"]), "--gb2260-commit", "b" * 40),
            *("--gb2260-date", "2022-09-20"),
            *("--stdnum-loc", str(sources["loc"]), "--stdnum-version", "2.2"),
            *("--out", str(out)),
        ]
    )
    text = out.read_text(encoding="utf-8")
    assert "a" * 40 in text and "b" * 40 in text and "python-stdnum 2.2" in text
    assert "2025-11-04" in text and "2022-09-20" in text
    table = {
        code: [(p.name, p.first_year, p.last_year) for p in periods]
        for code, periods in _parse_table(text).items()
    }
    assert table == {
        "110000": [("北京市", 2002, None)],
        # Only the statistics bureau numbers the grouping.
        "110100": [("市辖区", 2018, 2018)],
        # loc.dat dates it only by its end.
        "110201": [("昌平县", None, 1982)],
        # Only an old ministry list has it.
        "132102": [("邯山区", 1980, 1980)],
        # areacodes outranks the GB2260 list of the same year.
        "120110": [("东丽区", 2022, None)],
        # loc.dat leaves it open, the lists show it retired.
        "429001": [("随州市", 2022, 2022)],
        # In the newest list, but loc.dat, ahead of it, ends it.
        "500105": [("江北区", 2022, 2025)],
        # Only loc.dat, opened after the newest list.
        "500157": [("两江新区", 2025, None)],
        # loc.dat's province lines, undated.
        "420000": [("湖北省", None, None)],
        "500000": [("重庆市", None, None)],
    }
    rows = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    sources_of = {row[0]: row[4] for row in rows[1:]}
    assert sources_of["110000"] == "agp" and sources_of["120110"] == "am"


def test_names_change_where_the_lists_change_them(build: ModuleType) -> None:
    sightings = [
        build.Sighting("120110", "东郊区", 1990, "a"),
        build.Sighting("120110", "东郊区", 1991, "a"),
        build.Sighting("120110", "东丽区", 1992, "a"),
        build.Sighting("120110", "东丽区", 1993, "s"),
    ]
    rows = build.build_table(sightings, {})
    assert [(r.name, r.first_year, r.last_year) for r in rows] == [
        ("东郊区", 1990, 1991),
        ("东丽区", 1992, None),
    ]


def test_a_misfiled_gb2260_list_is_refused(build: ModuleType, tmp_path: Path) -> None:
    _write(tmp_path / "mca" / "201904.tsv", HEADER + "mca\t201801\t110000\t北京市\n")
    (tmp_path / "stats").mkdir()
    with pytest.raises(ValueError, match="wrong file"):
        list(build.read_gb2260(tmp_path))


def test_a_gb2260_path_without_its_lists_is_refused(build: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "mca").mkdir()
    with pytest.raises(ValueError, match="stats"):
        list(build.read_gb2260(tmp_path))


def test_an_areacodes_line_it_does_not_understand_is_refused(
    build: ModuleType, tmp_path: Path
) -> None:
    _write(tmp_path / "2024.txt", "110000\t北京市\n")
    with pytest.raises(ValueError, match=r"2024\.txt:1"):
        list(build.read_areacodes(tmp_path))


def test_loc_dat_format_with_historical_names(build: ModuleType) -> None:
    table = build.parse_loc_dat(
        "# comment\n"
        '12 province="天津市"\n'
        '  0000 county="天津市"\n'
        '  0110 county="[-1991]东郊区,[1992-]东丽区"\n'
        '  0225 county="[1973-2015]蓟县"\n'
    )
    assert set(table) == {"120000", "120110", "120225"}
    names = [(p.name, p.start_year, p.end_year) for p in table["120110"]]
    assert names == [("东郊区", None, 1991), ("东丽区", 1992, None)]
    assert [(p.start_year, p.end_year) for p in table["120225"]] == [(1973, 2015)]


def test_loc_dat_without_a_province_division_line_still_knows_the_province(
    build: ModuleType,
) -> None:
    table = build.parse_loc_dat('71 province="台湾省"\n')
    assert [p.name for p in table["710000"]] == ["台湾省"]


@pytest.mark.parametrize(
    "line",
    ['  0110 county="东丽区"', '11 province="北京市"\n 0101 county="东城区"', "garbage"],
)
def test_loc_dat_lines_it_does_not_understand_are_refused(build: ModuleType, line: str) -> None:
    with pytest.raises(ValueError):
        build.parse_loc_dat(line)
