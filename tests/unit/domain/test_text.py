from __future__ import annotations

import unicodedata

import pytest

from service.domain.errors import InvalidIdentifier
from service.domain.text import TextKind, check_text, max_length

NAME_LIKE = [TextKind.ENTERPRISE_NAME, TextKind.PERSON_NAME, TextKind.ADDRESS]


def reason_for(value: str, kind: TextKind) -> str:
    with pytest.raises(InvalidIdentifier) as caught:
        check_text(value, kind)
    if len(value) > 3:
        assert value not in caught.value.description
    return caught.value.reason


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("杭州云启网络科技有限公司", TextKind.ENTERPRISE_NAME),
        ("北京某某科技有限公司（海淀分公司）", TextKind.ENTERPRISE_NAME),
        ("宁波云启投资管理合伙企业(有限合伙)", TextKind.ENTERPRISE_NAME),
        ("H&M服饰（上海）有限公司", TextKind.ENTERPRISE_NAME),
        ("ABC Co., Ltd. 北京代表处", TextKind.ENTERPRISE_NAME),
        ("张三", TextKind.PERSON_NAME),
        ("张　三", TextKind.PERSON_NAME),  # padded with an ideographic space
        ("阿依古丽·买买提", TextKind.PERSON_NAME),
        ("吉𠮷", TextKind.PERSON_NAME),  # CJK Extension B, outside the BMP
        ("Jean-Paul O. Smith", TextKind.PERSON_NAME),
        ("浙江省杭州市西湖区文三路478号华星时代广场A座12-3室", TextKind.ADDRESS),
        ("北京市海淀区中关村大街1号（近地铁站）3/F", TextKind.ADDRESS),
        ("上海市浦东新区张江路1#楼，2～3层：B区", TextKind.ADDRESS),
        ("广东省深圳市南山区科技园路二〇一号", TextKind.ADDRESS),
        ("ORD-2025:0001/batch_7.json", TextKind.REFERENCE),
    ],
)
def test_realistic_values_are_accepted(value: str, kind: TextKind) -> None:
    check_text(value, kind)


def test_extension_b_character_is_a_letter_outside_the_bmp() -> None:
    assert ord("𠮷") > 0xFFFF and unicodedata.category("𠮷") == "Lo"


@pytest.mark.parametrize("kind", list(TextKind))
@pytest.mark.parametrize("value", ["", " ", "\u3000\u3000", "\t\n", "\u00a0"])
def test_empty_or_whitespace_only_is_required(value: str, kind: TextKind) -> None:
    assert reason_for(value, kind) == "TEXT_REQUIRED"


@pytest.mark.parametrize(
    ("kind", "limit"),
    [
        (TextKind.ENTERPRISE_NAME, 150),
        (TextKind.PERSON_NAME, 60),
        (TextKind.ADDRESS, 300),
        (TextKind.REFERENCE, 200),
    ],
)
def test_length_is_counted_in_code_points(kind: TextKind, limit: int) -> None:
    assert max_length(kind) == limit
    # 𠮷 is one code point (two UTF-16 units, four UTF-8 bytes).
    char = "a" if kind is TextKind.REFERENCE else "𠮷"
    check_text(char * limit, kind)
    assert reason_for(char * (limit + 1), kind) == "TEXT_TOO_LONG"


@pytest.mark.parametrize("kind", list(TextKind))
@pytest.mark.parametrize(
    "value",
    [
        "ab\u200dcd",  # zero-width joiner
        "ab\u200bcd",  # zero-width space
        "ab\u202ecd",  # right-to-left override
        "ab\ud800cd",  # lone surrogate
        "ab\x00cd",
        "ab\tcd",
        "ab\ue000cd",  # private use
        "ab\U000e0fffcd",  # unassigned
    ],
)
def test_invisible_and_meaningless_characters_are_control_characters(
    value: str, kind: TextKind
) -> None:
    assert reason_for(value, kind) == "TEXT_CONTROL_CHARACTER"


@pytest.mark.parametrize("kind", list(TextKind))
@pytest.mark.parametrize(
    "value",
    [
        "'; DROP TABLE x;--",
        "<script>alert(1)</script>",
        "张三😀",  # emoji, outside the BMP
        "张三★",
        'a"b',
        "a;b",
        "a<b>",
        "a=b",
    ],
)
def test_injection_markup_and_symbols_are_not_allowed(value: str, kind: TextKind) -> None:
    assert reason_for(value, kind) == "TEXT_CHARACTER_NOT_ALLOWED"


def test_description_names_the_character_by_code_point() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        check_text("张三丰😀", TextKind.PERSON_NAME)
    assert "U+1F600" in caught.value.description
    assert "character 4" in caught.value.description
    assert "张三丰" not in caught.value.description


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("订单1", TextKind.REFERENCE),
        ("ref 1", TextKind.REFERENCE),
        ("ref１", TextKind.REFERENCE),  # full-width digit
        ("张三#1", TextKind.PERSON_NAME),
        ("张三/李四", TextKind.ENTERPRISE_NAME),
        ("某某公司&", TextKind.ADDRESS),
        ("张三&李四", TextKind.PERSON_NAME),
    ],
)
def test_punctuation_is_per_kind(value: str, kind: TextKind) -> None:
    assert reason_for(value, kind) == "TEXT_CHARACTER_NOT_ALLOWED"
