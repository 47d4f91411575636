"""The draw pushed down into PostgreSQL next to the in-memory draw, on the same rows.

Loads a synthetic city of 10,000,000 entities (``--quick``: 1,000,000) into the ``entities``
table with COPY, then draws the same task three ways, each in its own Python process so that
its peak resident memory is its own:

- **pushdown**: :func:`shuangsuiji.store.pushdown.draw_in_database` (counts by GROUP BY, tickets and
  ranking in the database, only the ranked rows fetched) and the pool digest in the database
  (``string_agg``) and streamed through hashlib;
- **in-memory (store)**: ``Store.load_entities()`` (the library's loading path), the pool
  digest and :func:`shuangsuiji.draw.draw_entities`;
- **in-memory (lean)**: only ``id``, ``tier`` and ``region`` fetched into numpy, then the same.

The task is undirected with 4 strata (credit-risk tier × province ``35``), 5% and 100
alternates per stratum. The three draws must be identical (checked by a hash of the ranked
IDs and tickets). Also run ``freeze_in_database`` for the default policy (exclusions,
tier × county × tag strata).

    python benchmarks/bench_pushdown.py            # 10,000,000 entities (about 10 minutes)
    python benchmarks/bench_pushdown.py --quick    # 1,000,000 entities

The server: ``SSJ_BENCH_POSTGRES_URL`` (e.g. ``postgresql+psycopg://ssj@127.0.0.1:55432/x``;
the benchmark creates and drops its own database there), otherwise a throw-away server
started with ``scripts/pg-throwaway.sh`` on port ``SSJ_PG_PORT`` (default: a free port) and
stopped afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import resource
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TASK = "BENCH-2026-001"
SEED = bytes(range(100, 132))
RATIO = "0.05"
ALTERNATES = 100
CHUNK = 250_000
COLUMNS = (
    "id",
    "name",
    "entity_type",
    "industry",
    "region",
    "registered",
    "tier",
    "status",
    "tags",
)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def draw_fingerprint(d: Any) -> str:
    """SHA-256 over the ranked IDs, tickets and stratum sizes: equal iff the draws are."""
    h = hashlib.sha256()
    for s in d.strata:
        h.update(f"{s.label}\t{s.size}\t{s.sample}\t{s.alternates}\n".encode())
    for i in d.ranked_ids.tolist():
        h.update(i + b"\n")
    h.update(d.ranked_tickets.tobytes())
    return h.hexdigest()


# -- loading ------------------------------------------------------------------------------


def _escape(values: list[str]) -> list[str]:
    """COPY text format: escape backslash, tab, newline and carriage return."""
    if not any(c in v for v in values for c in "\\\t\n\r"):
        return values
    table = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
    return [v.translate(table) for v in values]


def _chunk(pool: Any, lo: int, hi: int) -> bytes:
    """Rows ``lo:hi`` of the pool as COPY text (one line per entity)."""
    from shuangsuiji.model import TIERS

    sl = slice(lo, hi)

    def labels(cat: Any) -> list[str]:
        return np.asarray(cat.labels, dtype=object)[cat.codes[sl]].tolist()  # type: ignore[no-any-return]

    bits = pool.tags.bits[sl]
    uniques, inverse = np.unique(bits, return_inverse=True)
    texts = np.asarray(
        [
            "|".join(t for k, t in enumerate(pool.tags.labels) if int(u) >> k & 1)
            for u in uniques.tolist()
        ],
        dtype=object,
    )
    cols = [
        pool.ids[sl].astype("U").tolist(),
        _escape(pool.names[sl].tolist()),
        _escape(labels(pool.entity_type)),
        pool.industry[sl].astype("U").tolist(),
        pool.region[sl].astype("U").tolist(),
        np.datetime_as_string(pool.registered[sl], unit="D").tolist(),
        np.asarray(TIERS, dtype=object)[pool.tier[sl]].tolist(),
        _escape(labels(pool.status)),
        _escape(texts[inverse.reshape(-1)].tolist()),
    ]
    return ("\n".join(map("\t".join, zip(*cols, strict=True))) + "\n").encode()


def step_load(url: str, n: int) -> dict[str, Any]:
    import psycopg

    from shuangsuiji.store import Store
    from shuangsuiji.synth import make_city

    Store.open(url).engine.dispose()  # the schema, by the library's Alembic migrations
    t0 = time.perf_counter()
    pool = make_city(n, seed=1, n_inspectors=100).entities
    t_city = time.perf_counter() - t0
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=3)

    errors: list[BaseException] = []

    def produce() -> None:
        try:
            for lo in range(0, n, CHUNK):
                chunks.put(_chunk(pool, lo, min(n, lo + CHUNK)))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            chunks.put(None)

    with psycopg.connect(psycopg_url(url)) as conn, conn.cursor() as cur:
        # Bulk-load practice: no indexes during COPY, FREEZE into a table emptied in the same
        # transaction, then build the primary key and the indexes the migrations define.
        cur.execute("SET maintenance_work_mem = '1GB'")  # for the index builds below
        cur.execute("TRUNCATE entities")
        cur.execute("ALTER TABLE entities DROP CONSTRAINT entities_pkey")
        for ix in ("ix_entities_region", "ix_entities_industry", "ix_entities_tier"):
            cur.execute(f"DROP INDEX {ix}")
        t0 = time.perf_counter()
        producer = threading.Thread(target=produce)
        producer.start()
        sent = 0
        copy_sql = f"COPY entities ({', '.join(COLUMNS)}) FROM STDIN WITH (FREEZE)"
        with cur.copy(copy_sql) as copy:
            while (block := chunks.get()) is not None:
                copy.write(block)
                sent += len(block)
        producer.join()
        if errors:
            raise errors[0]
        t_copy = time.perf_counter() - t0
        t0 = time.perf_counter()
        cur.execute("ALTER TABLE entities ADD CONSTRAINT entities_pkey PRIMARY KEY (id)")
        cur.execute("CREATE INDEX ix_entities_region ON entities (region)")
        cur.execute("CREATE INDEX ix_entities_industry ON entities (industry)")
        cur.execute("CREATE INDEX ix_entities_tier ON entities (tier)")
        conn.commit()
        t_index = time.perf_counter() - t0
        conn.autocommit = True
        t0 = time.perf_counter()
        cur.execute("VACUUM ANALYZE entities")
        t_vacuum = time.perf_counter() - t0
        cur.execute("SELECT count(*), pg_total_relation_size('entities') FROM entities")
        rows, size = cur.fetchone() or (0, 0)
    return {
        "rows": rows,
        "city_s": t_city,
        "copy_s": t_copy,
        "copy_mb": sent / 2**20,
        "index_s": t_index,
        "vacuum_s": t_vacuum,
        "table_gb": size / 2**30,
        "peak_rss_mb": peak_rss_mb(),
    }


# -- the three ways to draw ------------------------------------------------------------------


def _rules() -> Any:
    from shuangsuiji.draw import SizeRule

    return SizeRule(ratio=RATIO, alternates=ALTERNATES)


def step_pushdown(url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine

    from shuangsuiji.model import Task
    from shuangsuiji.policy import Policy
    from shuangsuiji.store.pushdown import (
        CandidateSpec,
        count_strata,
        digest_in_database,
        draw_in_database,
        freeze_in_database,
    )
    from shuangsuiji.synth import ITEMS

    engine = create_engine(url)
    spec = CandidateSpec(region_digits=2)  # 4 strata: tier x province "35"
    base = peak_rss_mb()
    t0 = time.perf_counter()
    counts = count_strata(engine, spec)
    t_counts = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = draw_in_database(engine, spec, _rules(), task_label=TASK, seed=SEED)
    t_draw = time.perf_counter() - t0
    rss_draw = peak_rss_mb()
    t0 = time.perf_counter()
    d_full = draw_in_database(engine, spec, _rules(), task_label=TASK, seed=SEED, prefilter=False)
    t_full = time.perf_counter() - t0
    assert d_full == d, "the pre-filter changed the draw"
    t0 = time.perf_counter()
    digest = digest_in_database(engine, spec)
    t_digest = time.perf_counter() - t0
    rss_digest = peak_rss_mb()
    task = Task(
        "T1", "P1", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30)
    )
    t0 = time.perf_counter()
    frozen = freeze_in_database(
        engine, task, Policy.default(), ITEMS, cutoff=date(2026, 6, 30), exclusion_ids=False
    )
    t_freeze = time.perf_counter() - t0
    t0 = time.perf_counter()
    d_task = draw_in_database(engine, frozen, task_label="T1", seed=SEED)
    t_task = time.perf_counter() - t0
    rss_task = peak_rss_mb()
    t0 = time.perf_counter()
    streamed = digest_in_database(engine, spec, max_bytes=0)
    t_stream = time.perf_counter() - t0
    assert streamed == digest, "streamed digest differs"
    return {
        "counts": counts,
        "counts_s": t_counts,
        "draw_s": t_draw,
        "draw_noprefilter_s": t_full,
        "digest_s": t_digest,
        "digest_stream_s": t_stream,
        "freeze_s": t_freeze,
        "freeze_strata": len(frozen.counts),
        "freeze_candidates": frozen.size,
        "task_draw_s": t_task,
        "task_selected": len(d_task.selected),
        "selected": len(d.selected),
        "ranked": len(d.ranked_ids),
        "digest": digest,
        "fingerprint": draw_fingerprint(d),
        "base_rss_mb": base,
        "peak_rss_draw_mb": rss_draw,
        "peak_rss_digest_mb": rss_digest,
        "peak_rss_task_mb": rss_task,
        "peak_rss_mb": peak_rss_mb(),
    }


def _draw_in_memory(ids: Any, strata: Any) -> tuple[dict[str, float], Any, str]:
    from shuangsuiji.draw import draw_entities, pool_digest

    t0 = time.perf_counter()
    digest = pool_digest(ids, strata)
    t_digest = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = draw_entities(ids, strata, _rules(), task_label=TASK, seed=SEED)
    t_draw = time.perf_counter() - t0
    return {"digest_s": t_digest, "draw_s": t_draw}, d, digest


def step_memory_store(url: str) -> dict[str, Any]:
    from shuangsuiji.draw import Strata
    from shuangsuiji.store import Store

    base = peak_rss_mb()
    store = Store.open(url, upgrade=False)
    t0 = time.perf_counter()
    pool = store.load_entities()
    t_load = time.perf_counter() - t0
    rss_load = peak_rss_mb()
    t0 = time.perf_counter()
    labels = np.strings.add(np.strings.add(pool.tier_labels(), "|"), pool.region_at(2))
    strata = Strata.from_labels(labels)
    t_strata = time.perf_counter() - t0
    times, d, digest = _draw_in_memory(pool.ids, strata)
    return {
        "load_s": t_load,
        "strata_s": t_strata,
        **times,
        "digest": digest,
        "fingerprint": draw_fingerprint(d),
        "base_rss_mb": base,
        "peak_rss_load_mb": rss_load,
        "peak_rss_mb": peak_rss_mb(),
    }


def step_memory_lean(url: str) -> dict[str, Any]:
    import psycopg

    from shuangsuiji.draw import Strata
    from shuangsuiji.model import TIERS

    base = peak_rss_mb()
    t0 = time.perf_counter()
    ids_parts: list[Any] = []
    codes_parts: list[Any] = []
    with psycopg.connect(psycopg_url(url)) as conn, conn.cursor(name="lean") as cur:
        cur.itersize = 200_000
        cur.execute("SELECT id, tier || '|' || substr(region, 1, 2) FROM entities")
        while rows := cur.fetchmany(200_000):
            ids, labels = zip(*rows, strict=True)
            ids_parts.append(np.array([i.encode() for i in ids], dtype=bytes))
            codes_parts.append(np.array(labels, dtype="U8"))
    ids_arr = np.concatenate(ids_parts)
    label_arr = np.concatenate(codes_parts)
    del ids_parts, codes_parts
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    names, codes = np.unique(label_arr, return_inverse=True)
    strata = Strata(codes.astype(np.intp).reshape(-1), tuple(str(x) for x in names))
    del label_arr
    t_strata = time.perf_counter() - t0
    assert all(s.split("|")[0] in TIERS for s in strata.labels)
    times, d, digest = _draw_in_memory(ids_arr, strata)
    return {
        "load_s": t_load,
        "strata_s": t_strata,
        **times,
        "digest": digest,
        "fingerprint": draw_fingerprint(d),
        "base_rss_mb": base,
        "peak_rss_mb": peak_rss_mb(),
    }


def step_registry(url: str, pushdown: bool) -> dict[str, Any]:
    """``Registry.freeze`` of a whole-pool task, in the database or in Python (own process)."""
    from shuangsuiji.model import Plan, Task
    from shuangsuiji.policy import Policy
    from shuangsuiji.registry import Registry
    from shuangsuiji.store import Store
    from shuangsuiji.synth import DEPARTMENTS, ITEMS

    store = Store.open(url, upgrade=False)
    code = "T-DB" if pushdown else "T-PY"
    if not store.plans():
        store.save_policy(Policy.default(), actor="bench")
        store.put_departments(DEPARTMENTS, actor="bench")
        for item in ITEMS:
            store.put_item(item, actor="bench")
        store.put_plan(Plan("P1", 2026, "计划", ("SCJG",)), actor="bench")
    store.put_task(
        Task(
            code, "P1", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30)
        ),
        actor="bench",
    )
    registry = Registry(store, pushdown_from=0 if pushdown else None)
    base = peak_rss_mb()
    t0 = time.perf_counter()
    frozen = registry.freeze(code, actor="bench", cutoff=date(2026, 6, 30))
    return {
        "freeze_s": time.perf_counter() - t0,
        "candidates": frozen.size,
        "digest": frozen.digest,
        "base_rss_mb": base,
        "peak_rss_mb": peak_rss_mb(),
    }


def step_store_import(url: str, n: int, staged: bool) -> dict[str, Any]:
    """``Store.import_entities`` of ``n`` entities into an empty database (the library's own
    import path, audit event included), while another writer adds a department every 0.5 s:
    its longest wait shows whether the import holds the write lock."""
    from shuangsuiji.model import Department
    from shuangsuiji.store import Store
    from shuangsuiji.synth import make_city

    store = Store.open(url)
    pool = make_city(n, seed=2, n_inspectors=100).entities
    base = peak_rss_mb()
    waits: list[float] = []
    running = threading.Event()
    running.set()

    def writer() -> None:
        other = Store.open(url, upgrade=False)
        j = 0
        while running.is_set():
            t0 = time.perf_counter()
            other.put_departments([Department(f"W{j:04d}", f"科室{j}")], actor="另一科室")
            waits.append(time.perf_counter() - t0)
            j += 1
            time.sleep(0.5)
        other.engine.dispose()

    thread = threading.Thread(target=writer)
    thread.start()
    t0 = time.perf_counter()
    report = store.import_entities(pool, actor="bench", batch_size=10_000, staged=staged)
    seconds = time.perf_counter() - t0
    running.clear()
    thread.join()
    return {
        "rows": report.rows,
        "seconds": seconds,
        "writes": len(waits),
        "max_wait_s": max(waits, default=0.0),
        "base_rss_mb": base,
        "peak_rss_mb": peak_rss_mb(),
    }


STEPS = {
    "store-import": lambda a: step_store_import(a.url, a.n, True),
    "store-import-direct": lambda a: step_store_import(a.url, a.n, False),
    "load": lambda a: step_load(a.url, a.n),
    "pushdown": lambda a: step_pushdown(a.url),
    "memory-store": lambda a: step_memory_store(a.url),
    "memory-lean": lambda a: step_memory_lean(a.url),
    "registry-db": lambda a: step_registry(a.url, True),
    "registry-python": lambda a: step_registry(a.url, False),
}


# -- orchestration ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on now (so parallel sessions do not collide)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server() -> Iterator[str]:
    """A server URL (without database): the configured one, or a throw-away one."""
    given = os.environ.get("SSJ_BENCH_POSTGRES_URL", "")
    if given:
        yield given.rsplit("/", 1)[0]
        return
    env = dict(os.environ, SSJ_PG_PORT=os.environ.get("SSJ_PG_PORT") or str(free_port()))
    script = ROOT / "scripts" / "pg-throwaway.sh"
    out = subprocess.run([str(script), "start"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"could not start PostgreSQL:\n{out.stderr}")
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in out.stdout.splitlines()
        if line.startswith("export ")
    )
    try:
        yield exports["SSJ_TEST_POSTGRES_URL"].rsplit("/", 1)[0]
    finally:
        subprocess.run([str(script), "stop", exports["SSJ_PG_DIR"]], capture_output=True)


@contextmanager
def database(server_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text

    name = f"ssj_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server_url}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_step(step: str, url: str, n: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--step", step, "--url", url, "--n", str(n)]
    print(f"  [{step}] ...", end="", flush=True)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(" FAILED")
        raise SystemExit(f"step {step} failed:\n{out.stdout}\n{out.stderr}")
    print(f" {time.perf_counter() - t0:.0f} s", flush=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def server_facts(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
        workers = conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one()
        shared = conn.execute(text("SHOW shared_buffers")).scalar_one()
    engine.dispose()
    return f"PostgreSQL {version}, shared_buffers {shared}, {workers} parallel workers per gather"


def report(
    n: int, facts: str, load: dict[str, Any], results: dict[str, dict[str, Any]], busy: str
) -> None:
    p, ms, ml = results["pushdown"], results["memory-store"], results["memory-lean"]
    print()
    print(f"Draw pushdown vs in-memory: {n:,} entities, 4 strata (tier), {RATIO} + {ALTERNATES}")
    print(f"alternates per stratum; {facts}; {os.cpu_count()} CPUs")
    print(f"machine load average (1 min) at start and after each step: {busy}")
    print()
    rate = load["rows"] / load["copy_s"]
    total = load["copy_s"] + load["index_s"] + load["vacuum_s"]
    print("import into PostgreSQL (COPY ... FREEZE, text format, built from make_city columns)")
    print(
        f"  COPY               {load['copy_s']:8.1f} s  {rate:12,.0f} rows/s  "
        f"({load['copy_mb']:,.0f} MB of COPY text)"
    )
    print(
        f"  primary key + 3 indexes {load['index_s']:5.1f} s; "
        f"VACUUM ANALYZE {load['vacuum_s']:.1f} s"
    )
    print(
        f"  total              {total:8.1f} s  {load['rows'] / total:12,.0f} rows/s  "
        f"table + indexes {load['table_gb']:.2f} GB"
    )
    print()
    head = (
        f"{'mode':<34}{'load':>8}{'strata':>8}{'digest':>8}{'draw':>8}{'total':>8}{'peak RSS':>11}"
    )
    print(head)
    print("-" * len(head))

    def row(
        name: str,
        load_s: float | None,
        strata_s: float | None,
        digest_s: float,
        draw_s: float,
        rss: float,
    ) -> float:
        tot = (load_s or 0.0) + (strata_s or 0.0) + digest_s + draw_s

        def cell(value: float | None) -> str:
            return f"{'-':>8}" if value is None else f"{value:8.1f}"

        print(
            f"{name:<34}{cell(load_s)}{cell(strata_s)}{digest_s:8.1f}{draw_s:8.1f}{tot:8.1f}"
            f"{rss:8,.0f} MB"
        )
        return tot

    t_push = row(
        "pushdown (digest in DB)", None, None, p["digest_s"], p["draw_s"], p["peak_rss_digest_mb"]
    )
    row(
        "pushdown (digest streamed)",
        None,
        None,
        p["digest_stream_s"],
        p["draw_s"],
        p["peak_rss_mb"],
    )
    t_store = row(
        "in-memory, Store.load_entities",
        ms["load_s"],
        ms["strata_s"],
        ms["digest_s"],
        ms["draw_s"],
        ms["peak_rss_mb"],
    )
    t_lean = row(
        "in-memory, lean (id, tier, region)",
        ml["load_s"],
        ml["strata_s"],
        ml["digest_s"],
        ml["draw_s"],
        ml["peak_rss_mb"],
    )
    print()
    print("(seconds. The pushdown 'draw' is draw_in_database: its GROUP BY of the stratum sizes,")
    print(
        f" the ranking in the database and fetching the ranked rows; count_strata alone takes "
        f"{p['counts_s']:.1f} s.)"
    )
    print()
    same = p["fingerprint"] == ms["fingerprint"] == ml["fingerprint"]
    same_digest = p["digest"] == ms["digest"] == ml["digest"]
    print(
        f"identical draws: {'yes' if same else 'NO'}; identical pool digests: "
        f"{'yes' if same_digest else 'NO'} "
        f"({p['selected']:,} selected, {p['ranked']:,} ranked)"
    )
    print(
        f"pushdown draw without the pre-filter (full window sort): "
        f"{p['draw_noprefilter_s']:.1f} s "
        f"= {p['draw_noprefilter_s'] / p['draw_s']:.1f}x the pre-filtered draw"
    )
    print(
        f"ratios: in-memory(store) / pushdown = {t_store / t_push:.1f}x time, "
        f"{ms['peak_rss_mb'] / p['peak_rss_digest_mb']:.0f}x peak RSS; "
        f"in-memory(lean) / pushdown = {t_lean / t_push:.1f}x time, "
        f"{ml['peak_rss_mb'] / p['peak_rss_digest_mb']:.0f}x peak RSS"
    )
    print(
        f"freeze_in_database, default policy ({p['freeze_strata']} strata, exclusions, digest): "
        f"{p['freeze_s']:.1f} s for {p['freeze_candidates']:,} candidates; its draw "
        f"{p['task_draw_s']:.1f} s ({p['task_selected']:,} selected)"
    )
    for step, label in (("store-import", "staged"), ("store-import-direct", "direct")):
        if step in results:
            r = results[step]
            print(
                f"Store.import_entities ({label}), {r['rows']:,} rows: {r['seconds']:.1f} s = "
                f"{r['rows'] / r['seconds']:,.0f} rows/s, peak RSS {r['peak_rss_mb']:,.0f} MB "
                f"(pool {r['base_rss_mb']:,.0f} MB); another writer's longest wait "
                f"{r['max_wait_s']:.2f} s over {r['writes']} writes"
            )
    rd = results["registry-db"]
    print(
        f"Registry.freeze of a whole-pool task ({rd['candidates']:,} candidates, candidates "
        f"stored in draw_candidates): in the database {rd['freeze_s']:.1f} s, peak RSS "
        f"{rd['peak_rss_mb']:,.0f} MB"
    )
    rp = results.get("registry-python")
    if rp is not None:
        print(
            f"  in Python {rp['freeze_s']:.1f} s, peak RSS {rp['peak_rss_mb']:,.0f} MB "
            f"({rp['freeze_s'] / rd['freeze_s']:.1f}x time, "
            f"{rp['peak_rss_mb'] / rd['peak_rss_mb']:.1f}x memory); same pool digest: "
            f"{'yes' if rd['digest'] == rp['digest'] else 'NO'}"
        )
    if not (same and same_digest) or (rp is not None and rd["digest"] != rp["digest"]):
        raise SystemExit("the pushdown and in-memory draws differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000,000 entities")
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(STEPS[args.step](args)))
        return
    n = 1_000_000 if args.quick else 10_000_000
    with server() as server_url, database(server_url) as url:
        facts = server_facts(url)
        print(f"loading {n:,} entities into a new database ({facts})", flush=True)
        busy = [os.getloadavg()[0]]
        load = run_step("load", url, n)
        busy.append(os.getloadavg()[0])
        results = {}
        for step in ("pushdown", "memory-store", "memory-lean", "registry-db", "registry-python"):
            if step == "registry-python" and n > 1_000_000:
                continue  # loads the whole pool and inserts every candidate: 1,000,000 only
            results[step] = run_step(step, url, n)
            busy.append(os.getloadavg()[0])
        for step in ("store-import", "store-import-direct"):
            if step == "store-import-direct" and n > 1_000_000:
                continue  # holds the lock for the whole import: shown at 1,000,000 only
            with database(server_url) as fresh:
                results[step] = run_step(step, fresh, n)
        report(n, facts, load, results, " ".join(f"{x:.1f}" for x in busy))


if __name__ == "__main__":
    main()
