"""The reliability figures of docs/reliability.md: load, races, crashes and bad input.

    python tests/reliability/report.py --quick            # a few minutes
    python tests/reliability/report.py                    # the long version
    python tests/reliability/report.py --engines sqlite   # without PostgreSQL
    python tests/reliability/report.py --quick --output figures.md

PostgreSQL runs need ``$SSJ_TEST_POSTGRES_URL``: a server where the user may create databases
(``scripts/pg-throwaway.sh start`` prints one). Every scenario runs in a new database, dropped
afterwards. The script prints Markdown tables and exits 1 if any invariant was broken; known
bugs (see docs/reliability.md) show up as broken races until their fix lands.
"""

from __future__ import annotations

import argparse
import functools
import io
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, when run as a script

from reliability import ssj_reliability as rel

SIZES: dict[str, dict[str, int]] = {
    "quick": {"rounds": 2, "kills": 10, "upgrade_kills": 2, "files": 150, "policies": 150},
    "full": {"rounds": 8, "kills": 100, "upgrade_kills": 10, "files": 2000, "policies": 2000},
}


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _first(problems: list[str]) -> str:
    return "none" if not problems else f"{len(problems)}: {problems[0][:140]}".replace("|", "/")


class Report:
    """Collects the sections and the totals."""

    def __init__(self) -> None:
        self.sections: list[str] = []
        self.totals: Counter[str] = Counter()
        self.broken: list[str] = []

    def add(self, title: str, table: str) -> None:
        self.sections.append(f"### {title}\n\n{table}\n")
        print(self.sections[-1], flush=True)

    def problems(self, where: str, problems: list[str]) -> None:
        self.broken += [f"{where}: {p}" for p in problems]


def load(report: Report, engines: list[str], pool: Pool, size: dict[str, int], tmp: Path) -> None:
    rows = []
    for engine in engines:
        with rel.database(engine, tmp) as url:
            r = rel.run_stress(url, pool, workers=8, rounds=size["rounds"], entities=600)
        rows.append(
            [engine, r.workers, r.steps, r.committed, r.refused, r.constraint, r.events,
             r.draws, f"{r.seconds:.1f}", _first(r.problems)]
        )  # fmt: skip
        report.totals["concurrent steps"] += r.steps
        report.problems(f"load {engine}", r.problems)
    header = ["engine", "processes", "steps", "committed", "refused (rule)",
              "refused (raw constraint)", "events", "draws", "seconds", "problems"]  # fmt: skip
    report.add(
        "Eight processes at once (draw, teams, result, import, department)", _table(header, rows)
    )


def races(report: Report, engines: list[str], pool: Pool, tmp: Path) -> None:
    scenarios: list[tuple[str, Callable[[str, Pool], rel.RaceResult]]] = [
        ("R1", rel.race_same_task),
        ("R2", rel.race_exclusion_window),
        ("R3", rel.race_commitments),
        ("R4", rel.race_replacements),
        ("R12", rel.race_team_assignments),
        ("R13", rel.race_first_results),
        ("R7", rel.race_same_imports),
    ]
    rows = []
    for engine in engines:
        runs = list(scenarios)
        if engine == "postgresql":
            runs += [
                ("R5", lambda url, p: rel.race_host_isolation(url, p, "REPEATABLE READ")),
                ("R5", lambda url, p: rel.race_host_isolation(url, p, "SERIALIZABLE")),
                ("R6", rel.race_first_open),
            ]
        for bug, scenario in runs:
            with rel.database(engine, tmp) as url:
                r = scenario(url, pool)
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items()))
            held = "yes" if not r.problems else f"**no** ({bug})"
            rows.append([r.name, engine, outcomes, held, _first(r.problems)])
            report.totals["race contenders"] += sum(r.outcomes.values())
            report.problems(f"race {r.name} {engine}", r.problems)
    header = ["race (all contenders released at once)", "engine", "outcomes", "held", "problems"]
    report.add("Races held at a gate", _table(header, rows))


def crashes(report: Report, engines: list[str], size: dict[str, int], tmp: Path) -> None:
    rows = []
    for engine in engines:
        with rel.database(engine, tmp) as url:
            draws = rel.crash_draws(url, size["kills"], entities=500)
        with rel.database(engine, tmp) as url:
            imports = rel.crash_imports(url, size["kills"], rows=2000)
        fresh = functools.partial(rel.database, engine, tmp)
        upgrades = rel.crash_upgrades(fresh, size["upgrade_kills"])
        for r in (draws, imports, upgrades):
            rows.append(
                [r.scenario, engine, r.kills, r.mid_transaction, r.after_commit, r.before_start,
                 r.reruns, f"{r.seconds:.1f}", _first(r.problems)]
            )  # fmt: skip
            report.totals["kill -9"] += r.kills
            report.problems(f"crash {r.scenario} {engine}", r.problems)
    header = ["step killed", "engine", "kills", "mid-step, not committed", "after commit",
              "before its first write", "reruns", "seconds", "problems"]  # fmt: skip
    report.add("kill -9 at random moments", _table(header, rows))


QUIET: dict[str, Any] = {"database": None, "deadline": None}


def _files(url: str, base_text: str, examples: int) -> tuple[Counter[str], list[str]]:
    """Generated damaged entity files against one store: (kinds tried, problems)."""
    from hypothesis import HealthCheck, Phase, given, settings

    from shuangsuiji.io import read_entities_csv
    from shuangsuiji.store import Store

    store = Store.open(url)
    base = read_entities_csv(io.StringIO(base_text))
    store.import_entities(base, actor=rel.ADMIN)
    found: list[str] = []
    tried: Counter[str] = Counter()

    @settings(
        max_examples=examples,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        **QUIET,
    )
    @given(rel.entity_file_cases(base_text))
    def files(case: rel.BadFile) -> None:
        tried[case.file_fault] += 1
        tried["damaged rows"] += len(case.row_faults)
        found.extend(rel.check_entity_file(case, store, base))

    files()
    store.engine.dispose()
    return tried, found


def _policies(examples: int) -> tuple[int, list[str]]:
    from hypothesis import HealthCheck, Phase, given, settings

    found: list[str] = []
    count = [0]

    @settings(
        max_examples=examples,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        **QUIET,
    )
    @given(rel.policy_cases())
    def policies(case: tuple[dict[str, Any], str]) -> None:
        count[0] += 1
        found.extend(rel.check_policy(*case))

    policies()
    return count[0], found


def bad_input(report: Report, engines: list[str], size: dict[str, int], tmp: Path) -> None:
    import numpy as np

    from shuangsuiji.io import write_entities_csv
    from shuangsuiji.synth import make_city

    city = make_city(400, seed=31)
    path = tmp / "base.csv"
    write_entities_csv(city.entities.take(np.arange(6)), path)
    base_text = path.read_text(encoding="utf-8")
    rows = []
    for engine in engines:
        with rel.database(engine, tmp) as url:
            tried, found = _files(url, base_text, size["files"])
        files = sum(v for k, v in tried.items() if k != "damaged rows")
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(tried.items()))
        rows.append(["entity CSV files", engine, files, kinds, _first(found)])
        report.totals["bad inputs"] += files
        report.problems(f"files {engine}", found)
        with rel.database(engine, tmp) as url:
            reg = rel.api_store(url, city)
            cases, found = rel.check_api_cases(reg, city)
            reg.store.engine.dispose()
        rows.append(["API arguments", engine, cases, "store, registry, ceremony", _first(found)])
        report.totals["bad inputs"] += cases
        report.problems(f"api {engine}", found)
    count, found = _policies(size["policies"])
    rows.append(["policies (mapping and TOML)", "-", count, "ranges, types, contradictions",
                 _first(found)])  # fmt: skip
    report.totals["bad inputs"] += count
    report.problems("policies", found)
    header = ["input", "engine", "tried", "kinds", "problems (store changed, unclear error)"]
    report.add("Bad input refused, store unchanged", _table(header, rows))


def machine() -> str:
    import numpy
    import sqlalchemy

    load1, _, _ = os.getloadavg()
    parts = [
        f"Python {platform.python_version()}",
        f"numpy {numpy.__version__}",
        f"SQLAlchemy {sqlalchemy.__version__}",
        f"{os.cpu_count()} cores",
        f"load average {load1:.1f} at start",
    ]
    if os.environ.get(rel.PG_ENV):
        from sqlalchemy import create_engine, text

        engine = create_engine(os.environ[rel.PG_ENV])
        with engine.connect() as conn:
            parts.append(str(conn.execute(text("SHOW server_version")).scalar()).split()[0])
            parts[-1] = "PostgreSQL " + parts[-1]
        engine.dispose()
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--only", default="load,races,crashes,input", help="sections to run")
    parser.add_argument("--output", type=Path, help="also write the Markdown to this file")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "postgresql" in engines and not os.environ.get(rel.PG_ENV):
        print(f"no ${rel.PG_ENV}: running SQLite only", file=sys.stderr)
        engines = [e for e in engines if e != "postgresql"]
    size = SIZES["quick" if args.quick else "full"]
    only = set(args.only.split(","))
    report = Report()
    began = time.perf_counter()
    header = f"Run `{' '.join(['report.py', *(argv or sys.argv[1:])])}` on {machine()}."
    print(header + "\n", flush=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        spawn = multiprocessing.get_context("spawn")
        with spawn.Pool(8, initializer=__import__, initargs=(rel.__name__,)) as pool:
            if "load" in only:
                load(report, engines, pool, size, tmp)
            if "races" in only:
                races(report, engines, pool, tmp)
        if "crashes" in only:
            crashes(report, engines, size, tmp)
        if "input" in only:
            bad_input(report, engines, size, tmp)
    totals = ", ".join(f"{k}: {v}" for k, v in report.totals.items())
    footer = (
        f"Totals: {totals}; invariants broken: {len(report.broken)}; "
        f"{time.perf_counter() - began:.0f} s."
    )
    print(footer)
    for problem in report.broken:
        print(f"  - {problem}")
    if args.output:
        text = "\n".join([header, "", *report.sections, footer, ""])
        args.output.write_text(text, encoding="utf-8")
    return 1 if report.broken else 0


if __name__ == "__main__":
    sys.exit(main())
