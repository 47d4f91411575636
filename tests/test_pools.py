from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shuangsuiji.ids import uscc_valid_mask
from shuangsuiji.model import Entity, Inspector, PopulationFilter, Task
from shuangsuiji.pools import Categorical, EntityPool, InspectorPool, Labels
from shuangsuiji.synth import make_city

CITY = make_city(3_000, seed=11)


def _brute_force(pool: EntityPool, f: PopulationFilter) -> list[str]:
    out = []
    for e in pool:
        if f.entity_types and e.entity_type not in f.entity_types:
            continue
        if f.industry_prefixes and not any(e.industry.startswith(p) for p in f.industry_prefixes):
            continue
        if f.region_prefixes and not any(e.region.startswith(p) for p in f.region_prefixes):
            continue
        if f.tiers and e.tier not in f.tiers:
            continue
        if f.statuses and e.status not in f.statuses:
            continue
        if f.tags_any and not (e.tags & set(f.tags_any)):
            continue
        if f.registered_before and not e.registered < f.registered_before:
            continue
        if f.registered_after and not e.registered > f.registered_after:
            continue
        out.append(e.id)
    return out


filters = st.builds(
    PopulationFilter,
    entity_types=st.lists(
        st.sampled_from(["有限责任公司", "个体工商户", "合伙企业", "无此类型"]), max_size=2
    ),
    industry_prefixes=st.lists(st.sampled_from(["F", "F52", "H6210", "C", "Z9"]), max_size=2),
    region_prefixes=st.lists(st.sampled_from(["3501", "350102", "350104003", "11"]), max_size=2),
    tiers=st.lists(st.sampled_from("ABCD"), max_size=2),
    statuses=st.lists(st.sampled_from(["存续", "注销", "吊销"]), max_size=2),
    tags_any=st.lists(st.sampled_from(["经营异常名录", "严重违法失信", "未知标签"]), max_size=2),
    registered_before=st.one_of(st.none(), st.dates(date(2010, 1, 1), date(2026, 1, 1))),
)


@given(filters)
def test_vectorised_filters_match_row_by_row(f: PopulationFilter) -> None:
    small = CITY.entities.take(np.arange(400))
    assert small.filter(f).id_list() == _brute_force(small, f)


def test_city_is_valid_and_deterministic() -> None:
    assert uscc_valid_mask(CITY.entities.ids).all()
    assert len(np.unique(CITY.entities.ids)) == len(CITY.entities)
    again = make_city(3_000, seed=11)
    assert (again.entities.ids == CITY.entities.ids).all()
    assert make_city(3_000, seed=12).entities.id_list() != CITY.entities.id_list()
    shares = np.bincount(CITY.entities.tier, minlength=4) / len(CITY.entities)
    assert shares[0] > shares[1] > shares[2] > shares[3] > 0  # most entities are low risk
    assert len(CITY.departments) >= 3 and len(CITY.conflicts) > 0
    assert len(set(CITY.inspectors.department.labels)) >= 3


def test_round_trip_rows_and_columns() -> None:
    rows = list(CITY.entities.take(np.arange(50)))
    pool = EntityPool.from_entities(rows)
    assert list(pool) == rows
    insp = list(CITY.inspectors.take(np.arange(20)))
    assert list(InspectorPool.from_inspectors(insp)) == insp


def test_pool_refuses_duplicates_and_bad_tiers() -> None:
    e = CITY.entities.entity(0)
    with pytest.raises(ValueError, match="occurs more than once"):
        EntityPool.from_entities([e, e])
    with pytest.raises(ValueError, match="unknown credit-risk tier"):
        EntityPool.from_columns(
            ids=["X1"],
            names=["n"],
            entity_type=["t"],
            industry=["F"],
            region=["350102"],
            registered=[date(2020, 1, 1)],
            tier=["E"],
            status=["存续"],
            tags=[[]],
        )


def test_index_of_and_take() -> None:
    ids = CITY.entities.id_list()
    rows = CITY.entities.index_of([ids[5], ids[0]])
    assert rows.tolist() == [5, 0]
    with pytest.raises(KeyError, match="not in the pool"):
        CITY.entities.index_of(["91350100M000100Y43"])


def test_inspector_masks() -> None:
    pool = CITY.inspectors
    day = date(2027, 1, 1)
    mask = pool.certified_on(day)
    expected = [i.certified_on(day) for i in pool]
    assert mask.tolist() == expected
    assert pool.holding("食品安全").tolist() == ["食品安全" in i.qualifications for i in pool]


def test_categorical_and_labels() -> None:
    c = Categorical.from_values(["b", "a", "b"])
    assert c.values().tolist() == ["b", "a", "b"] and c[0] == "b"
    t = Labels.from_sets([{"x"}, {"x", "y"}, set()])
    assert t.all_of(["x", "y"]).tolist() == [False, True, False]
    assert t.all_of(["z"]).tolist() == [False, False, False]


def test_ten_million_entity_pool_fits_in_two_gigabytes() -> None:
    # The columns' size grows linearly; measure per-entity bytes on 200k and extrapolate.
    pool = make_city(200_000, seed=5).entities
    per_entity = pool.nbytes / len(pool)
    assert per_entity * 10_000_000 < 2 * 1024**3, per_entity


def test_model_validation_messages() -> None:
    with pytest.raises(ValueError, match="tier"):
        Entity("X", "n", "t", "F5191", "350102", date(2020, 1, 1), tier="E")
    with pytest.raises(ValueError, match="region"):
        Inspector("I1", "张三", "SCJG", "35x", "证1", date(2030, 1, 1))
    with pytest.raises(ValueError, match=r"end .* is before start"):
        Task("T1", "P1", "任务", ("SCJG",), ("I1",), date(2026, 5, 1), date(2026, 4, 1))
    with pytest.raises(ValueError, match="population would be empty"):
        PopulationFilter(registered_after=date(2020, 1, 1), registered_before=date(2019, 1, 1))
    f = PopulationFilter(industry_prefixes=("H",), registered_before=date(2024, 1, 1))
    assert PopulationFilter.from_dict(f.to_dict()) == f
    with pytest.raises(ValueError, match="unknown population filter field"):
        PopulationFilter.from_dict({"sql": "1=1"})
