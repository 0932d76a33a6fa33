from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.names import names_match, normalise_name

REGISTERED = "北京某某科技有限公司（海淀分公司）"


@pytest.mark.parametrize(
    "variant",
    [
        "北京某某科技有限公司(海淀分公司)",
        "北京某某科技有限公司 (海淀分公司)",
        "北京 某某科技 有限公司（海淀分公司）",
        "北京某某科技有限公司\u3000（海淀分公司）",  # ideographic space
        "北京某某科技有限公司\u00a0(海淀分公司)",  # no-break space
        "北京某某科技有限公司\t(海淀分公司)\n",
        "北京某某科技\u200b有限公司(海淀分公司)",  # zero-width space
        "北京某某科技有限公司【海淀分公司】",
        "北京某某科技有限公司〔海淀分公司〕",
        "北京某某科技有限公司［海淀分公司］",
    ],
)
def test_bracket_and_space_variants_match(variant: str) -> None:
    assert names_match(REGISTERED, variant)


@pytest.mark.parametrize(
    "other",
    [
        "北京某某科技有限公司（朝阳分公司）",
        "北京某某科技有限公司",
        "北京某某科技股份有限公司（海淀分公司）",
        "上海某某科技有限公司（海淀分公司）",
    ],
)
def test_different_names_do_not_match(other: str) -> None:
    assert not names_match(REGISTERED, other)


def test_book_title_marks_are_not_brackets() -> None:
    assert not names_match("《读者》杂志社", "(读者)杂志社")


def test_latin_letters_and_digits_fold_width_and_case() -> None:
    assert names_match("ＡＢＣ科技（上海）有限公司", "abc科技(上海)有限公司")
    assert names_match("杭州３６０科技有限公司", "杭州360科技有限公司")
    assert not names_match("杭州360科技有限公司", "杭州361科技有限公司")


@pytest.mark.parametrize("dot", ["·", "・", "•", "･", "‧", "\u0387", "∙", "⋅"])
def test_middle_dots_in_transliterated_names_match(dot: str) -> None:
    assert names_match("阿依古丽·买买提", f"阿依古丽{dot}买买提")


def test_middle_dot_is_not_dropped() -> None:
    assert not names_match("阿依古丽·买买提", "阿依古丽买买提")


def test_normal_form_of_the_registered_name() -> None:
    assert normalise_name(REGISTERED) == "北京某某科技有限公司(海淀分公司)"


@given(st.text())
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise_name(text)
    assert normalise_name(once) == once


@given(st.text(), st.data())
def test_inserted_whitespace_never_matters(text: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(text)))
    space = data.draw(st.sampled_from([" ", "\u3000", "\u00a0", "\t", "\u2003"]))
    assert names_match(text, text[:position] + space + text[position:])
