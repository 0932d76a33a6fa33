"""Synthetic registry records for demos, load tests and benchmarks.

Records have the shape of the registry snapshot import format (JSON Lines) and
look like real ones: valid unified social credit codes under real division
codes, registration bureaus named after their district, valid identity numbers
for legal representatives, a realistic mix of statuses and licence terms. They
are made up: any resemblance of a name or number to a real one is chance.

The same ``count``, ``seed`` and ``as_of`` always give the same records.
"""

from __future__ import annotations

import bisect
import datetime
import functools
import json
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO, TypeVar

from service.domain.identifiers.divisions import (
    current_county_codes,
    division_name,
    is_grouping_name,
    province_of,
)
from service.domain.identifiers.resident_id import make_resident_id
from service.domain.identifiers.uscc import USCC_ALPHABET, make_uscc

_T = TypeVar("_T")

_BUREAU = "市场监督管理局"
# Codes issued from 1 October 2015 carry a new "MA..." subject identifier
# instead of a pre-existing numeric organisation code.
_UNIFIED_CODE_START = datetime.date(2015, 10, 1).toordinal()
_EARLIEST_ESTABLISHMENT = datetime.date(1990, 1, 1).toordinal()
_MEAN_ENTERPRISE_AGE_DAYS = 7 * 365
_ADULT_DAYS, _RETIREMENT_DAYS = 18 * 366, 65 * 365


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
_RARE_SURNAMES = (
    *"苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤",
    *_words("欧阳 司马 上官 诸葛"),
)
_GIVEN_CHARS = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志文辉鹏宇浩晨欣怡佳俊子轩梓涵思雨博一诺嘉泽天瑞凯琳婷雪梅红海波斌峰鑫亮成龙飞云昊然悦晓琪倩颖慧莉晶萍旭阳东林健"
)
# Transliterated Uyghur names, joined by a middle dot as registries write them.
_TRANSLITERATED_GIVEN = _words("阿依古丽 买买提 艾力 热依拉 阿迪力 古丽娜尔 努尔兰 迪丽拜尔")
_TRANSLITERATED_FAMILY = _words("买买提 艾买提 吐尔逊 阿不都 热合曼 玉素甫 依明 司马义")

_BRAND_CHARS = tuple(
    "云启华信达恒泰鑫盛源瑞丰博创智联宏远君安和美嘉益新锦天润德科迅腾卓越汇聚诚正海星辰光易通康健宇众合弘凯银金隆兴昌顺福祥鸿峰立方晟睿澜泽翔宸昊铭航力精捷"
)
# Industry wording in the name -> business-scope items ("；"-separated) it suggests.
_INDUSTRIES = tuple(
    (industry, tuple(scope.split("；")))
    for industry, scope in (
        ("网络科技", "技术服务、技术开发、技术咨询；软件开发；信息系统集成服务；互联网数据服务"),
        ("信息技术", "软件开发；信息技术咨询服务；数据处理和存储支持服务；计算机系统服务"),
        ("电子商务", "互联网销售（除销售需要许可的商品）；日用百货销售；服装服饰零售；食品销售"),
        ("贸易", "货物进出口；技术进出口；五金产品批发；建筑材料销售；化工产品销售"),
        ("餐饮管理", "餐饮管理；餐饮服务；食品销售；外卖递送服务"),
        ("建筑工程", "建设工程施工；住宅室内装饰装修；建筑劳务分包；园林绿化工程施工"),
        ("物流", "普通货物仓储服务；国内货物运输代理；道路货物运输；装卸搬运"),
        ("医疗器械", "第一类医疗器械销售；第二类医疗器械销售；医护人员防护用品批发"),
        ("生物科技", "生物技术推广服务；技术服务、技术开发、技术咨询；化妆品零售"),
        ("文化传媒", "组织文化艺术交流活动；广告设计、代理；广告制作；会议及展览服务"),
        ("教育科技", "教育咨询服务；软件开发；组织文化艺术交流活动"),
        ("环保科技", "环境保护专用设备销售；大气污染治理；水污染治理；固体废物治理"),
        ("新能源科技", "太阳能发电技术服务；储能技术服务；电池销售；新能源汽车电附件销售"),
        ("农业科技", "农业科学研究和试验发展；谷物种植；蔬菜种植；农产品的生产、销售"),
        ("食品", "食品生产；食品销售；农副产品销售；食用农产品批发"),
        ("机械设备", "通用设备制造；机械设备销售；机械设备租赁；机械零件、零部件加工"),
        ("物业管理", "物业管理；停车场服务；家政服务；园林绿化工程施工"),
        ("企业管理咨询", "企业管理咨询；信息咨询服务；市场营销策划；财务咨询"),
        ("供应链管理", "供应链管理服务；国内贸易代理；国内货物运输代理；货物进出口"),
        ("电子科技", "电子元器件制造；电子产品销售；集成电路设计；计算机软硬件及辅助设备零售"),
    )
)
_SHOPS = _words(
    "便利店 小吃店 餐馆 五金店 服装店 理发店 水果店 日用品店 烟酒店 副食店 建材经营部 "
    "手机维修店 面馆 超市 茶叶店 汽车修理部 粮油店"
)
_COOPERATIVE_PRODUCTS = _words(
    "蔬菜种植 水果种植 茶叶 生猪养殖 中药材种植 农机 水稻种植 食用菌种植 花卉苗木 蛋鸡养殖 水产养殖"
)
_COOPERATIVE_SCOPE = (
    "组织采购、供应成员所需的生产资料；组织收购、销售成员生产的产品；开展成员所需的技术培训"
)
_SCOPE_SUFFIX = "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）"
_ROADS = _words(
    "人民 中山 解放 建设 和平 新华 胜利 友谊 文化 学院 科技 创业 工业 长江 黄河 东风 光明 "
    "滨江 迎宾 金桥 环城 世纪 府前 江南 振兴 幸福 兴业 望江 城南 文三 体育 青年"
)
_ROAD_KINDS = ("路", "路", "街", "大道", "大街")

# (enterprise_type, weight, how it is owned, name ending)
_ENTERPRISE_KINDS: tuple[tuple[str, float, str, str], ...] = (
    ("有限责任公司(自然人投资或控股)", 46, "persons", "有限公司"),
    ("有限责任公司(自然人独资)", 25, "sole_person", "有限公司"),
    ("有限责任公司(法人独资)", 8, "sole_enterprise", "有限公司"),
    ("有限责任公司(非自然人投资或控股的法人独资)", 3, "sole_enterprise", "有限公司"),
    ("股份有限公司(非上市)", 6, "mixed", "股份有限公司"),
    ("股份有限公司(上市)", 0.5, "mixed", "股份有限公司"),
    ("个人独资企业", 6.5, "sole_person", "经营部"),
    ("有限合伙企业", 5, "mixed", "合伙企业（有限合伙）"),
)
# Per mille: mostly in business, a few percent cancelled or revoked, the rest rare.
_STATUSES = (
    *[("in_business", 870), ("cancelled", 60), ("revoked", 35), ("moved_out", 10)],
    *[("in_liquidation", 10), ("suspended", 8), ("withdrawn", 4), ("being_established", 3)],
)
_CHANGE_ITEMS = _words("法定代表人变更 投资人变更 注册资本变更 住所变更 经营范围变更 名称变更")
_INDIVIDUAL_CHANGE_ITEMS = _words("经营者变更 住所变更 经营范围变更 名称变更")
_CAPITALS_YUAN = tuple(10_000 * wan for wan in (10, 30, 50, 100, 200, 300, 500, 1000, 2000, 5000))
_CAPITAL_WEIGHTS = (14, 10, 14, 18, 8, 8, 12, 8, 4, 3)
_TERM_YEARS = (10, 15, 20, 30, 50)
_OUTSIDE_MAINLAND_PERMIT_CODES = ("810000", "820000", "830000")
# Retired codes, still on the ID cards of people first registered there.
_RETIRED_COUNTY_CODES = ("110103", "110104", "310103", "310108", "320103", "330103", "440102")


@dataclass(frozen=True)
class _Place:
    """A county-level place and how registries name it and its bureaus."""

    code: str
    county: str
    address_prefix: str
    name_prefix: str
    county_bureau: str
    city_code: str | None
    city_bureau: str | None


def _place(code: str) -> _Place:
    province = division_name(province_of(code)) or ""
    prefecture = division_name(code[:4] + "00") or ""
    county = division_name(code) or ""
    if not prefecture or is_grouping_name(prefecture):
        # Districts of Beijing, Tianjin, Shanghai, Chongqing, or a county-level
        # city run directly by its province (仙桃市).
        city = province if province.endswith("市") else ""
        city_code = province_of(code) if city else None
    else:
        city, city_code = prefecture, code[:4] + "00"
    # Names start with the city's short form (杭州云启...), or the county's.
    name_base = city or county
    # A district bureau is named with its city (杭州市西湖区); counties and
    # county-level cities go by their own name (淳安县, 昆山市).
    is_district = bool(city) and county.endswith(("区", "區"))
    return _Place(
        code=code,
        county=county,
        address_prefix=province + (city if city != province else "") + county,
        name_prefix=name_base.removesuffix("市") if len(name_base) > 2 else name_base,
        county_bureau=(city + county if is_district else county) + _BUREAU,
        city_code=city_code,
        city_bureau=city + _BUREAU if city else None,
    )


@functools.cache
def _places() -> tuple[_Place, ...]:
    return tuple(_place(code) for code in current_county_codes())


@dataclass
class _Registrant:
    """What differs between enterprises, individual businesses and cooperatives."""

    name: str
    enterprise_type: str
    representative: str
    capital_cents: int | None
    address: str
    business_scope: str
    shareholders: list[dict[str, object]]
    change_items: tuple[str, ...] = _CHANGE_ITEMS


def generate_registry_records(
    count: int, seed: int = 0, *, as_of: datetime.date
) -> Iterator[dict[str, object]]:
    """Yield ``count`` JSON-ready registry records as of the day ``as_of``."""
    if as_of.toordinal() - _EARLIEST_ESTABLISHMENT < 2 * 365:
        raise ValueError("as_of must be at least two years after 1990-01-01")
    factory = _RecordFactory(_Dice(seed), as_of)
    for _ in range(count):
        yield factory.record()


def write_jsonl(records: Iterable[dict[str, object]], stream: TextIO) -> int:
    """Write one JSON object per line; returns how many were written."""
    written = 0
    for record in records:
        stream.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        stream.write("\n")
        written += 1
    return written


class _Dice:
    """Draws from a seeded generator, quicker than random.Random's own helpers.

    choice, randint and choices(cum_weights=...) took most of the run time.
    """

    def __init__(self, seed: int) -> None:
        # Demo data, not secrets: a seeded, reproducible generator is the point.
        self._generator = random.Random(seed)  # noqa: S311
        self.random = self._generator.random
        self.expovariate = self._generator.expovariate

    # int(random() * n) is always below n: random() is at most 1 - 2**-53, and
    # the product rounds below n for every n under 2**53.
    def pick(self, items: Sequence[_T]) -> _T:
        return items[int(self.random() * len(items))]

    def picks(self, characters: Sequence[str], count: int) -> str:
        random, size = self.random, len(characters)
        return "".join([characters[int(random() * size)] for _ in range(count)])

    def some_of(self, items: Sequence[_T], count: int) -> list[_T]:
        """``count`` distinct items, consecutive from a random start (cheaper than sample)."""
        start = self.pick(range(len(items)))
        return [items[(start + offset) % len(items)] for offset in range(count)]

    def between(self, low: int, high: int) -> int:
        """An integer from low to high, both included."""
        return low + int(self.random() * (high - low + 1))

    def weighted(self, items: Sequence[_T], cumulative_weights: Sequence[float]) -> _T:
        return items[bisect.bisect(cumulative_weights, self.random() * cumulative_weights[-1])]


class _RecordFactory:
    def __init__(self, rng: _Dice, as_of: datetime.date) -> None:
        self._rng = rng
        self._as_of = as_of.toordinal()
        self._places = _places()
        self._names: set[str] = set()
        self._organisation_codes: set[str] = set()
        self._status_names = tuple(status for status, _ in _STATUSES)
        self._status_weights = _cumulative(weight for _, weight in _STATUSES)
        self._kind_weights = _cumulative(kind[1] for kind in _ENTERPRISE_KINDS)
        self._capital_weights = _cumulative(_CAPITAL_WEIGHTS)
        self._surname_weights = _cumulative(1 / (rank + 8) for rank in range(len(_SURNAMES)))

    def record(self) -> dict[str, object]:
        rng = self._rng
        place = rng.pick(self._places)
        established = self._establishment_day()
        roll = rng.random()
        if roll < 0.80:
            org_type, registrant = "1", self._enterprise(place)
        elif roll < 0.97:
            org_type, registrant = "2", self._individual_business(place)
        else:
            org_type, registrant = "3", self._cooperative(place)
        division, bureau = place.code, place.county_bureau
        # Some enterprises register with the city's bureau rather than the district's.
        if org_type == "1" and place.city_code and place.city_bureau and rng.random() < 0.1:
            division, bureau = place.city_code, place.city_bureau
        changes = self._changes(established, registrant, place)
        term_end = self._term_end(established)
        capital = registrant.capital_cents
        return {
            "uscc": make_uscc("9", org_type, division, self._organisation_code(established)),
            "name": registrant.name,
            "enterprise_type": registrant.enterprise_type,
            "legal_representative": {
                "name": registrant.representative,
                "id_number": self._id_number(place, established),
            },
            "registered_capital": None if capital is None else _yuan(capital),
            "capital_currency": "CNY",
            "establishment_date": _iso(established),
            "term_start": _iso(established),
            "term_end": None if term_end is None else _iso(term_end),
            "registration_authority": bureau,
            "approval_date": changes[-1]["date"] if changes else _iso(established),
            "status": rng.weighted(self._status_names, self._status_weights),
            "address": registrant.address,
            "business_scope": registrant.business_scope,
            "shareholders": registrant.shareholders,
            "changes": changes,
        }

    # -- kinds of registrant -------------------------------------------------

    def _enterprise(self, place: _Place) -> _Registrant:
        rng = self._rng
        enterprise_type, _, ownership, ending = rng.weighted(_ENTERPRISE_KINDS, self._kind_weights)
        industry, scope_items = rng.pick(_INDUSTRIES)
        name = self._unique_name(lambda: place.name_prefix + self._brand() + industry + ending)
        capital_cents = 100 * rng.weighted(_CAPITALS_YUAN, self._capital_weights)
        if ending == "股份有限公司":
            capital_cents *= 10
        owners: list[tuple[str, str]]
        if ownership == "sole_person":
            owners = [(self._person_name(), "natural_person")]
        elif ownership == "sole_enterprise":
            owners = [(self._parent_enterprise(place), "enterprise")]
        else:
            owners = [(self._person_name(), "natural_person") for _ in range(rng.between(2, 5))]
            if ownership == "mixed":
                owners.insert(0, (self._parent_enterprise(place), "enterprise"))
        people = [owner for owner, kind in owners if kind == "natural_person"]
        scope = "；".join(rng.some_of(scope_items, rng.between(2, len(scope_items))))
        return _Registrant(
            name=name,
            enterprise_type=enterprise_type,
            representative=people[0] if people and rng.random() < 0.8 else self._person_name(),
            capital_cents=capital_cents,
            address=self._address(place),
            business_scope="一般项目：" + scope + _SCOPE_SUFFIX,
            shareholders=self._shareholders(owners, capital_cents),
        )

    def _individual_business(self, place: _Place) -> _Registrant:
        shop = self._rng.pick(_SHOPS)
        # Shops are named after the county, the owner and the trade (西湖区张伟便利店).
        owner = self._person_name()
        while (name := place.county + owner + shop) in self._names:
            owner = self._person_name()
        self._names.add(name)
        return _Registrant(
            name=name,
            enterprise_type="个体工商户",
            representative=owner,
            capital_cents=None,
            address=self._address(place),
            business_scope=_shop_scope(shop),
            shareholders=[],
            change_items=_INDIVIDUAL_CHANGE_ITEMS,
        )

    def _cooperative(self, place: _Place) -> _Registrant:
        rng = self._rng
        product = rng.pick(_COOPERATIVE_PRODUCTS)
        name = self._unique_name(lambda: place.county + self._brand() + product + "专业合作社")
        # A cooperative needs at least five members.
        members = [(self._person_name(), "natural_person") for _ in range(rng.between(5, 8))]
        capital_cents = 100 * rng.pick((100_000, 300_000, 500_000, 1_000_000, 2_000_000))
        return _Registrant(
            name=name,
            enterprise_type="农民专业合作社",
            representative=members[0][0],
            capital_cents=capital_cents,
            address=self._address(place),
            business_scope=_COOPERATIVE_SCOPE + _SCOPE_SUFFIX,
            shareholders=self._shareholders(members, capital_cents),
        )

    # -- parts ---------------------------------------------------------------

    def _unique_name(self, propose: Callable[[], str]) -> str:
        while True:
            name = propose()
            if name not in self._names:
                self._names.add(name)
                return name

    def _brand(self) -> str:
        return self._rng.picks(_BRAND_CHARS, 2)

    def _parent_enterprise(self, place: _Place) -> str:
        suffix = self._rng.pick(("控股有限公司", "集团有限公司", "投资有限公司"))
        return place.name_prefix + self._brand() + suffix

    def _person_name(self) -> str:
        rng = self._rng
        roll = rng.random()
        if roll < 0.015:
            return rng.pick(_TRANSLITERATED_GIVEN) + "·" + rng.pick(_TRANSLITERATED_FAMILY)
        if roll < 0.85:
            surname = rng.weighted(_SURNAMES, self._surname_weights)
        else:
            surname = rng.pick(_RARE_SURNAMES)
        return surname + rng.picks(_GIVEN_CHARS, 1 if rng.random() < 0.3 else 2)

    def _address(self, place: _Place) -> str:
        rng = self._rng
        road = rng.pick(_ROADS) + rng.pick(_ROAD_KINDS)
        number = f"{rng.between(1, 999)}号"
        roll = rng.random()
        if roll < 0.4:
            number += f"{rng.between(1, 12)}幢{rng.between(1, 30)}{rng.between(1, 20):02d}室"
        elif roll < 0.6:
            number += f"{rng.between(1, 9)}号楼{rng.between(1, 5)}-{rng.between(1, 30)}"
        return place.address_prefix + road + number

    def _shareholders(
        self, owners: Sequence[tuple[str, str]], capital_cents: int
    ) -> list[dict[str, object]]:
        # Ratios in basis points, so that they add up to exactly 1; every owner
        # gets at least 1/(100 * owners) of the whole.
        weights = [self._rng.between(1, 100) for _ in owners]
        total = sum(weights)
        basis_points = [10_000 * weight // total for weight in weights]
        basis_points[0] += 10_000 - sum(basis_points)
        shares = [capital_cents * points // 10_000 for points in basis_points]
        shares[0] += capital_cents - sum(shares)
        return [
            {
                "name": name,
                "kind": kind,
                "subscribed_capital": _yuan(share),
                "ratio": f"{points // 10_000}.{points % 10_000:04d}",
            }
            for (name, kind), points, share in zip(owners, basis_points, shares, strict=True)
        ]

    def _changes(
        self, established: int, registrant: _Registrant, place: _Place
    ) -> list[dict[str, object]]:
        rng = self._rng
        first_possible, last_possible = established + 30, self._as_of - 1
        if first_possible > last_possible:
            return []
        count = rng.weighted((0, 1, 2, 3), (50, 80, 95, 100))
        days = sorted(rng.between(first_possible, last_possible) for _ in range(count))
        items = rng.some_of(registrant.change_items, count)
        changes: list[dict[str, object]] = []
        for day, item in zip(days, items, strict=True):
            before, after = self._change_values(item, registrant, place)
            changes.append({"date": _iso(day), "item": item, "before": before, "after": after})
        return changes

    def _change_values(self, item: str, registrant: _Registrant, place: _Place) -> tuple[str, str]:
        """Plausible before and after values; the after value is the current one."""
        if item in ("法定代表人变更", "经营者变更"):
            return self._person_name(), registrant.representative
        if item == "投资人变更":
            holders = "、".join(str(holder["name"]) for holder in registrant.shareholders)
            return self._person_name(), holders
        if item == "注册资本变更":
            now = (registrant.capital_cents or 0) // 1_000_000
            return f"{self._rng.pick((10, 50, 100))}万元人民币", f"{now}万元人民币"
        if item == "住所变更":
            return self._address(place), registrant.address
        if item == "经营范围变更":
            return _shop_scope(self._rng.pick(_SHOPS)), registrant.business_scope
        return place.name_prefix + self._brand() + "商贸有限公司", registrant.name

    def _establishment_day(self) -> int:
        # Most enterprises are young: ages follow an exponential distribution.
        span = self._as_of - _EARLIEST_ESTABLISHMENT
        age = int(self._rng.expovariate(1 / _MEAN_ENTERPRISE_AGE_DAYS)) % span
        return self._as_of - 1 - age

    def _term_end(self, established: int) -> int | None:
        rng = self._rng
        if rng.random() < 0.55:
            return None
        start = datetime.date.fromordinal(established)
        end_year = start.year + rng.pick(_TERM_YEARS)
        try:
            anniversary = start.replace(year=end_year)
        except ValueError:  # 29 February
            anniversary = start.replace(year=end_year, day=28)
        # The term ends the day before the anniversary.
        return anniversary.toordinal() - 1

    def _organisation_code(self, established: int) -> str:
        rng = self._rng
        while True:
            if established >= _UNIFIED_CODE_START:
                code = "MA" + rng.picks(USCC_ALPHABET, 6)
            else:
                code = str(rng.between(10_000_000, 99_999_999))
            if code not in self._organisation_codes:
                self._organisation_codes.add(code)
                return code

    def _id_number(self, place: _Place, established: int) -> str | None:
        rng = self._rng
        roll = rng.random()
        if roll < 0.10:
            return None  # not every source publishes it
        if roll < 0.105:
            division = rng.pick(_OUTSIDE_MAINLAND_PERMIT_CODES)
        elif roll < 0.15:
            division = rng.pick(_RETIRED_COUNTY_CODES)
        elif roll < 0.75:
            division = place.code
        else:
            division = rng.pick(self._places).code
        born = established - rng.between(_ADULT_DAYS, _RETIREMENT_DAYS)
        return make_resident_id(division, datetime.date.fromordinal(born), rng.between(1, 999))


def _shop_scope(shop: str) -> str:
    return "一般项目：" + shop + "经营" + _SCOPE_SUFFIX


def _cumulative(weights: Iterable[float]) -> tuple[float, ...]:
    total, cumulative = 0.0, []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return tuple(cumulative)


def _yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _iso(ordinal: int) -> str:
    return datetime.date.fromordinal(ordinal).isoformat()
