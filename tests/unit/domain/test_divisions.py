from __future__ import annotations

import pytest

from service.domain.identifiers.divisions import (
    _parse_table,
    current_county_codes,
    division_name,
    is_known_division,
    province_of,
)

# Entries quoted from python-stdnum's stdnum/cn/loc.dat:
#   11 0103 county="[-2010]崇文区"          retired when it merged into 东城区
#   11 0118 county="[2015-]密云区"          created when 密云县 became a district
#   12 0110 county="[-1991]东郊区,[1992-]东丽区"
#   13 0101 county="[1983-]市辖区"          a statistical heading, not a place
#   42 9001 county="随州市"                 no end year, yet 随州 is 421300 since 2000


def test_codes_of_every_year_are_known() -> None:
    assert is_known_division("110105")
    assert is_known_division("110103")  # retired in 2010
    assert is_known_division("110118")  # created in 2015
    assert is_known_division("330000")  # province level
    assert is_known_division("330100")  # prefecture level


def test_codes_never_in_the_table_are_unknown() -> None:
    assert not is_known_division("999999")
    assert not is_known_division("110199")
    # Neither the national registration authority code nor the Taiwan
    # residence-permit prefix is a GB/T 2260 division.
    assert not is_known_division("100000")
    assert not is_known_division("830000")
    assert not is_known_division("")


def test_division_name_prefers_the_current_name() -> None:
    assert division_name("120110") == "东丽区"
    assert division_name("110108") == "海淀区"
    assert division_name("330000") == "浙江省"


def test_division_name_of_a_retired_code_is_its_last_name() -> None:
    assert division_name("110103") == "崇文区"


def test_division_name_of_an_unknown_code_is_none() -> None:
    assert division_name("999999") is None


def test_current_county_codes_are_sorted_county_level_mainland_codes() -> None:
    codes = current_county_codes()
    assert list(codes) == sorted(set(codes))
    assert len(codes) > 2500
    for code in codes:
        assert len(code) == 6 and code.isdigit()
        assert not code.endswith("00")
        assert code[:2] not in {"71", "81", "82"}
        assert is_known_division(code)


def test_current_county_codes_keep_current_and_drop_retired_and_headings() -> None:
    codes = set(current_county_codes())
    assert {"110108", "110118", "330106", "120110"} <= codes
    assert "110103" not in codes  # retired
    assert "130101" not in codes  # 市辖区 heading
    assert "429001" not in codes  # stale entry in loc.dat
    assert "429004" in codes  # 仙桃市, a county-level city run by the province


def test_province_of() -> None:
    assert province_of("330106") == "330000"
    assert province_of("110000") == "110000"


@pytest.mark.parametrize("code", ["33010", "3301060", "33O106", "３３０１０６"])
def test_province_of_rejects_malformed_codes(code: str) -> None:
    with pytest.raises(ValueError):
        province_of(code)


def test_table_format_with_historical_names() -> None:
    table = _parse_table(
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


def test_table_without_a_province_division_line_still_knows_the_province() -> None:
    table = _parse_table('71 province="台湾省"\n')
    assert [p.name for p in table["710000"]] == ["台湾省"]


@pytest.mark.parametrize(
    "line",
    ['  0110 county="东丽区"', '11 province="北京市"\n 0101 county="东城区"', "garbage"],
)
def test_table_rejects_lines_it_does_not_understand(line: str) -> None:
    with pytest.raises(ValueError):
        _parse_table(line)
