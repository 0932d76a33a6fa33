from __future__ import annotations

import datetime
import re
from importlib import resources

import pytest

from service.domain.identifiers.divisions import (
    _parse_table,
    current_county_codes,
    division_name,
    is_known_division,
    province_of,
)
from service.domain.identifiers.resident_id import make_resident_id, parse_resident_id
from service.domain.identifiers.uscc import make_uscc, parse_uscc

# Rows quoted from service/domain/identifiers/gb2260.tsv (code, name, first and
# last year listed, sources: a areacodes, m/g/s GB2260 mca/gb/stats, p stdnum):
#   110103  崇文区  1980  2009  amgsp    retired when it merged into 东城区
#   110118  密云区  2015        amsp     created when 密云县 became a district
#   120110  东郊区  1980  1991  amgsp    then 东丽区 from 1992
#   130101  市辖区  2002  2018  gsp      a statistical heading, not a place
#   429001  随州市  1984  1999  amp      loc.dat left it open; 随州 is 421300 since 2000


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
    assert "429001" not in codes  # moved to 421300 in 2000; loc.dat left it open
    assert "429004" in codes  # 仙桃市, a county-level city run by the province


def test_province_of() -> None:
    assert province_of("330106") == "330000"
    assert province_of("110000") == "110000"


@pytest.mark.parametrize("code", ["33010", "3301060", "33O106", "３３０１０６"])
def test_province_of_rejects_malformed_codes(code: str) -> None:
    with pytest.raises(ValueError):
        province_of(code)


# Codes python-stdnum 2.2's loc.dat lacks (the table the service read before),
# found by diffing it with the published lists; each was rejected until then.
@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("330113", "临平区"),  # Hangzhou, 2021
        ("330114", "钱塘区"),  # Hangzhou, 2021
        ("139003", "遵化市"),  # Hebei's province-run cities of 1990-1994 (1390xx)
        ("329021", "通州市"),  # Jiangsu's, 1993-1994
        ("132102", "邯山区"),  # the ministry's lists of 1980-1982
        ("370903", "岱岳区"),  # GB/T 2260-2002, until 2006
        ("469034", "陵水黎族自治县"),  # GB/T 2260-2002, until 2006
        ("500181", "江津市"),  # Chongqing, 1997-2005
        ("620201", "市辖区"),  # Jiayuguan's districts, in the 2002-2018 lists
    ],
)
def test_codes_the_old_table_lacked_are_known(code: str, name: str) -> None:
    assert is_known_division(code)
    assert division_name(code) == name


@pytest.mark.parametrize("code", ["330113", "139003", "620201", "500157"])
def test_identifiers_issued_under_codes_the_old_table_lacked_parse(code: str) -> None:
    number = make_resident_id(code, datetime.date(1990, 5, 17), 123)
    assert parse_resident_id(number, datetime.date(2026, 1, 1)).division_code == code
    assert parse_uscc(make_uscc("9", "1", code, "MA2H3K4L")).division_code == code


@pytest.mark.parametrize(
    "code",
    [
        "110110",  # 燕山区, listed 1980-1985
        "422921",  # 神农架林区, listed until 1993 (429021 since)
        "110201",  # 昌平县, until 1982 (only loc.dat has it)
        "332821",  # 定海县 until 1982, then 丽水县 until 1986 (only loc.dat has it)
    ],
)
def test_codes_retired_long_ago_are_known(code: str) -> None:
    assert is_known_division(code)
    assert code not in current_county_codes()


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("330113", "临平区"),
        ("540481", "米林市"),  # 米林县 became a city in 2023
        ("659012", "白杨市"),  # 2023
        ("653228", "和康县"),  # 2024
    ],
)
def test_codes_created_recently_are_known_and_current(code: str, name: str) -> None:
    assert is_known_division(code)
    assert division_name(code) == name
    assert code in current_county_codes()


def test_a_code_opened_after_the_newest_list_is_known() -> None:
    # Only python-stdnum's table, ahead of the lists, has it.
    assert division_name("500157") == "两江新区"


@pytest.mark.parametrize("code", ["110101", "130101", "110100", "620201", "429000"])
def test_district_codes_and_groupings_are_known(code: str) -> None:
    # Identity numbers and credit codes carry what the lists published, the
    # "市辖区" groupings and "省直辖" headings too; the generator skips them.
    assert is_known_division(code)


def test_the_shipped_table_parses_and_is_small() -> None:
    table_file = resources.files("service.domain.identifiers").joinpath("gb2260.tsv")
    text = table_file.read_text(encoding="utf-8")
    assert len(text.encode()) < 400_000
    table = _parse_table(text)
    assert len(table) > 7300
    # The provenance header names the snapshots the table was built from.
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert "yescallop/areacodes" in header and "cn/GB2260" in header
    assert len(re.findall(r"commit [0-9a-f]{40}", header)) == 2


def test_table_format_with_historical_names() -> None:
    table = _parse_table(
        "# comment\n"
        "code\tname\tfirst\tlast\tsources\n"
        "120000\t天津市\t1980\t\tamgsp\n"
        "120110\t东郊区\t1980\t1991\tamgsp\n"
        "120110\t东丽区\t1992\t\tamgsp\n"
        "110201\t昌平县\t\t1982\tp\n"
    )
    assert set(table) == {"120000", "120110", "110201"}
    names = [(p.name, p.first_year, p.last_year) for p in table["120110"]]
    assert names == [("东郊区", 1980, 1991), ("东丽区", 1992, None)]
    assert [(p.first_year, p.last_year) for p in table["110201"]] == [(None, 1982)]


@pytest.mark.parametrize(
    "text",
    [
        "120110\t东丽区\t1992\t\tamgsp\n",  # no header
        "code\tname\tfirst\tlast\tsources\n120110\t东丽区\t1992\tamgsp\n",
        "code\tname\tfirst\tlast\tsources\n12011\t东丽区\t1992\t\tamgsp\n",
        "code\tname\tfirst\tlast\tsources\n120110\t东丽区\t92\t\tamgsp\n",
        "code\tname\tfirst\tlast\tsources\n120110\t东丽区\t1992\t\tx\n",
        "code\tname\tfirst\tlast\tsources\ngarbage\n",
    ],
)
def test_table_rejects_lines_it_does_not_understand(text: str) -> None:
    with pytest.raises(ValueError):
        _parse_table(text)
