from __future__ import annotations

import datetime as dt

import pytest

from service.domain.masking import mask_change, mask_names_in, mask_person_name
from service.domain.registry import ChangeRecord

DAY = dt.date(2020, 1, 1)


def test_person_names_keep_their_first_character() -> None:
    assert mask_person_name("王小明") == "王**"
    assert mask_person_name(" 欧阳明月 ") == "欧***"
    assert mask_person_name("王") == "*"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("王小明", "王**"),
        ("慕容复(自然人股东)、杭州燕子坞投资有限公司", "慕**(自然人股东)、杭州燕子坞投资有限公司"),
        ("张三：100万元; 李四", "张*：100万元; 李*"),
        ("500万元人民币", "500万元人民币"),
        ("杭州某某合伙企业（有限合伙）", "杭州某某合伙企业（有限合伙）"),
        ("", ""),
    ],
)
def test_names_in_a_list_of_holders_are_masked_and_organisations_kept(
    text: str, masked: str
) -> None:
    assert mask_names_in(text) == masked


def test_only_changes_that_name_people_are_masked() -> None:
    representative = ChangeRecord(DAY, "法定代表人变更", "张无忌", "王小明")
    assert mask_change(representative) == ChangeRecord(DAY, "法定代表人变更", "张**", "王**")
    scope = ChangeRecord(DAY, "经营范围变更", "技术开发", "技术开发、技术服务")
    assert mask_change(scope) == scope
    address = ChangeRecord(DAY, "住所变更", "文三路100号", "文二路1号")
    assert mask_change(address) == address
