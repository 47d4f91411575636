"""Engines: SSJ-DRAW-1 run where a national pool lives, with results identical to
:func:`shuangsuiji.draw.draw_entities`.

Each engine is an adapter. The specification (key, ticket, sizes, pool digest) is defined in
:mod:`shuangsuiji.draw`; an engine only computes the same values where the rows are:

- :mod:`shuangsuiji.engines.duckdb` — DuckDB over Parquet or CSV files on one machine
  (optional extra ``[duckdb]``);
- :mod:`shuangsuiji.engines.spark` — Apache Spark on a cluster (optional extra ``[spark]``);
- PostgreSQL is :mod:`shuangsuiji.store.pushdown`.

Every engine returns an :class:`~shuangsuiji.engines.result.EngineDraw`: the
:class:`~shuangsuiji.draw.Draw` (only the ``n_s + m_s`` ranked rows of each stratum leave
the engine), the pool digest and ``N_s`` per stratum. The engines are imported by name
(``from shuangsuiji.engines.duckdb import draw_duckdb``), so this package face loads neither.
"""
