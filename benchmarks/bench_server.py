"""The HTTP service under load: N concurrent clients each run the cycle of one task over HTTP.

Each client creates a task, draws it (``/draw``), assigns its teams (``/teams/assign``), reads
the teams and the bundle, records a result for every team's entity, publishes them and reads
the publication records: 9 requests per task. The baseline is the same calls made directly on
the :class:`~shuangsuiji.registry.Registry` by as many threads, on a fresh store of the same
engine, in the same run; the ratio says what HTTP, JSON and the role checks add per call.

Prints the requests, p50/p95 latency of each side, the ratio of the medians, and the errors
(which must be 0: the script exits 1 otherwise).

    python benchmarks/bench_server.py                       # SQLite file, 8 clients, 4 tasks each
    python benchmarks/bench_server.py --db postgresql+psycopg://…/db --clients 8 --tasks 4
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from shuangsuiji.model import Plan, Task
from shuangsuiji.registry import Registry, ResultEntry
from shuangsuiji.server import create_app
from shuangsuiji.server.auth import hash_key, keyring
from shuangsuiji.synth import make_city

ROLES = ("planner", "drawer", "recorder", "publisher", "auditor")
CITY = make_city(2_000, seed=5)


class Clock:
    """Draws on 2026-06-30, results after the inspections (2026-07-08)."""

    def __init__(self) -> None:
        self.at = datetime(2026, 6, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def _registry(url: str) -> tuple[Registry, Clock]:
    clock = Clock()
    reg = Registry.open(url, clock=clock)
    reg.setup_city(CITY, actor="管理员")
    reg.store.put_plan(Plan("P", 2026, "年度计划", ("SCJG",)), actor="管理员")
    return reg, clock


def _task(code: str) -> Task:
    return Task(
        code, "P", f"抽查 {code}", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30)
    )


def _entries(task: str, teams: dict[str, Any]) -> list[ResultEntry]:
    return [
        ResultEntry(task, e, "SCJG-01", ["01"], date(2026, 7, 6), date(2026, 7, 7), list(i))
        for e, i in teams.items()
    ]


class Timed:
    """Latencies of calls made from many threads, and the errors."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, work: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return work()
        except Exception as exc:
            with self._lock:
                self.errors.append(repr(exc)[:300])
            raise
        finally:
            with self._lock:
                self.seconds.append(time.perf_counter() - start)

    def quantile(self, q: float) -> float:
        return statistics.quantiles(self.seconds, n=100)[int(q * 100) - 1] * 1000


def _http_phases(base: str, timed: Timed) -> tuple[Callable[[str], Any], Callable[[str, Any], Any]]:
    clients = {
        r: httpx.Client(base_url=base, headers={"Authorization": f"Bearer key-{r}"}, timeout=300)
        for r in ROLES
    }

    def call(role: str, method: str, path: str, **kw: Any) -> Any:
        r = timed(lambda: clients[role].request(method, path, **kw))
        if r.status_code != 200:
            timed.errors.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
            raise RuntimeError(r.text)
        return r.json()

    def draw(code: str) -> Any:
        t = _task(code)
        body = {
            "code": code, "plan": "P", "name": t.name, "departments": ["SCJG"],
            "items": ["SCJG-01"], "start": "2026-07-01", "end": "2026-09-30",
        }  # fmt: skip
        call("planner", "POST", "/tasks", json=body)
        call("drawer", "POST", f"/tasks/{code}/draw", json={"cutoff": "2026-06-30"})
        call("drawer", "POST", f"/tasks/{code}/teams/assign", json={})
        teams = call("auditor", "GET", f"/tasks/{code}/teams", params={"limit": 1000})["items"]
        call("auditor", "GET", f"/tasks/{code}/bundle")
        return {t["entity"]: t["inspectors"] for t in teams}

    def record(code: str, teams: Any) -> Any:
        body = [
            {
                "task": e.task, "entity": e.entity, "item": e.item, "categories": ["01"],
                "inspection_start": "2026-07-06", "inspection_end": "2026-07-07",
                "inspectors": list(e.inspectors),
            }
            for e in _entries(code, teams)
        ]  # fmt: skip
        call("recorder", "POST", "/results", json=body)
        call("publisher", "POST", "/publications", json={"keys": [[code, e] for e in teams]})
        call("auditor", "GET", "/publications", params={"task": code})
        call("auditor", "GET", "/results", params={"task": code})

    return draw, record


def _direct_phases(
    reg: Registry, timed: Timed
) -> tuple[Callable[[str], Any], Callable[[str, Any], Any]]:
    def draw(code: str) -> Any:
        timed(lambda: reg.store.put_task(_task(code), actor="计划"))
        timed(lambda: reg.draw(code, actor="抽取人", cutoff=date(2026, 6, 30)))
        timed(lambda: reg.assign_teams(code, actor="抽取人"))
        teams = timed(lambda: reg.teams(code))
        timed(lambda: reg.bundle(code))
        return teams

    def record(code: str, teams: Any) -> Any:
        timed(lambda: reg.record_results(_entries(code, teams), actor="录入"))
        timed(lambda: reg.publish_many([(code, e) for e in teams], actor="公示"))
        timed(lambda: reg.publications(task=code))
        timed(lambda: reg.results(code))

    return draw, record


def _run(
    clients: int,
    tasks: int,
    prefix: str,
    clock: Clock,
    phases: tuple[Callable[[str], Any], Callable[[str, Any], Any]],
) -> float:
    """Every client draws its tasks, then (clock moved on) records and publishes them."""
    draw, record = phases
    codes = [[f"{prefix}{c}-{t}" for t in range(tasks)] for c in range(clients)]
    teams: dict[str, Any] = {}
    start = time.perf_counter()

    def each(work: Callable[[str], None]) -> None:
        threads = [
            threading.Thread(target=lambda mine=mine: [work(code) for code in mine])
            for mine in codes
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    each(lambda code: teams.__setitem__(code, draw(code)))
    clock.at = datetime(2026, 7, 8, 9, 0, tzinfo=UTC)
    each(lambda code: record(code, teams[code]))
    return time.perf_counter() - start


def _pg(db: str, *statements: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(db.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


def _url(db: str | None, tmp: Path, name: str) -> str:
    """A fresh store: a SQLite file, or a new database ``bench_<name>`` on the server."""
    if db is None:
        return f"sqlite:///{tmp / name}.db"
    _pg(db, f"DROP DATABASE IF EXISTS bench_{name}", f"CREATE DATABASE bench_{name}")
    return db.rsplit("/", 1)[0] + f"/bench_{name}"


def _serve(reg: Registry) -> tuple[uvicorn.Server, threading.Thread, str]:
    people = [
        {"id": f"p-{r}", "name": f"{r}-人", "roles": [r], "key_sha256": hash_key(f"key-{r}")}
        for r in ROLES
    ]
    app = create_app(reg, keys=keyring({"person": people}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a PostgreSQL URL (default: SQLite files in a temp dir)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tasks", type=int, default=4, help="tasks per client")
    parser.add_argument("--quick", action="store_true", help="4 clients, 1 task each")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.tasks = 4, 1
    with tempfile.TemporaryDirectory() as tmp:
        reg, clock = _registry(_url(args.db, Path(tmp), "http"))
        server, thread, base = _serve(reg)
        http = Timed()
        try:
            wall_http = _run(args.clients, args.tasks, "H", clock, _http_phases(base, http))
        finally:
            server.should_exit = True
            thread.join(30)
        reg2, clock2 = _registry(_url(args.db, Path(tmp), "direct"))
        direct = Timed()
        wall_direct = _run(args.clients, args.tasks, "D", clock2, _direct_phases(reg2, direct))
        for r in (reg, reg2):
            r.store.engine.dispose()
        if args.db:
            _pg(args.db, "DROP DATABASE bench_http", "DROP DATABASE bench_direct")
    engine = "PostgreSQL" if args.db else "SQLite"
    print(f"engine {engine}, {args.clients} concurrent clients x {args.tasks} tasks, 9 calls each")
    for name, t, wall in (("http", http, wall_http), ("direct", direct, wall_direct)):
        print(
            f"{name:7s} requests {len(t.seconds):5d}  p50 {t.quantile(0.5):8.1f} ms  "
            f"p95 {t.quantile(0.95):8.1f} ms  errors {len(t.errors)}  wall {wall:6.1f} s"
        )
    print(f"ratio http/direct: p50 {http.quantile(0.5) / direct.quantile(0.5):.2f}x, "
          f"wall {wall_http / wall_direct:.2f}x")  # fmt: skip
    for e in (http.errors + direct.errors)[:5]:
        print("error:", e)
    return 1 if http.errors or direct.errors else 0


if __name__ == "__main__":
    sys.exit(main())
