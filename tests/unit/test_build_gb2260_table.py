from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

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


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


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
