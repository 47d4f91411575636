"""Every engine draws the same: Python, PostgreSQL, DuckDB and Spark.

The same pool, seed and rules give byte-identical selections, alternates (IDs, strata,
tickets, order), stratum sizes and pool digests in :func:`shuangsuiji.draw.draw_entities`,
the PostgreSQL pushdown (:mod:`shuangsuiji.store.pushdown`), DuckDB
(:mod:`shuangsuiji.engines.duckdb`) and Spark (:mod:`shuangsuiji.engines.spark`). Pools are
generated with non-ASCII IDs (CJK, accents, astral-plane characters, IDs that differ only in
case, so that a collation would tie them) and strata that tie in size and under collations.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text

from shuangsuiji.draw import (
    DuplicateIdError,
    InvalidLabelError,
    SizeRule,
    draw_entities,
    pool_digest,
)
from shuangsuiji.engines.duckdb import draw_duckdb, freeze_duckdb
from shuangsuiji.engines.result import EngineDraw
from shuangsuiji.store.pushdown import FrozenCandidates, digest_in_database, draw_in_database

PG_URL = os.environ.get("SSJ_TEST_POSTGRES_URL", "")
REQUIRE_PG = os.environ.get("SSJ_REQUIRE_POSTGRES") == "1"
SEED = bytes(range(32))
# Labels that tie under case-folding or accent-insensitive collations, and CJK.
LABELS = ("a", "A", "b", "é", "中", "區")
ID_ALPHABET = "aAbB019Zé中國𠀋ẞß-_"

Pool = tuple[list[str], list[str]]

pools = st.lists(
    st.tuples(st.text(ID_ALPHABET, min_size=1, max_size=6), st.sampled_from(LABELS)),
    min_size=0,
    max_size=60,
    unique_by=lambda row: row[0],
).map(lambda rows: ([i for i, _ in rows], [s for _, s in rows]))

rule_sets = st.one_of(
    st.builds(
        SizeRule,
        ratio=st.sampled_from(["0", "0.1", "1/3", "0.5", "1"]),
        minimum=st.integers(0, 3),
        alternates=st.integers(0, 4),
    ),
    st.builds(SizeRule, count=st.integers(0, 5), alternates=st.integers(0, 3)),
    # A mapping that names a stratum with no candidates (N_s = 0) as well.
    st.builds(
        lambda r, s: {**dict.fromkeys(LABELS, r), "空": s},
        st.builds(SizeRule, ratio=st.sampled_from(["0.2", "0.5"]), alternates=st.integers(0, 2)),
        st.builds(SizeRule, count=st.integers(0, 2)),
    ),
)


def _reference(pool: Pool, rules: SizeRule | Mapping[str, SizeRule]) -> EngineDraw:
    ids, strata = pool
    draw = draw_entities(ids, strata, rules, task_label="引擎-1", seed=SEED)
    counts: dict[str, int] = {}
    for s in strata:
        counts[s] = counts.get(s, 0) + 1
    return EngineDraw(draw=draw, pool_digest=pool_digest(ids, strata), counts=counts)


def _assert_same(got: EngineDraw, want: EngineDraw) -> None:
    assert got.draw.strata == want.draw.strata
    assert got.draw.selected == want.draw.selected
    assert got.draw.alternates == want.draw.alternates
    assert got.draw == want.draw  # ranked IDs and tickets, byte for byte
    assert got.pool_digest == want.pool_digest
    assert dict(got.counts) == want.counts


def _parquet(pool: Pool, folder: str) -> Path:
    path = Path(folder) / f"pool-{uuid.uuid4().hex[:8]}.parquet"
    ids, strata = pool
    pq.write_table(pa.table({"id": pa.array(ids, pa.string()), "stratum": strata}), path)
    return path


# -- PostgreSQL --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine | None]:
    """A fresh database with a ``draw_candidates`` table, or ``None`` without a server."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SSJ_REQUIRE_POSTGRES=1 but SSJ_TEST_POSTGRES_URL is not set")
        yield None
        return
    admin = create_engine(PG_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = f"ssj_engines_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        # ICU zh-CN: text sorts linguistically, so only byte order can give the right draw.
        conn.execute(
            text(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LOCALE_PROVIDER icu ICU_LOCALE 'zh-CN' LOCALE 'C.UTF-8'"
            )
        )
    engine = create_engine(PG_URL.rsplit("/", 1)[0] + "/" + name)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE draw_candidates (draw_id integer, entity_id varchar(200), "
                "stratum varchar(200), PRIMARY KEY (draw_id, entity_id))"
            )
        )
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_next_draw = iter(range(1, 10**9))


def _postgres(engine: Engine, pool: Pool, rules: SizeRule | Mapping[str, SizeRule]) -> EngineDraw:
    draw_id = next(_next_draw)
    ids, strata = pool
    with engine.begin() as conn:
        if ids:
            conn.execute(
                text("INSERT INTO draw_candidates VALUES (:d, :i, :s)"),
                [{"d": draw_id, "i": i, "s": s} for i, s in zip(ids, strata, strict=True)],
            )
    source = FrozenCandidates(draw_id)
    draw = draw_in_database(engine, source, rules, task_label="引擎-1", seed=SEED)
    counts = {s.label: s.size for s in draw.strata if s.size}
    return EngineDraw(draw=draw, pool_digest=digest_in_database(engine, source), counts=counts)


# -- the engine-independent test ---------------------------------------------------------


@given(pool=pools, rules=rule_sets)
def test_python_postgresql_and_duckdb_draw_byte_identically(
    pg_engine: Engine | None, pool: Pool, rules: SizeRule | Mapping[str, SizeRule]
) -> None:
    want = _reference(pool, rules)
    with tempfile.TemporaryDirectory() as folder:
        path = _parquet(pool, folder)
        _assert_same(draw_duckdb(path, rules, task_label="引擎-1", seed=SEED), want)
        frozen = Path(folder) / "frozen.parquet"
        assert freeze_duckdb(path, frozen) == want.counts
        frozen_ids = pq.read_table(frozen).column("id").to_pylist()
        assert frozen_ids == sorted(pool[0], key=str.encode)
        _assert_same(draw_duckdb(frozen, rules, task_label="引擎-1", seed=SEED), want)
    if pg_engine is not None:
        _assert_same(_postgres(pg_engine, pool, rules), want)


def test_duckdb_reads_csv_pools_and_orders_ids_by_bytes(tmp_path: Path) -> None:
    ids = ["b", "B", "a", "A", "é", "e\u0301", "中", "𠀋", "ａ", "a-1", "a_1", "ß", "ẞ"]
    strata = ["x"] * 7 + ["y"] * 6
    csv = tmp_path / "pool.csv"
    csv.write_text(
        "code,tier\n" + "".join(f"{i},{s}\n" for i, s in zip(ids, strata, strict=True)),
        encoding="utf-8",
    )
    rules = SizeRule(ratio="0.5", alternates=2)
    got = draw_duckdb(
        csv, rules, task_label="引擎-1", seed=SEED, id_column="code", stratum_column="tier"
    )
    _assert_same(got, _reference((ids, strata), rules))


def test_duckdb_refuses_what_the_in_memory_draw_refuses(tmp_path: Path) -> None:
    rule = SizeRule(count=1)
    with pytest.raises(DuplicateIdError, match="'A1' occurs more than once"):
        draw_duckdb(
            _parquet((["A1", "B", "A1"], ["x", "y", "y"]), str(tmp_path)),
            rule,
            task_label="t",
            seed=SEED,
        )
    with pytest.raises(InvalidLabelError, match="control character"):
        draw_duckdb(_parquet((["A\t1"], ["x"]), str(tmp_path)), rule, task_label="t", seed=SEED)
    with pytest.raises(InvalidLabelError, match="control character"):
        draw_duckdb(_parquet((["A1"], ["x\ny"]), str(tmp_path)), rule, task_label="t", seed=SEED)


def test_a_stratum_the_prefilter_leaves_short_is_ranked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bound below every ticket lets no row through; the draw must still be exact."""
    import shuangsuiji.engines.duckdb as engine

    monkeypatch.setattr(engine, "bound", lambda take, size: bytes(32))
    ids = [f"E{i:04d}" for i in range(500)]
    strata = ["甲" if i % 3 else "乙" for i in range(500)]
    rules = SizeRule(ratio="0.05", alternates=3)
    got = draw_duckdb(_parquet((ids, strata), str(tmp_path)), rules, task_label="引擎-1", seed=SEED)
    _assert_same(got, _reference((ids, strata), rules))


# -- Spark -------------------------------------------------------------------------------

needs_java = pytest.mark.skipif(
    shutil.which("java") is None, reason="Spark needs Java (CI installs default-jre-headless)"
)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("shuangsuiji-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "3")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@needs_java
@settings(max_examples=4)
@given(pool=pools, rules=rule_sets)
def test_spark_draws_byte_identically(
    spark: Any, pool: Pool, rules: SizeRule | Mapping[str, SizeRule]
) -> None:
    from shuangsuiji.engines.spark import draw_spark

    ids, strata = pool
    frame = spark.createDataFrame(list(zip(ids, strata, strict=True)), "id string, stratum string")
    _assert_same(draw_spark(frame, rules, task_label="引擎-1", seed=SEED), _reference(pool, rules))


@needs_java
def test_spark_on_a_parquet_pool_with_every_kind_of_id(spark: Any, tmp_path: Path) -> None:
    from shuangsuiji.engines.spark import draw_spark

    ids = [f"{p}{i}" for i in range(300) for p in ("a", "A", "é", "中", "𠀋")]
    strata = [LABELS[i % len(LABELS)] for i in range(len(ids))]
    rules = SizeRule(ratio="0.1", minimum=2, alternates=2)
    frame = spark.read.parquet(str(_parquet((ids, strata), str(tmp_path))))
    _assert_same(
        draw_spark(frame, rules, task_label="引擎-1", seed=SEED), _reference((ids, strata), rules)
    )
    with pytest.raises(DuplicateIdError):
        draw_spark(
            spark.createDataFrame([("x", "a"), ("x", "b")], "id string, stratum string"),
            SizeRule(count=1),
            task_label="t",
            seed=SEED,
        )
