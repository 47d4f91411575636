"""The PostgreSQL pushdown gives exactly the in-memory draw.

Every comparison runs the in-memory path (``Store.load_entities`` → ``freeze_candidates`` →
``draw_entities``) and the pushed-down path (``freeze_in_database`` → ``draw_in_database``)
on the same stored rows, and asserts equal counts, rules, exclusions, pool digests and
:class:`~shuangsuiji.draw.Draw` values (IDs, strata, tickets, order).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import attrs
import numpy as np
import pytest
from consistent_sampler import sampler
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, delete, func, select, text, update

import shuangsuiji.store.pushdown as pushdown
from shuangsuiji.candidates import CandidateSet, freeze_candidates
from shuangsuiji.draw import (
    Draw,
    InvalidLabelError,
    MissingRuleError,
    SizeRule,
    TicketScheme,
    draw_entities,
    draw_key,
    pool_digest,
)
from shuangsuiji.model import (
    DEREGISTERED_STATUSES,
    STATUSES,
    TIERS,
    InspectionItem,
    Plan,
    PopulationFilter,
    Task,
)
from shuangsuiji.policy import ExclusionRules, Policy, RatioRules
from shuangsuiji.pools import EntityPool
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store
from shuangsuiji.store.pushdown import (
    CandidateSpec,
    DatabaseCandidateSet,
    FrozenCandidates,
    PoolChangedError,
    UnknownTierError,
    UnsupportedDatabaseError,
    count_strata,
    digest_in_database,
    draw_in_database,
    freeze_in_database,
    insert_candidates,
    stratum_rules,
)
from shuangsuiji.store.schema import DrawCandidateRow, DrawRow, EntityRow
from shuangsuiji.synth import ITEMS, make_city

PG_URL = os.environ.get("SSJ_TEST_POSTGRES_URL", "")
REQUIRE_PG = os.environ.get("SSJ_REQUIRE_POSTGRES") == "1"
CUTOFF = date(2026, 6, 30)
TAGS = ("经营异常名录", "投诉举报较多", "严重违法失信")
INDUSTRIES = ("F5191", "F5261", "H6210", "C1391", "C2720", "E4790", "I6510", "F5265")
DISTRICTS = ("350102", "350103", "350104", "350105", "350111", "350112", "350121", "350122")


@pytest.fixture(scope="module")
def pg_server() -> str:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SSJ_REQUIRE_POSTGRES=1 but SSJ_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server: set SSJ_TEST_POSTGRES_URL (see .ci/run)")
    return PG_URL


@pytest.fixture(scope="module")
def fresh_database(pg_server: str) -> Iterator[Any]:
    """A factory of new, empty databases, all dropped when the module's tests are done."""
    admin = create_engine(pg_server.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    made: list[tuple[str, Engine]] = []

    def make(icu: bool = False) -> Store:
        """With ``icu=True`` the database sorts text linguistically (ICU zh-CN), not by bytes."""
        name = f"ssj_pd_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            if icu:
                conn.execute(
                    text(
                        f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                        "LOCALE_PROVIDER icu ICU_LOCALE 'zh-CN' LOCALE 'C.UTF-8'"
                    )
                )
            else:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        store = Store.open(pg_server.rsplit("/", 1)[0] + "/" + name)
        made.append((name, store.engine))
        return store

    yield make
    for name, engine in made:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@attrs.frozen(eq=False)
class CityDb:
    engine: Engine
    pool: EntityPool  # as loaded back from the store: the in-memory path's input


@pytest.fixture(scope="module", params=[11, 12, 13])
def city_db(request: pytest.FixtureRequest, fresh_database: Any) -> CityDb:
    """A synthetic city of 4,000 entities (three seeds) stored in its own database."""
    store: Store = fresh_database()
    store.import_entities(make_city(4_000, seed=request.param).entities, actor="测试")
    return CityDb(store.engine, store.load_entities())


def _task(population: PopulationFilter, ratio: float | None = None, key: bool = False) -> Task:
    return Task(
        "T1",
        "P1",
        "抽查",
        ("SCJG",),
        ("SCJG-02",) if key else ("SCJG-01",),
        date(2026, 7, 1),
        date(2026, 9, 30),
        population=population,
        ratio=ratio,
    )


def _both(
    db: CityDb,
    task: Task,
    policy: Policy,
    *,
    last_inspected: dict[str, date] | None = None,
    items: tuple[InspectionItem, ...] = ITEMS,
) -> tuple[CandidateSet, DatabaseCandidateSet]:
    memory = freeze_candidates(
        db.pool, task, policy, items, cutoff=CUTOFF, last_inspected=last_inspected
    )
    database = freeze_in_database(
        db.engine, task, policy, items, cutoff=CUTOFF, last_inspected=last_inspected
    )
    return memory, database


def _assert_same_freeze(memory: CandidateSet, database: DatabaseCandidateSet) -> None:
    counts = np.bincount(memory.strata.codes, minlength=len(memory.strata.labels))
    assert database.counts == dict(zip(memory.strata.labels, counts.tolist(), strict=True))
    assert list(database.counts) == list(memory.strata.labels)  # UTF-8 label order
    assert database.rules == memory.rules
    assert database.exclusions == memory.exclusions
    assert database.digest == memory.digest
    assert database.size == memory.size
    assert database.to_json() == memory.to_json()


def _assert_same_draw(a: Draw, b: Draw) -> None:
    assert [p.to_json() for p in a.selected] == [p.to_json() for p in b.selected]
    assert [p.to_json() for p in a.alternates] == [p.to_json() for p in b.alternates]
    assert a == b


# --- known answers, independent of draw.py ---------------------------------------------------

VECTOR_IDS = [
    "91350102MA2YA0001U",
    "91350102MA2YA0002Y",
    "91350102MA2YA00032",
    "91350102MA2YA00045",
    "91350102MA2YA00058",
    "91350102MA2YA0006B",
    "91350102MA2YA0007E",
    "91350102MA2YA0008H",
]


def _vector_pool() -> EntityPool:
    n = len(VECTOR_IDS)
    return EntityPool.from_columns(
        ids=VECTOR_IDS,
        names=["某某公司"] * n,
        entity_type=["有限责任公司"] * n,
        industry=["F5191"] * n,
        region=["350102001"] * n,
        registered=[date(2020, 1, 1)] * n,
        tier=["A"] * 4 + ["C"] * 4,
        status=["存续"] * n,
        tags=[()] * n,
    )


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("scheme", "selected", "alternates"),
    [
        ("ssj-draw-1", ["0001U", "0006B", "0007E"], ["00045", "00058"]),
        ("consistent_sampler", ["00045", "0007E", "0008H"], ["0002Y", "0006B"]),
    ],
)
def test_the_published_test_vectors(
    fresh_database: Any, scheme: str, selected: list[str], alternates: list[str]
) -> None:
    store: Store = fresh_database()
    store.import_entities(_vector_pool(), actor="测试")
    rules = {
        "A|350102": SizeRule(ratio="0.25", alternates=1),
        "C|350102": SizeRule(ratio="0.5", minimum=1, alternates=1),
    }
    seed = bytes(range(32))
    d = draw_in_database(
        store.engine, CandidateSpec(), rules, task_label="2025-福州-001", seed=seed, scheme=scheme
    )
    assert [p.id[-5:] for p in d.selected] == selected
    assert [p.id[-5:] for p in d.alternates] == alternates
    if scheme == "ssj-draw-1":
        assert d.selected[0].ticket == (
            "0c8fc7a1acbe88c380187c3ac7f10db4bf2513f3ae08ffdaa0def6f6c76d6ba3"
        )
    # The pool digest of the same IDs with the docs' strata "A"/"C" is published; ours have
    # jurisdiction strata, so check against hashlib directly.
    lines = sorted(f"{i}\t{'A' if k < 4 else 'C'}|350102\n" for k, i in enumerate(VECTOR_IDS))
    expected = hashlib.sha256("".join(lines).encode()).hexdigest()
    assert digest_in_database(store.engine, CandidateSpec()) == expected
    assert digest_in_database(store.engine, CandidateSpec(), max_bytes=0) == expected


@pytest.mark.postgres
def test_consistent_sampler_scheme_is_the_public_package(city_db: CityDb) -> None:
    seed = bytes(range(16, 48))
    rules = SizeRule(ratio="0.1", alternates=3)
    spec = CandidateSpec(region_digits=2)  # strata = tiers
    d = draw_in_database(
        city_db.engine, spec, rules, task_label="cs", seed=seed, scheme="consistent_sampler"
    )
    key = draw_key("cs", seed)
    ids = city_db.pool.id_list()
    tiers = [TIERS[t] for t in city_db.pool.tier.tolist()]
    for s in d.strata:
        members = [i for i, t in zip(ids, tiers, strict=True) if f"{t}|35" == s.label]
        take = s.sample + s.alternates
        expected = list(sampler(members, seed=key.hex(), take=take, output="id"))
        got = [p.id for p in (*d.selected, *d.alternates) if p.stratum == s.label]
        assert got == expected


# --- identical to the in-memory path ---------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", list(TicketScheme))
def test_default_task_matches_in_memory(city_db: CityDb, scheme: TicketScheme) -> None:
    task = _task(PopulationFilter())
    memory, database = _both(city_db, task, Policy.default())
    _assert_same_freeze(memory, database)
    seed = hashlib.sha256(b"default").digest()
    expected = draw_entities(
        memory.ids, memory.strata, memory.rules, task_label="T1", seed=seed, scheme=scheme
    )
    _assert_same_draw(
        draw_in_database(city_db.engine, database, task_label="T1", seed=seed, scheme=scheme),
        expected,
    )


def _policies() -> st.SearchStrategy[Policy]:
    ratio = st.sampled_from([0.01, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0])

    @st.composite
    def build(draw: st.DrawFn) -> Policy:
        tiers = sorted(draw(st.lists(ratio, min_size=4, max_size=4)))
        tags = draw(st.dictionaries(st.sampled_from(TAGS), ratio, max_size=3))
        cap = draw(st.sampled_from([0.05, 0.1, 0.5, 1.0]))
        floor = draw(st.sampled_from([0.0, 0.01, 0.03]))
        return attrs.evolve(
            Policy.default(),
            ratios=RatioRules(
                tier=dict(zip(TIERS, tiers, strict=True)),
                tags=tags,
                general_item_cap=cap,
                floor=min(floor, cap),
                floor_region_digits=draw(st.sampled_from([2, 6, 9])),
                alternates=draw(st.sampled_from([0.0, 0.2, 0.5])),
            ),
            exclusions=ExclusionRules(
                recently_inspected_days=draw(st.sampled_from([0, 30, 365])),
                statuses=tuple(
                    draw(st.lists(st.sampled_from(sorted(DEREGISTERED_STATUSES)), unique=True))
                ),
                registered_after_cutoff=draw(st.booleans()),
            ),
        )

    return build()


def _small_subset(values: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(values), max_size=3, unique=True).map(tuple)


@st.composite
def _populations(draw: st.DrawFn) -> PopulationFilter:
    days = st.integers(0, 6000).map(lambda d: CUTOFF - timedelta(days=d))
    before = draw(st.none() | days)
    after = draw(st.none() | days)
    if before is not None and after is not None and after >= before:
        after = None
    return PopulationFilter(
        entity_types=draw(_small_subset(("有限责任公司", "个体工商户", "股份有限公司"))),
        industry_prefixes=draw(_small_subset((*INDUSTRIES, "F", "F52", "C1", "X", "%", "_"))),
        region_prefixes=draw(_small_subset((*DISTRICTS, "35", "3501", "3502"))),
        tiers=draw(_small_subset(TIERS)),
        statuses=draw(_small_subset(STATUSES)),
        tags_any=draw(_small_subset((*TAGS, "未知标签"))),
        registered_before=before,
        registered_after=after,
    )


@pytest.mark.postgres
@settings(max_examples=12, deadline=None)
@given(
    population=_populations(),
    policy=_policies(),
    ratio=st.none() | st.sampled_from([0.02, 0.05, 0.3]),
    key_item=st.booleans(),
    inspected=st.lists(st.integers(0, 3_999), max_size=300),
    inspected_days=st.lists(st.integers(0, 800), min_size=1, max_size=1),
    seed=st.binary(min_size=16, max_size=40),
    scheme=st.sampled_from(list(TicketScheme)),
)
def test_random_directed_draws_match_in_memory(
    city_db: CityDb,
    population: PopulationFilter,
    policy: Policy,
    ratio: float | None,
    key_item: bool,
    inspected: list[int],
    inspected_days: list[int],
    seed: bytes,
    scheme: TicketScheme,
) -> None:
    ids = city_db.pool.id_list()
    last = {ids[i]: CUTOFF - timedelta(days=inspected_days[0] + i % 400) for i in inspected}
    task = _task(population, ratio, key_item)
    memory, database = _both(city_db, task, policy, last_inspected=last)
    _assert_same_freeze(memory, database)
    expected = draw_entities(
        memory.ids, memory.strata, memory.rules, task_label="任务-1", seed=seed, scheme=scheme
    )
    got = draw_in_database(city_db.engine, database, task_label="任务-1", seed=seed, scheme=scheme)
    _assert_same_draw(got, expected)


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", list(TicketScheme))
def test_prefilter_fallback_and_no_prefilter_give_the_same_draw(
    city_db: CityDb, scheme: TicketScheme, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = CandidateSpec(region_digits=6)
    rules = SizeRule(ratio="0.05", minimum=2, alternates=4)
    seed = b"\x07" * 32
    reference = draw_in_database(
        city_db.engine, spec, rules, task_label="T", seed=seed, scheme=scheme, prefilter=False
    )
    calls: list[int] = []
    ranked = pushdown._ranked

    def spy(*args: Any) -> Any:
        calls.append(len(args[2]))
        return ranked(*args)

    monkeypatch.setattr(pushdown, "_ranked", spy)
    assert (
        draw_in_database(city_db.engine, spec, rules, task_label="T", seed=seed, scheme=scheme)
        == reference
    )
    assert len(calls) == 1  # the pre-filter let enough rows through everywhere
    # A pre-filter that is far too tight: every stratum falls back to a full ranking.
    calls.clear()
    monkeypatch.setattr(pushdown, "_margin", lambda take: -(take // 2) - 1)
    assert (
        draw_in_database(city_db.engine, spec, rules, task_label="T", seed=seed, scheme=scheme)
        == reference
    )
    assert len(calls) == 2 and calls[1] > 0


@pytest.mark.postgres
def test_frozen_candidates_of_a_registry_draw(fresh_database: Any) -> None:
    store: Store = fresh_database()
    reg = Registry(store)
    reg.setup_city(make_city(2_000, seed=5), actor="管理员")
    store.put_plan(Plan("P1", 2026, "年度计划", ("SCJG",)), actor="管理员")
    store.put_task(_task(PopulationFilter(industry_prefixes=("F", "H"))), actor="管理员")
    result = reg.draw("T1", actor="抽取人", cutoff=CUTOFF)
    with store.engine.connect() as conn:
        row = conn.execute(select(DrawRow)).one()
    rules = {k: SizeRule.from_json(v) for k, v in json.loads(row.strata).items()}
    got = draw_in_database(
        store.engine, FrozenCandidates(row.id), rules, task_label="T1", seed=row.seed
    )
    _assert_same_draw(got, result.draw)
    assert digest_in_database(store.engine, FrozenCandidates(row.id)) == row.pool_digest
    # insert_candidates writes the same rows the registry wrote through Python.
    spec = CandidateSpec.for_task(store.task("T1"), store.policy(), cutoff=CUTOFF)
    with store.engine.begin() as conn:
        before = set(conn.execute(select(DrawCandidateRow.__table__)).all())
        conn.execute(delete(DrawCandidateRow))
        assert insert_candidates(conn, spec, row.id) == len(before)
        assert set(conn.execute(select(DrawCandidateRow.__table__)).all()) == before


# --- values that are SQL metacharacters, and IDs outside ASCII ---------------------------------

NASTY_TAGS = ("' OR '1'='1' --", "%", "_", "\\", "$1::text", "标签")
INJECTION = "x'); DROP TABLE entities; --"  # a policy tag and filter value, on no entity


def _nasty_pool() -> EntityPool:
    ids = [
        "a", "B", "Z", "é1", "e2", "中文1", "中文2", "Ａ全角", "x'y", "x%y", "x_y", "x\\y",
        '"q"', "a b", "ß", "İ", "ı", "zz", "\u00e9", "e\u0301x", "0", "00", "9", "~",
    ]  # fmt: skip
    n = len(ids)
    return EntityPool.from_columns(
        ids=ids,
        names=["名'称"] * n,
        entity_type=["a'b", "%", "_", "c"] * (n // 4),
        industry=["%1", "_2", "F5", "'F"] * (n // 4),
        region=["350102001", "350103002", "350102'01", "3501%"] * (n // 4),
        registered=[date(2020, 1, 1) + timedelta(days=100 * i) for i in range(n)],
        tier=[TIERS[i % 4] for i in range(n)],
        status=["存续", "注销", "存续", "吊销"] * (n // 4),
        tags=[{NASTY_TAGS[i % len(NASTY_TAGS)]} if i % 3 else set() for i in range(n)],
        id_scheme="other",
    )


@pytest.fixture(scope="module")
def nasty_db(fresh_database: Any) -> CityDb:
    """The pool of awkward values in a database that sorts text linguistically (ICU zh-CN)."""
    store: Store = fresh_database(icu=True)
    store.import_entities(_nasty_pool(), actor="测试")
    return CityDb(store.engine, store.load_entities())


@pytest.mark.postgres
@pytest.mark.parametrize(
    "population",
    [
        PopulationFilter(),
        PopulationFilter(industry_prefixes=("%",)),
        PopulationFilter(industry_prefixes=("_", "'")),
        PopulationFilter(entity_types=("a'b", "%")),
        PopulationFilter(tags_any=(INJECTION, "' OR '1'='1' --", "%")),
        PopulationFilter(tags_any=("_",), region_prefixes=("3501",)),
    ],
)
@pytest.mark.parametrize("scheme", list(TicketScheme))
def test_metacharacters_are_plain_values(
    nasty_db: CityDb, population: PopulationFilter, scheme: TicketScheme
) -> None:
    pool, engine = _nasty_pool(), nasty_db.engine
    policy = Policy.default()
    policy = attrs.evolve(
        policy,
        ratios=attrs.evolve(
            policy.ratios,
            tags={t: 0.5 for t in (*NASTY_TAGS, INJECTION)},
            floor=0.0,
            floor_region_digits=9,
        ),
    )
    last = {"x'y": CUTOFF, "中文1": CUTOFF, "not-there": CUTOFF}
    memory, database = _both(nasty_db, _task(population, ratio=0.5), policy, last_inspected=last)
    _assert_same_freeze(memory, database)
    seed = b"\x01" * 16
    expected = draw_entities(
        memory.ids, memory.strata, memory.rules, task_label="t", seed=seed, scheme=scheme
    )
    _assert_same_draw(
        draw_in_database(engine, database, task_label="t", seed=seed, scheme=scheme),
        expected,
    )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(EntityRow)).scalar_one() == len(pool)


@pytest.mark.postgres
def test_ids_are_ordered_by_utf8_bytes_not_by_collation(nasty_db: CityDb) -> None:
    engine = nasty_db.engine
    with engine.connect() as conn:  # the database really sorts text another way
        assert (
            conn.execute(
                select(func.min(text("x"))).select_from(text("(VALUES ('a'), ('B')) AS v(x)"))
            ).scalar_one()
            == "a"
        )
    pool = _nasty_pool()
    spec = CandidateSpec(region_digits=2)
    db_strata = {
        i: f"{TIERS[t]}|{r.decode()[:2]}"
        for i, t, r in zip(pool.id_list(), pool.tier.tolist(), pool.region.tolist(), strict=True)
    }
    expected = pool_digest(list(db_strata), list(db_strata.values()))
    assert digest_in_database(engine, spec) == expected
    assert digest_in_database(engine, spec, max_bytes=0) == expected
    # A one-stratum draw that ranks every candidate: the whole ticket order, IDs and ties.
    everyone = SizeRule(ratio="1")
    for scheme in TicketScheme:
        expected_draw = draw_entities(
            list(db_strata), list(db_strata.values()), everyone, task_label="t",
            seed=b"\x02" * 16, scheme=scheme,
        )  # fmt: skip
        got = draw_in_database(
            engine, spec, everyone, task_label="t", seed=b"\x02" * 16, scheme=scheme
        )
        _assert_same_draw(got, expected_draw)


# --- refusals -------------------------------------------------------------------------------


def test_sqlite_is_refused_with_advice(tmp_path: Any) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    with pytest.raises(UnsupportedDatabaseError, match="needs PostgreSQL"):
        draw_in_database(
            store.engine, CandidateSpec(), SizeRule(count=1), task_label="t", seed=b"\x00" * 16
        )
    with pytest.raises(UnsupportedDatabaseError, match="Engine or Connection"):
        count_strata(store, CandidateSpec())  # type: ignore[arg-type]


@pytest.mark.postgres
def test_changed_pool_is_refused(fresh_database: Any) -> None:
    store: Store = fresh_database()
    city = make_city(500, seed=3)
    store.import_entities(city.entities, actor="测试")
    task = _task(PopulationFilter())
    frozen = freeze_in_database(store.engine, task, Policy.default(), ITEMS, cutoff=CUTOFF)
    draw_in_database(store.engine, frozen, task_label="T1", seed=b"\x03" * 16)  # still fine
    with store.engine.begin() as conn:
        some = conn.execute(
            select(EntityRow.id).where(EntityRow.status == "存续").limit(1)
        ).scalar_one()
        conn.execute(update(EntityRow).where(EntityRow.id == some).values(status="注销"))
    with pytest.raises(PoolChangedError, match="changed since they were frozen"):
        draw_in_database(store.engine, frozen, task_label="T1", seed=b"\x03" * 16)


@pytest.mark.postgres
def test_bad_ids_tiers_and_rules_are_refused_like_in_memory(fresh_database: Any) -> None:
    store: Store = fresh_database()
    store.import_entities(_vector_pool(), actor="测试")
    spec = CandidateSpec()
    with pytest.raises(MissingRuleError, match=r"C\|350102"):
        draw_in_database(
            store.engine, spec, {"A|350102": SizeRule(count=1)}, task_label="t", seed=b"\0" * 16
        )
    with pytest.raises(MissingRuleError):
        draw_entities(["x"], ["C|350102"], {"A|350102": SizeRule(count=1)}, task_label="t",
                      seed=b"\0" * 16)  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(
            update(EntityRow).where(EntityRow.id == VECTOR_IDS[0]).values(id="bad\tid", tier="Q")
        )
    with pytest.raises(InvalidLabelError, match="control character"):
        draw_in_database(store.engine, spec, SizeRule(count=1), task_label="t", seed=b"\0" * 16)
    with pytest.raises(InvalidLabelError):
        draw_entities(["bad\tid"], None, SizeRule(count=1), task_label="t", seed=b"\0" * 16)
    with store.engine.begin() as conn:
        conn.execute(update(EntityRow).where(EntityRow.id == "bad\tid").values(id="ok"))
    with pytest.raises(UnknownTierError, match="tier 'Q'"):
        freeze_in_database(
            store.engine, _task(PopulationFilter()), Policy.default(), ITEMS, cutoff=CUTOFF
        )


def test_stratum_rules_are_those_of_freeze_candidates() -> None:
    city = make_city(3_000, seed=8)
    policy = Policy.default()
    for task in (_task(PopulationFilter()), _task(PopulationFilter(), ratio=0.07, key=True)):
        cs = freeze_candidates(city.entities, task, policy, ITEMS, cutoff=CUTOFF)
        counts = np.bincount(cs.strata.codes, minlength=len(cs.strata.labels)).tolist()
        rules = stratum_rules(dict(zip(cs.strata.labels, counts, strict=True)), task, policy,
                              [i for i in ITEMS if i.code in task.items])  # fmt: skip
        assert rules == cs.rules
        assert list(rules) == list(cs.rules)


@pytest.mark.postgres
def test_empty_candidate_set(city_db: CityDb) -> None:
    nobody = PopulationFilter(industry_prefixes=("X",))
    memory, database = _both(city_db, _task(nobody), Policy.default())
    _assert_same_freeze(memory, database)
    assert database.digest == hashlib.sha256(b"").hexdigest()
    rules = {"A|350102": SizeRule(count=3, alternates=1)}
    expected = draw_entities([], [], rules, task_label="t", seed=b"\x05" * 16)
    got = draw_in_database(city_db.engine, CandidateSpec(population=nobody), rules,
                           task_label="t", seed=b"\x05" * 16)  # fmt: skip
    _assert_same_draw(got, expected)
    assert got.strata[0].size == 0
