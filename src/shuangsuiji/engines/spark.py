"""SSJ-DRAW-1 on Apache Spark, for a national pool on a cluster (optional extra ``[spark]``).

The same values as :mod:`shuangsuiji.draw`, computed by Spark SQL functions:

- **ticket**: ``sha2(concat(key, encode(id, 'UTF-8')), 256)``. Spark's ``sha2`` hashes the raw
  bytes of a ``binary`` value and returns *lower-case hex text*; hex text of one length
  orders exactly like the bytes it spells (``0-9`` before ``a-f`` in ASCII) under Spark's
  default binary string order (``UTF8_BINARY``), so the hex is compared, never unhexed.
  ``encode(id, 'UTF-8')`` is ``utf8(id)``; the key is a ``binary`` literal;
- **tie-break**: ``hex(encode(id, 'UTF-8'))``, which orders exactly like ``utf8(id)`` (each
  byte is two hex digits; a prefix sorts first) whatever the session's collation;
- **sizes**: ``N_s`` from ``groupBy(stratum).count()``; ``n_s``, ``m_s`` from
  :func:`shuangsuiji.draw.stratum_summaries` on the driver;
- **selection**: per stratum, rows below the pre-filter bound of
  :mod:`shuangsuiji.engines.result` are ranked with ``row_number()`` over a window
  partitioned by stratum; only ranks ``<= n_s + m_s`` are collected;
- **pool digest**: the lines ``utf8(id) 0x09 utf8(stratum) 0x0A`` are range-partitioned and
  sorted by the ID's hex, each Arrow batch of a partition is concatenated on the executors
  (``mapInArrow``), and the driver feeds the pieces, partition after partition, into one
  :mod:`hashlib` SHA-256 (``toLocalIterator`` keeps one partition in the driver at a time).

**Running it nationally.** The pool is Parquet on shared storage (HDFS, an object store),
written by the provinces, partitioned by province. ``spark-submit`` a small driver script that
calls :func:`draw_spark` on ``spark.read.parquet(...)``; the ticket and the window are plain
Spark SQL, so executors need neither Python UDFs nor this library (the digest's
``mapInArrow`` does need Python and pyarrow on the executors). The window partitions by
stratum, and the pre-filter leaves ``n_s + m_s + 8·sqrt(n_s + m_s) + 16`` rows per stratum,
so the shuffle is a few percent of the pool even when one stratum is a whole province. The
digest's sort is the one full shuffle; set ``spark.sql.shuffle.partitions`` to about
pool size / 2 million. Record the Spark version with the bundle; the result does not depend
on it, on the cluster or on the partitioning.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from shuangsuiji.draw import (
    DuplicateIdError,
    InvalidLabelError,
    SizeRule,
    StratumSummary,
    check_label,
    draw_key,
    stratum_summaries,
)
from shuangsuiji.engines.arrow import binary_bytes
from shuangsuiji.engines.result import (
    EngineDraw,
    RankedRow,
    bound,
    draw_from_ranked,
    rank_strata,
)

__all__ = ["draw_spark", "pool_digest_spark"]

_CONTROL = "[\\x00-\\x1f]"


def _normalised(pool: DataFrame, id_column: str, stratum_column: str | None) -> DataFrame:
    stratum = F.lit("all") if stratum_column is None else F.col(stratum_column).cast("string")
    return pool.select(
        F.col(id_column).cast("string").alias("id"), stratum.alias("stratum")
    ).withColumn("id_hex", F.hex(F.encode(F.col("id"), "UTF-8")))


def _check_ids(pool: DataFrame) -> None:
    bad = pool.where(
        F.col("id").isNull() | (F.length("id") == 0) | F.col("id").rlike(_CONTROL)
    ).first()
    if bad is not None:
        raise InvalidLabelError(
            f"candidate ID {bad['id']!r} is empty or contains a control character; "
            "canonicalise IDs with shuangsuiji.ids.canonical_id first"
        )
    dup = pool.groupBy("id_hex").count().where(F.col("count") > 1).first()
    if dup is not None:
        entity = bytes.fromhex(dup["id_hex"]).decode()
        raise DuplicateIdError(
            f"ID {entity!r} occurs more than once in the candidate set; IDs must be unique "
            "within a draw"
        )


def _counts(pool: DataFrame) -> dict[str, int]:
    rows = pool.groupBy("stratum").count().collect()
    if any(r["stratum"] is None for r in rows):
        raise InvalidLabelError("a candidate has no stratum (NULL); give every row one")
    for r in rows:
        check_label(r["stratum"], "stratum label")
    return {
        r["stratum"]: int(r["count"]) for r in sorted(rows, key=lambda r: r["stratum"].encode())
    }


def _ranked(
    spark: SparkSession,
    pool: DataFrame,
    key: bytes,
    strata: Sequence[StratumSummary],
    prefilter: bool,
) -> list[RankedRow]:
    bounds = [
        (
            s.label,
            s.sample + s.alternates,
            (b.hex() if (b := bound(s.sample + s.alternates, s.size)) and prefilter else None),
        )
        for s in strata
    ]
    takes = spark.createDataFrame(bounds, "stratum string, take long, bound string")
    ticket = F.sha2(F.concat(F.lit(key), F.encode(F.col("id"), "UTF-8")), 256)
    window = Window.partitionBy("stratum").orderBy("ticket", "id_hex")
    ranked = (
        pool.join(F.broadcast(takes), "stratum")
        .withColumn("ticket", ticket)
        .where(F.col("bound").isNull() | (F.col("ticket") < F.col("bound")))
        .withColumn("rank", F.row_number().over(window))
        .where(F.col("rank") <= F.col("take"))
        .select("stratum", "id", "ticket")
    )
    return [(r["stratum"], r["id"], bytes.fromhex(r["ticket"])) for r in ranked.collect()]


def _concat_lines(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """On an executor: each batch of sorted lines as one binary value (order kept)."""
    for batch in batches:
        if batch.num_rows:
            piece = bytes(binary_bytes(batch.column(0)))
            yield pa.RecordBatch.from_pydict(
                {"piece": [piece]}, pa.schema([("piece", pa.binary())])
            )


def pool_digest_spark(pool: DataFrame) -> str:
    """The SSJ-DRAW-1 pool digest of a normalised pool (``id``, ``stratum``, ``id_hex``)."""
    line = F.concat(
        F.encode(F.col("id"), "UTF-8"),
        F.unhex(F.lit("09")),
        F.encode(F.col("stratum"), "UTF-8"),
        F.unhex(F.lit("0a")),
    )
    lines = pool.select(line.alias("line"), "id_hex").orderBy("id_hex").select("line")
    pieces = lines.mapInArrow(_concat_lines, "piece binary")
    h = hashlib.sha256()
    for row in pieces.toLocalIterator():
        h.update(row["piece"])
    return h.hexdigest()


def draw_spark(
    pool: DataFrame,
    rules: SizeRule | Mapping[str, SizeRule],
    *,
    task_label: str,
    seed: bytes | str,
    id_column: str = "id",
    stratum_column: str | None = "stratum",
    check_ids: bool = True,
) -> EngineDraw:
    """Draw under SSJ-DRAW-1 over the Spark DataFrame ``pool``; the same
    :class:`~shuangsuiji.draw.Draw` as :func:`~shuangsuiji.draw.draw_entities` on the same
    rows, with the pool digest and ``N_s`` per stratum. The pool is read three times (checks
    and counts, ranking, digest): ``cache()`` it first if it is not a file scan.
    """
    key = draw_key(task_label, seed)
    spark = pool.sparkSession
    frame = _normalised(pool, id_column, stratum_column)
    if check_ids:
        _check_ids(frame)
    counts = _counts(frame)
    strata = stratum_summaries(rules, counts)
    rows = rank_strata(lambda some, pre: _ranked(spark, frame, key, some, pre), strata)
    digest = pool_digest_spark(frame)
    draw = draw_from_ranked(task_label=task_label, seed=seed, strata=strata, rows=rows)
    return EngineDraw(draw=draw, pool_digest=digest, counts=counts)
