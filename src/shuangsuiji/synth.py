"""A synthetic city for demos, tests, benchmarks and docs.

:func:`make_city` builds, deterministically from a seed, a city of 100 to 10,000,000
entities with valid, unique USCCs, realistic shares of entity types, industries, districts
and credit-risk tiers, several departments with their inspectors (certificates, some
expired or inactive), an inspection item list (一单) and declared conflicts of interest.

Synthetic data is not an audited path, so numpy's ``Generator`` is fine here; the draws
themselves never use it.

>>> city = make_city(500, seed=1)
>>> len(city.entities), len(city.departments) >= 3
(500, True)
>>> from shuangsuiji.ids import validate_uscc
>>> validate_uscc(city.entities.id_list()[0]) == city.entities.id_list()[0]
True
"""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.errors import InvalidInputError
from shuangsuiji.ids import USCC_ALPHABET
from shuangsuiji.model import Conflict, Department, InspectionItem
from shuangsuiji.pools import STRING, Categorical, EntityPool, InspectorPool, Labels

__all__ = ["City", "Conflict", "make_city"]

CITY_NAME = "榕城市"
DISTRICTS = {  # division code -> (name, share of entities)
    "350102": ("鼓楼区", 0.17),
    "350103": ("台江区", 0.13),
    "350104": ("仓山区", 0.18),
    "350105": ("马尾区", 0.07),
    "350111": ("晋安区", 0.16),
    "350112": ("长乐区", 0.11),
    "350121": ("闽侯县", 0.10),
    "350122": ("连江县", 0.08),
}
TOWNSHIPS_PER_DISTRICT = 12
ENTITY_TYPES = {  # label -> (USCC type character, share)
    "有限责任公司": ("1", 0.53),
    "股份有限公司": ("1", 0.03),
    "个人独资企业": ("1", 0.03),
    "合伙企业": ("1", 0.02),
    "个体工商户": ("2", 0.37),
    "农民专业合作社": ("3", 0.02),
}
INDUSTRIES = {  # GB/T 4754-2017 class -> (description, share)
    "F5191": ("贸易批发", 0.14),
    "F5261": ("零售", 0.20),
    "H6210": ("餐饮", 0.16),
    "C1391": ("食品加工", 0.04),
    "C2720": ("药品制造", 0.01),
    "C3311": ("金属制品", 0.03),
    "E4790": ("建筑安装", 0.06),
    "I6510": ("软件开发", 0.07),
    "K7020": ("物业管理", 0.04),
    "L7212": ("商务服务", 0.10),
    "O8010": ("居民服务", 0.09),
    "R8870": ("文化娱乐", 0.03),
    "F5265": ("药品零售", 0.03),
}
TIER_SHARES = (0.58, 0.30, 0.09, 0.03)
STATUS_SHARES = {"存续": 0.90, "在业": 0.04, "停业": 0.01, "注销": 0.03, "吊销": 0.02}
TAG_SHARES = {"经营异常名录": 0.05, "投诉举报较多": 0.02, "严重违法失信": 0.005}
DEPARTMENTS = (
    Department("SCJG", "榕城市市场监督管理局"),
    Department("WJW", "榕城市卫生健康委员会"),
    Department("STHJ", "榕城市生态环境局"),
    Department("YJGL", "榕城市应急管理局"),
)
DEPARTMENT_SHARES = (0.55, 0.15, 0.15, 0.15)
QUALIFICATIONS = {"食品安全": 0.35, "特种设备": 0.15, "药品": 0.12, "计量": 0.10, "广告": 0.15}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌宇浩凯鹏辉玲琳晨"
WORDS = "鑫源华泰恒昌隆盛达兴宏福瑞祥安康金海天宇锦程永信诚德丰和嘉润博远汇通新创美佳"
SUFFIX = {
    "有限责任公司": "有限公司",
    "股份有限公司": "股份有限公司",
    "个人独资企业": "经营部",
    "合伙企业": "企业（有限合伙）",
    "个体工商户": "店",
    "农民专业合作社": "专业合作社",
}
ITEMS = (
    InspectionItem(
        "SCJG-01",
        "SCJG",
        "企业公示信息情况检查",
        "《企业信息公示暂行条例》第十四条",
        "企业",
        method="书面检查",
        default_ratio=0.03,
    ),
    InspectionItem(
        "SCJG-02",
        "SCJG",
        "食品经营者经营条件检查",
        "《中华人民共和国食品安全法》第一百一十条",
        "食品经营者",
        key=True,
        default_ratio=0.05,
        required_qualifications={"食品安全"},
    ),
    InspectionItem(
        "SCJG-03",
        "SCJG",
        "药品零售企业经营行为检查",
        "《中华人民共和国药品管理法》第九十九条",
        "药品零售企业",
        key=True,
        default_ratio=0.10,
        required_qualifications={"药品"},
    ),
    InspectionItem(
        "WJW-01",
        "WJW",
        "公共场所卫生检查",
        "《公共场所卫生管理条例》第十条",
        "公共场所经营者",
        default_ratio=0.05,
    ),
    InspectionItem(
        "STHJ-01",
        "STHJ",
        "排污单位污染物排放检查",
        "《中华人民共和国环境保护法》第二十四条",
        "排污单位",
        key=True,
        default_ratio=0.05,
    ),
    InspectionItem(
        "YJGL-01",
        "YJGL",
        "生产经营单位安全生产检查",
        "《中华人民共和国安全生产法》第六十五条",
        "生产经营单位",
        default_ratio=0.05,
    ),
)


@attrs.frozen(eq=False)
class City:
    """A synthetic city: its pools, departments, item list, conflicts and district names."""

    name: str
    entities: EntityPool
    inspectors: InspectorPool
    departments: tuple[Department, ...]
    items: tuple[InspectionItem, ...]
    conflicts: tuple[Conflict, ...]
    districts: dict[str, str]


def _pick(rng: np.random.Generator, shares: tuple[float, ...], n: int) -> npt.NDArray[np.intp]:
    p = np.asarray(shares, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _join(*parts: npt.NDArray[Any]) -> npt.NDArray[Any]:
    out = parts[0].astype(STRING)
    for part in parts[1:]:
        out = np.strings.add(out, part.astype(STRING))
    return out


def _base31(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    digits = np.empty((len(values), width), dtype=np.uint8)
    rest = values.copy()
    for col in range(width - 1, -1, -1):
        digits[:, col] = rest % 31
        rest //= 31
    return digits


def _usccs(
    type_chars: npt.NDArray[np.str_], regions: npt.NDArray[np.str_], seed: int
) -> npt.NDArray[np.bytes_]:
    n = len(regions)
    alphabet = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)
    values = np.zeros((n, 17), dtype=np.uint8)
    lookup = np.full(256, 0, dtype=np.uint8)
    lookup[alphabet] = np.arange(31, dtype=np.uint8)
    values[:, 0] = 9  # registered by the market regulator (工商)
    values[:, 1] = lookup[np.frombuffer(type_chars.astype("S1").tobytes(), dtype=np.uint8)]
    region_digits = np.frombuffer(regions.astype("S6").tobytes(), dtype=np.uint8).reshape(n, 6)
    values[:, 2:8] = region_digits - ord("0")
    # Organisation codes: "MA" + 7 base-31 digits of an affine bijection of the row number,
    # so codes are unique without a retry loop.
    space = 31**7
    multiplier = 1_000_003 + 2 * (seed % 1000)
    offset = (seed * 7919) % space
    serial = (np.arange(n, dtype=np.int64) * multiplier + offset) % space
    values[:, 8] = lookup[ord("M")]
    values[:, 9] = lookup[ord("A")]
    values[:, 10:17] = _base31(serial, 7)
    weights = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
    check = (31 - (values.astype(np.int64) * weights).sum(axis=1) % 31) % 31
    chars = np.concatenate([alphabet[values], alphabet[check][:, None]], axis=1)
    return np.frombuffer(chars.tobytes(), dtype="S18")


def _entities(rng: np.random.Generator, n: int, seed: int) -> EntityPool:
    district_codes = np.asarray(list(DISTRICTS))
    district = district_codes[_pick(rng, tuple(s for _, s in DISTRICTS.values()), n)]
    township = rng.integers(1, TOWNSHIPS_PER_DISTRICT + 1, size=n)
    regions = _join(district, np.char.zfill(township.astype(str), 3))
    type_labels = np.asarray(list(ENTITY_TYPES))
    type_idx = _pick(rng, tuple(s for _, s in ENTITY_TYPES.values()), n)
    types = type_labels[type_idx]
    type_chars = np.asarray([c for c, _ in ENTITY_TYPES.values()])[type_idx]
    industry_idx = _pick(rng, tuple(s for _, s in INDUSTRIES.values()), n)
    industry = np.asarray(list(INDUSTRIES))[industry_idx]
    descr = np.asarray([d for d, _ in INDUSTRIES.values()])[industry_idx]
    suffix = np.asarray([SUFFIX[t] for t in ENTITY_TYPES])[type_idx]
    ids = _usccs(type_chars, district.astype(str), seed)
    w = np.frombuffer(WORDS.encode("utf-32-le"), dtype="U1")
    trade = _join(w[rng.integers(0, len(w), n)], w[rng.integers(0, len(w), n)])
    city_prefix = np.full(n, "榕城", dtype=STRING)
    names = _join(city_prefix, trade, descr, suffix)
    age_days = (rng.exponential(scale=2600.0, size=n)).astype(np.int64) % 11_000
    registered = np.datetime64("2026-06-30") - age_days.astype("timedelta64[D]")
    tiers = _pick(rng, TIER_SHARES, n).astype(np.uint8)
    status_labels = np.asarray(list(STATUS_SHARES))
    status = status_labels[_pick(rng, tuple(STATUS_SHARES.values()), n)]
    tag_bits = np.zeros(n, dtype=np.uint64)
    tag_labels = tuple(sorted(TAG_SHARES))
    for i, label in enumerate(tag_labels):
        # Higher-risk tiers carry most tags, as on real abnormal-operations lists.
        p = TAG_SHARES[label] * (0.4 + 0.6 * tiers)
        tag_bits |= (rng.random(n) < p).astype(np.uint64) << np.uint64(i)
    return EntityPool(
        ids=ids,
        names=names,
        entity_type=Categorical.from_values(types),
        industry=industry.astype("S5"),
        region=regions.astype("S9"),
        registered=registered,
        tier=tiers,
        status=Categorical.from_values(status),
        tags=Labels(tag_bits, tag_labels),
    )


def _inspectors(rng: np.random.Generator, n: int) -> InspectorPool:
    dept = np.asarray([d.code for d in DEPARTMENTS])[_pick(rng, DEPARTMENT_SHARES, n)]
    district_codes = np.asarray(list(DISTRICTS))
    region = district_codes[rng.integers(0, len(district_codes), n)]
    home = _join(
        district_codes[rng.integers(0, len(district_codes), n)],
        np.char.zfill(rng.integers(1, TOWNSHIPS_PER_DISTRICT + 1, n).astype(str), 3),
    )
    s = np.frombuffer(SURNAMES.encode("utf-32-le"), dtype="U1")
    g = np.frombuffer(GIVEN.encode("utf-32-le"), dtype="U1")
    names = _join(s[rng.integers(0, len(s), n)], g[rng.integers(0, len(g), n)])
    two = rng.random(n) < 0.6
    names = np.where(two, _join(names, g[rng.integers(0, len(g), n)]), names)
    qual_labels = tuple(sorted(QUALIFICATIONS))
    bits = np.zeros(n, dtype=np.uint64)
    for i, label in enumerate(qual_labels):
        bits |= (rng.random(n) < QUALIFICATIONS[label]).astype(np.uint64) << np.uint64(i)
    expiry = np.datetime64("2026-03-31") + rng.integers(0, 5 * 365, n).astype("timedelta64[D]")
    serial = np.char.zfill((np.arange(n) + 1).astype(str), 5)
    ids = _join(np.full(n, "ZF3501", dtype=STRING), serial)
    cert = _join(
        np.full(n, "闽执", dtype=STRING), np.char.zfill((n + 10_000 + np.arange(n)).astype(str), 8)
    )
    return InspectorPool(
        ids=ids.astype("S11"),
        names=names,
        department=Categorical.from_values(dept),
        region=region.astype("S9"),
        home_region=home.astype("S9"),
        certificate_no=cert,
        certificate_expiry=expiry,
        qualifications=Labels(bits, qual_labels),
        active=rng.random(n) > 0.03,
    )


def _conflicts(
    rng: np.random.Generator, entities: EntityPool, inspectors: InspectorPool
) -> tuple[Conflict, ...]:
    n = max(1, len(inspectors) // 10)
    who = rng.choice(len(inspectors), size=min(n, len(inspectors)), replace=False)
    what = rng.integers(0, len(entities), size=len(who))
    relations = ("近亲属任职", "曾任职", "持有股份", "其他利害关系")
    rel = rng.integers(0, len(relations), size=len(who))
    return tuple(
        Conflict(
            inspectors.ids[i].decode(),
            entities.ids[e].decode(),
            relations[r],
            "本人申报",
        )
        for i, e, r in zip(who.tolist(), what.tolist(), rel.tolist(), strict=True)
    )


def make_city(n_entities: int, seed: int = 2026, n_inspectors: int | None = None) -> City:
    """Build a synthetic city of ``n_entities`` (100 to 10,000,000) deterministically from ``seed``.

    ``n_inspectors`` defaults to one officer per 120 entities (at least 40, at most 20,000).
    """
    if not 1 <= n_entities <= 10_000_000:
        raise InvalidInputError(f"n_entities must be between 1 and 10,000,000, got {n_entities}")
    if seed < 0:
        raise InvalidInputError("seed must be a non-negative integer")
    rng = np.random.default_rng(seed)
    entities = _entities(rng, n_entities, seed)
    n_insp = n_inspectors if n_inspectors is not None else min(20_000, max(40, n_entities // 120))
    inspectors = _inspectors(rng, n_insp)
    return City(
        name=CITY_NAME,
        entities=entities,
        inspectors=inspectors,
        departments=DEPARTMENTS,
        items=ITEMS,
        conflicts=_conflicts(rng, entities, inspectors),
        districts={code: name for code, (name, _) in DISTRICTS.items()},
    )


def reference_day() -> date:
    """The synthetic city's 'today' (used by the demo so its output is stable)."""
    return date(2026, 6, 30)
