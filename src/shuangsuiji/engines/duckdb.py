"""SSJ-DRAW-1 in DuckDB, for pools that live in Parquet or CSV files (optional extra ``[duckdb]``).

A national pool (about 1.9 × 10^8 market entities) does not fit a Python list, and a province
(2 × 10^7) is slow to load into one. DuckDB reads the files where they are, in parallel and
out of core, and computes every value of the draw with the same bytes as
:mod:`shuangsuiji.draw`:

- **ticket**: ``unhex(sha256(key || encode(id)))``. DuckDB's ``sha256`` of a ``BLOB`` hashes
  its raw bytes and returns *lower-case hex text*; ``unhex`` turns it back into the 32-byte
  ``BLOB`` that orders like the unsigned big-endian ticket (``BLOB`` compares bytewise,
  unsigned). ``encode(id)`` is ``utf8(id)`` exactly. The key is bound as a ``BLOB``
  parameter; a ``VARCHAR`` cast to ``BLOB`` would read ``\\x41`` escapes as bytes, so no
  text is ever cast to ``BLOB``;
- **order**: ``row_number() OVER (PARTITION BY stratum ORDER BY ticket, encode(id))`` — the
  tie-break is on the ``BLOB`` of the ID, never on ``VARCHAR`` (whose order a collation can
  change); rows with rank ``<= n_s + m_s`` leave DuckDB, after the pre-filter of
  :mod:`shuangsuiji.engines.result`;
- **sizes**: ``N_s`` from a ``GROUP BY``; ``n_s``, ``m_s`` from
  :func:`shuangsuiji.draw.stratum_summaries` (exact rationals, in Python);
- **pool digest**: the lines ``encode(id || chr(9) || stratum || chr(10))`` ``ORDER BY
  encode(id)`` stream out as Arrow batches into one :mod:`hashlib` SHA-256 (DuckDB has no
  ordered hash aggregate); memory stays at one batch.

IDs are checked as the in-memory draw checks them: none empty, none with a control character,
none twice. :func:`freeze_duckdb` writes the candidate set once, sorted by ``utf8(id)``, as the
Parquet file of a columnar bundle (:mod:`shuangsuiji.columnar`).

>>> import pyarrow as pa, pyarrow.parquet as pq, tempfile, os
>>> from shuangsuiji.draw import SizeRule, draw_entities
>>> path = os.path.join(tempfile.mkdtemp(), "pool.parquet")
>>> ids, strata = ["A1", "A2", "A3", "B1", "B2"], ["a", "a", "a", "b", "b"]
>>> pq.write_table(pa.table({"id": ids, "stratum": strata}), path)
>>> rule = SizeRule(count=1, alternates=1)
>>> got = draw_duckdb(path, rule, task_label="demo", seed=bytes(range(32)))
>>> got.draw == draw_entities(ids, strata, rule, task_label="demo", seed=bytes(range(32)))
True
>>> [p.id for p in got.draw.selected], dict(got.counts)
(['A2', 'B2'], {'a': 3, 'b': 2})
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeAlias

import duckdb
import pyarrow as pa

from shuangsuiji.draw import (
    DrawInputError,
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

__all__ = ["DIGEST_BATCH_ROWS", "PoolSource", "draw_duckdb", "freeze_duckdb", "pool_relation"]

PoolSource: TypeAlias = str | Path | Sequence[str | Path]
"""One or more Parquet or CSV files (globs allowed), all of one kind."""

DIGEST_BATCH_ROWS = 1_000_000
"""Rows per Arrow batch streamed into the pool digest (about 30 MB of lines)."""

_CONTROL = "[\\x00-\\x1f]"  # an RE2 pattern, sent as a bound parameter


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _reader(source: PoolSource) -> tuple[str, list[str]]:
    paths = [str(source)] if isinstance(source, str | Path) else [str(p) for p in source]
    if not paths:
        raise DrawInputError("no pool file given; pass a Parquet or CSV path")
    kinds = {Path(p).suffix.lower() for p in paths}
    if kinds <= {".parquet", ".pq"}:
        return "read_parquet($files)", paths
    if kinds <= {".csv", ".tsv", ".txt"}:
        return "read_csv($files, all_varchar = true, header = true)", paths
    raise DrawInputError(
        f"pool files must all be Parquet (.parquet) or all CSV (.csv), got {sorted(kinds)}"
    )


def pool_relation(
    con: duckdb.DuckDBPyConnection,
    source: PoolSource,
    *,
    id_column: str = "id",
    stratum_column: str | None = "stratum",
    name: str = "ssj_pool",
) -> str:
    """Create the temporary view ``name`` (columns ``id``, ``stratum``) over the files.

    Without ``stratum_column`` every row is in the stratum ``all``.
    """
    reader, paths = _reader(source)
    stratum = "'all'" if stratum_column is None else f"CAST({_quote(stratum_column)} AS VARCHAR)"
    files = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {_quote(name)} AS SELECT "
        f"CAST({_quote(id_column)} AS VARCHAR) AS id, {stratum} AS stratum "
        f"FROM {reader.replace('$files', '[' + files + ']')}"
    )
    return _quote(name)


def _check_ids(con: duckdb.DuckDBPyConnection, pool: str) -> None:
    bad = con.execute(
        f"SELECT id FROM {pool} WHERE id IS NULL OR id = '' OR regexp_matches(id, $1) LIMIT 1",
        [_CONTROL],
    ).fetchone()
    if bad is not None:
        raise InvalidLabelError(
            f"candidate ID {bad[0]!r} is empty or contains a control character; canonicalise "
            "IDs with shuangsuiji.ids.canonical_id first"
        )
    dup = con.execute(f"SELECT id FROM {pool} GROUP BY id HAVING count(*) > 1 LIMIT 1").fetchone()
    if dup is not None:
        raise DuplicateIdError(
            f"ID {dup[0]!r} occurs more than once in the candidate set; IDs must be unique "
            "within a draw"
        )


def _counts(con: duckdb.DuckDBPyConnection, pool: str) -> dict[str, int]:
    rows = con.execute(f"SELECT stratum, count(*) FROM {pool} GROUP BY stratum").fetchall()
    if any(label is None for label, _ in rows):
        raise InvalidLabelError("a candidate has no stratum (NULL); give every row one")
    for label, _ in rows:
        check_label(label, "stratum label")
    return {label: int(n) for label, n in sorted(rows, key=lambda r: str(r[0]).encode())}


def _digest(con: duckdb.DuckDBPyConnection, pool: str) -> str:
    h = hashlib.sha256()
    reader = con.sql(
        f"SELECT encode(id || chr(9) || stratum || chr(10)) AS line FROM {pool} ORDER BY encode(id)"
    ).to_arrow_reader(DIGEST_BATCH_ROWS)
    for batch in reader:
        h.update(binary_bytes(batch.column(0)))
    return h.hexdigest()


def _ranked(
    con: duckdb.DuckDBPyConnection,
    pool: str,
    key: bytes,
    strata: Sequence[StratumSummary],
    prefilter: bool,
) -> list[RankedRow]:
    takes = pa.table(
        {
            "stratum": [s.label for s in strata],
            "take": pa.array([s.sample + s.alternates for s in strata], pa.int64()),
            "bound": pa.array(
                [bound(s.sample + s.alternates, s.size) if prefilter else None for s in strata],
                pa.binary(),
            ),
        }
    )
    con.register("ssj_takes", takes)
    try:
        rows = con.execute(
            f"""
            WITH t AS (
                SELECT p.stratum, p.id, unhex(sha256($key || encode(p.id))) AS ticket,
                       k.take, k.bound
                FROM {pool} p JOIN ssj_takes k ON p.stratum = k.stratum
            )
            SELECT stratum, id, ticket FROM t
            WHERE bound IS NULL OR ticket < bound
            QUALIFY row_number() OVER (PARTITION BY stratum ORDER BY ticket, encode(id)) <= take
            """,
            {"key": key},
        ).fetchall()
    finally:
        con.unregister("ssj_takes")
    return [(s, i, bytes(t)) for s, i, t in rows]


def draw_duckdb(
    source: PoolSource,
    rules: SizeRule | Mapping[str, SizeRule],
    *,
    task_label: str,
    seed: bytes | str,
    id_column: str = "id",
    stratum_column: str | None = "stratum",
    connection: duckdb.DuckDBPyConnection | None = None,
    check_ids: bool = True,
) -> EngineDraw:
    """Draw under SSJ-DRAW-1 over the pool in ``source`` (Parquet or CSV files) in DuckDB.

    The same :class:`~shuangsuiji.draw.Draw` as :func:`~shuangsuiji.draw.draw_entities` on
    the same rows, with the pool digest and ``N_s`` per stratum. ``connection`` is an open
    DuckDB connection to use (its settings: ``memory_limit``, ``threads``,
    ``temp_directory``), else an in-memory one is opened and closed. ``check_ids=False``
    skips the ID checks (empty, control characters, duplicates) for a pool that
    :func:`freeze_duckdb` wrote. Only the ticket scheme ``ssj-draw-1`` is computed here.
    """
    key = draw_key(task_label, seed)
    con = connection if connection is not None else duckdb.connect()
    try:
        pool = pool_relation(con, source, id_column=id_column, stratum_column=stratum_column)
        if check_ids:
            _check_ids(con, pool)
        counts = _counts(con, pool)
        strata = stratum_summaries(rules, counts)
        rows = rank_strata(lambda some, pre: _ranked(con, pool, key, some, pre), strata)
        digest = _digest(con, pool)
    finally:
        if connection is None:
            con.close()
    draw = draw_from_ranked(task_label=task_label, seed=seed, strata=strata, rows=rows)
    return EngineDraw(draw=draw, pool_digest=digest, counts=counts)


def freeze_duckdb(
    source: PoolSource,
    target: str | Path,
    *,
    id_column: str = "id",
    stratum_column: str | None = "stratum",
    connection: duckdb.DuckDBPyConnection | None = None,
    row_group_rows: int = 1_000_000,
) -> dict[str, int]:
    """Check the pool and write it to the Parquet file ``target`` as ``(id, stratum)``
    sorted by ``utf8(id)``, in row groups of ``row_group_rows``; return ``N_s`` per stratum.

    The file is the candidates file of a columnar bundle (:mod:`shuangsuiji.columnar`) and a
    frozen snapshot to draw from (``draw_duckdb(target, ..., check_ids=False)``).
    """
    con = connection if connection is not None else duckdb.connect()
    try:
        pool = pool_relation(con, source, id_column=id_column, stratum_column=stratum_column)
        _check_ids(con, pool)
        counts = _counts(con, pool)
        out = "'" + str(target).replace("'", "''") + "'"
        con.execute(
            f"COPY (SELECT id, stratum FROM {pool} ORDER BY encode(id)) TO {out} "
            f"(FORMAT parquet, ROW_GROUP_SIZE {int(row_group_rows)})"
        )
    finally:
        if connection is None:
            con.close()
    return counts
