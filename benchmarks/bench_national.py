"""National scale: DuckDB over Parquet, Spark, the PostgreSQL pushdown and the in-memory draw.

Generates pools of 1,000,000, 10,000,000 and 50,000,000 entities as Parquet with DuckDB (USCC-
like IDs in scrambled order, 128 strata: 4 risk tiers × 32 provinces), then measures, each step
in its own Python process so that its peak resident memory (``ru_maxrss``) is its own:

- **duckdb** at every size: ``freeze_duckdb`` (checks, counts, the candidates sorted by
  ``utf8(id)`` written as the columnar bundle's Parquet file) + ``draw_duckdb`` on the frozen
  file (counts, tickets, selection, alternates, pool digest);
- **pushdown** (PostgreSQL) at ``--pg-n``: COPY into ``draw_candidates`` (not timed), then
  ``draw_in_database`` + ``digest_in_database``;
- **memory** at ``--memory-n``: read ``id``/``stratum`` into numpy, ``pool_digest`` +
  ``draw_entities``;
- **spark** (``local[2]``) at ``--spark-n``: ``draw_spark`` on the frozen Parquet;
- **verify**: a columnar bundle head for the largest DuckDB draw (``head_for_draw``) verified
  by ``verify_columnar`` (the file's SHA-256, then the candidates streamed in batches).

Every draw at a size must be identical (a hash of the ranked IDs, tickets and sizes, and the
pool digest). Then a fit ``t = a · n^b`` over the DuckDB sizes, extrapolated to 200,000,000.

    python benchmarks/bench_national.py            # 1M, 10M, 50M (about 30 minutes)
    python benchmarks/bench_national.py --quick    # 100k, 1M
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TASK = "NATIONAL-2026-001"
SEED = bytes(range(200, 232))
RATIO = "0.01"
ALTERNATES = 50
TIERS = ("A", "B", "C", "D")


def rules() -> Any:
    from shuangsuiji.draw import SizeRule

    return SizeRule(ratio=RATIO, alternates=ALTERNATES)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def fingerprint(draw: Any, digest: str) -> str:
    h = hashlib.sha256(digest.encode())
    for s in draw.strata:
        h.update(f"{s.label}\t{s.size}\t{s.sample}\t{s.alternates}\n".encode())
    h.update(draw.ranked_ids.tobytes())
    h.update(draw.ranked_tickets.tobytes())
    return h.hexdigest()[:16]


def duckdb_connection(folder: Path) -> Any:
    import duckdb

    return duckdb.connect(
        config={"memory_limit": "6GB", "threads": 2, "temp_directory": str(folder / "spill")}
    )


def step_generate(folder: Path, n: int) -> dict[str, Any]:
    """The pool as Parquet: IDs 91 + 16 digits in scrambled (bijective) order, 128 strata."""
    t0 = time.perf_counter()
    con = duckdb_connection(folder)
    # i * 2654435761 mod 10^16 is a bijection on 0..10^16-1 (the factor is odd and not a
    # multiple of 5), so IDs are unique and arrive in no particular order.
    con.execute(
        f"""COPY (
          SELECT '91' || lpad(CAST((i * 2654435761) % 10000000000000000 AS VARCHAR), 16, '0')
                 AS id,
                 ['A', 'B', 'C', 'D'][1 + (i % 4)::INTEGER] || '/' ||
                 CAST(11 + (i * 7) % 32 AS VARCHAR) AS stratum
          FROM range({n}) t(i)
        ) TO '{folder / f"pool-{n}.parquet"}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"""
    )
    con.close()
    return {"seconds": time.perf_counter() - t0, "rss_mb": peak_rss_mb()}


def step_duckdb(folder: Path, n: int) -> dict[str, Any]:
    from shuangsuiji.engines.duckdb import draw_duckdb, freeze_duckdb

    con = duckdb_connection(folder)
    t0 = time.perf_counter()
    counts = freeze_duckdb(
        folder / f"pool-{n}.parquet", folder / f"frozen-{n}.parquet", connection=con
    )
    t1 = time.perf_counter()
    got = draw_duckdb(
        folder / f"frozen-{n}.parquet",
        rules(),
        task_label=TASK,
        seed=SEED,
        connection=con,
        check_ids=False,
    )
    t2 = time.perf_counter()
    con.close()
    (folder / f"draw-{n}.json").write_text(
        json.dumps({"seed": SEED.hex(), "digest": got.pool_digest, "rows": sum(counts.values())})
    )
    from shuangsuiji.columnar import head_for_draw, write_head

    head = head_for_draw(
        got.draw,
        got.pool_digest,
        folder / f"frozen-{n}.parquet",
        rows=sum(counts.values()),
        library_version="bench",
    )
    write_head(head, folder / f"head-{n}.json")
    return {
        "freeze_s": t1 - t0,
        "draw_s": t2 - t1,
        "seconds": t2 - t0,
        "rss_mb": peak_rss_mb(),
        "fingerprint": fingerprint(got.draw, got.pool_digest),
        "selected": sum(s.sample for s in got.draw.strata),
        "strata": len(got.draw.strata),
        "head_kb": (folder / f"head-{n}.json").stat().st_size / 1024,
        "file_mb": (folder / f"frozen-{n}.parquet").stat().st_size / 2**20,
    }


def step_memory(folder: Path, n: int) -> dict[str, Any]:
    import numpy as np
    import pyarrow.parquet as pq

    from shuangsuiji.draw import Strata, draw_entities, pool_digest

    t0 = time.perf_counter()
    table = pq.read_table(folder / f"pool-{n}.parquet")
    ids = np.array(table.column("id").to_numpy(zero_copy_only=False).astype("S18"))
    encoded = table.column("stratum").combine_chunks().dictionary_encode()
    strata = Strata(
        encoded.indices.to_numpy().astype(np.intp), tuple(encoded.dictionary.to_pylist())
    )
    del table
    t1 = time.perf_counter()
    digest = pool_digest(ids, strata)
    draw = draw_entities(ids, strata, rules(), task_label=TASK, seed=SEED)
    t2 = time.perf_counter()
    return {
        "load_s": t1 - t0,
        "draw_s": t2 - t1,
        "seconds": t2 - t0,
        "rss_mb": peak_rss_mb(),
        "fingerprint": fingerprint(draw, digest),
    }


def step_pushdown(folder: Path, n: int, url: str) -> dict[str, Any]:
    import duckdb
    import psycopg
    from sqlalchemy import create_engine, text

    from shuangsuiji.store.pushdown import FrozenCandidates, digest_in_database, draw_in_database

    csv = folder / f"pool-{n}.csv"
    duckdb.connect().execute(
        f"COPY (SELECT id, stratum FROM '{folder / f'pool-{n}.parquet'}') TO '{csv}' (HEADER false)"
    )
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS draw_candidates"))
        conn.execute(
            text(
                "CREATE TABLE draw_candidates (draw_id integer DEFAULT 1, "
                "entity_id varchar(200), stratum varchar(200))"
            )
        )
    t0 = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as pg:
        with (
            pg.cursor() as cur,
            cur.copy("COPY draw_candidates (entity_id, stratum) FROM STDIN (FORMAT csv)") as copy,
            csv.open("rb") as f,
        ):
            for piece in iter(lambda: f.read(2**22), b""):
                copy.write(piece)
        pg.execute("ALTER TABLE draw_candidates ADD PRIMARY KEY (draw_id, entity_id)")
        pg.execute("ANALYZE draw_candidates")
    csv.unlink()
    t1 = time.perf_counter()
    draw = draw_in_database(engine, FrozenCandidates(1), rules(), task_label=TASK, seed=SEED)
    t2 = time.perf_counter()
    digest = digest_in_database(engine, FrozenCandidates(1))
    t3 = time.perf_counter()
    engine.dispose()
    return {
        "load_s": t1 - t0,
        "draw_s": t2 - t1,
        "digest_s": t3 - t2,
        "seconds": t3 - t1,
        "rss_mb": peak_rss_mb(),
        "fingerprint": fingerprint(draw, digest),
    }


def jvm_peak_mb() -> float:
    """The largest VmHWM (peak resident set) among this process's descendants (the JVM)."""
    parents: dict[int, int] = {}
    peaks: dict[int, float] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        pid = int(status.parent.name)
        parents[pid] = int(fields.get("PPid", "0").strip() or 0)
        if "VmHWM" in fields:
            peaks[pid] = int(fields["VmHWM"].split()[0]) / 1024

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return max((mb for pid, mb in peaks.items() if descends(pid)), default=0.0)


def step_spark(folder: Path, n: int) -> dict[str, Any]:
    from pyspark.sql import SparkSession

    from shuangsuiji.engines.spark import draw_spark

    t0 = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", str(max(2, n // 2_000_000)))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    t1 = time.perf_counter()
    got = draw_spark(
        spark.read.parquet(str(folder / f"frozen-{n}.parquet")),
        rules(),
        task_label=TASK,
        seed=SEED,
        check_ids=False,
    )
    t2 = time.perf_counter()
    jvm = jvm_peak_mb()  # the JVM is a child that outlives spark.stop(): read it while it runs
    spark.stop()
    return {
        "start_s": t1 - t0,
        "seconds": t2 - t1,
        "rss_mb": peak_rss_mb(),
        "jvm_rss_mb": jvm,
        "fingerprint": fingerprint(got.draw, got.pool_digest),
    }


def step_verify(folder: Path, n: int) -> dict[str, Any]:
    from shuangsuiji.columnar import read_head, verify_columnar

    t0 = time.perf_counter()
    report = verify_columnar(read_head(folder / f"head-{n}.json"), folder)
    t1 = time.perf_counter()
    return {
        "seconds": t1 - t0,
        "rss_mb": peak_rss_mb(),
        "problems": sorted({p.field for p in report.problems}),
    }


STEPS = {
    "generate": step_generate,
    "duckdb": step_duckdb,
    "memory": step_memory,
    "spark": step_spark,
    "verify": step_verify,
}


def run(step: str, folder: Path, n: int, url: str = "") -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--step", step, "--dir", str(folder), "--n", str(n)]
    cmd += ["--url", url] if url else []
    print(f"  [{step} {n:,}] ...", end="", flush=True)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(" FAILED")
        raise SystemExit(f"step {step} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["child_maxrss_mb"] = children_rss_mb()  # the largest child so far (cumulative)
    print(f" {time.perf_counter() - t0:.0f} s, peak RSS {result['rss_mb']:,.0f} MB", flush=True)
    return result


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares of log t = log a + b log n."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return math.exp(my - b * mx), b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", default="")
    parser.add_argument("--memory-n", type=int, default=0)
    parser.add_argument("--pg-n", type=int, default=0)
    parser.add_argument("--spark-n", type=int, default=0)
    parser.add_argument("--skip", default="", help="comma-separated: pushdown,spark,memory")
    parser.add_argument("--verify-all", action="store_true", help="verify at every size")
    parser.add_argument("--step")
    parser.add_argument("--dir")
    parser.add_argument("--n", type=int)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    if args.step:
        folder = Path(args.dir)
        if args.step == "pushdown":
            print(json.dumps(step_pushdown(folder, args.n, args.url)))
        else:
            print(json.dumps(STEPS[args.step](folder, args.n)))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s] or (
        [100_000, 1_000_000] if args.quick else [1_000_000, 10_000_000, 50_000_000]
    )
    mid = sizes[-2] if len(sizes) > 1 else sizes[0]
    memory_n, pg_n, spark_n = (args.memory_n or mid, args.pg_n or mid, args.spark_n or mid)
    skip = set(args.skip.split(","))
    base = os.environ.get("SSJ_BENCH_DIR") or tempfile.gettempdir()
    with tempfile.TemporaryDirectory(dir=base, prefix="ssj-national-") as tmp:
        folder = Path(tmp)
        print(
            f"SSJ-DRAW-1 national: ratio {RATIO} + {ALTERNATES} alternates, 128 strata; "
            f"{os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}"
        )
        res: dict[str, dict[int, dict[str, Any]]] = {k: {} for k in [*STEPS, "pushdown"]}
        for n in sizes:
            res["generate"][n] = run("generate", folder, n)
            res["duckdb"][n] = run("duckdb", folder, n)
            if n == memory_n and "memory" not in skip:
                res["memory"][n] = run("memory", folder, n)
            if n == pg_n and "pushdown" not in skip:
                sys.path.insert(0, str(HERE))
                from bench_pushdown import database, server

                with server() as server_url, database(server_url) as url:
                    res["pushdown"][n] = run("pushdown", folder, n, url)
            if n == spark_n and "spark" not in skip:
                res["spark"][n] = run("spark", folder, n)
            if n == sizes[-1] or args.verify_all:
                res["verify"][n] = run("verify", folder, n)
            for f in (f"pool-{n}.parquet",):
                (folder / f).unlink()
            if n != sizes[-1]:
                for f in (f"frozen-{n}.parquet", f"head-{n}.json"):
                    (folder / f).unlink()
        report(sizes, res)


def report(sizes: list[int], res: dict[str, dict[int, dict[str, Any]]]) -> None:
    print("\nDuckDB freeze + draw (select, alternates, pool digest):")
    for n in sizes:
        d = res["duckdb"][n]
        print(
            f"  {n:>11,}: {d['seconds']:7.1f} s (freeze {d['freeze_s']:.1f} + draw "
            f"{d['draw_s']:.1f}), peak RSS {d['rss_mb']:,.0f} MB, {d['selected']:,} selected, "
            f"file {d['file_mb']:,.0f} MB, head {d['head_kb']:,.0f} KB"
        )
    if len(sizes) > 1:
        a, b = fit([(n, res["duckdb"][n]["seconds"]) for n in sizes])
        print(
            f"  fit t = {a:.3g} · n^{b:.3f}; 200,000,000 → {a * 2e8**b / 60:.1f} min "
            f"(linear from the largest: "
            f"{res['duckdb'][sizes[-1]]['seconds'] * 2e8 / sizes[-1] / 60:.1f} min)"
        )
    for name in ("memory", "pushdown", "spark"):
        for n, r in res[name].items():
            d = res["duckdb"][n]
            same = "identical" if r["fingerprint"] == d["fingerprint"] else "DIFFERENT"
            extra = {k: round(v, 1) for k, v in r.items() if k.endswith("_s") or k == "jvm_rss_mb"}
            print(
                f"  {name} at {n:,}: {r['seconds']:.1f} s = {r['seconds'] / d['seconds']:.2f}× "
                f"DuckDB ({d['seconds']:.1f} s); peak RSS {r['rss_mb']:,.0f} MB vs "
                f"{d['rss_mb']:,.0f} MB; {same} draw and digest; {extra}"
            )
    for n, r in res["verify"].items():
        d = res["duckdb"][n]
        print(
            f"  verify columnar bundle of {n:,} candidates: {r['seconds']:.1f} s "
            f"({r['seconds'] / d['seconds']:.2f}× the DuckDB freeze + draw), peak RSS "
            f"{r['rss_mb']:,.0f} MB; problems {r['problems']}"
        )


if __name__ == "__main__":
    main()
