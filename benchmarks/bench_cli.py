"""Start-up time of the command line and of the core, as ratios to a bare ``import click``.

Budget (issue 14): ``shuangsuiji --help`` answers in well under half a second, because the
package face loads its modules lazily and the CLI imports the store, the registry and SciPy only
inside the commands that need them. Each figure is the fastest of several fresh interpreters,
measured in the same run as the baseline:

- ``python -c "import click"``: the floor any click program pays;
- ``shuangsuiji --help``: the CLI's start-up;
- ``python -c "import shuangsuiji.draw"``: the pure core (numpy and hashlib), which must not load
  SQLAlchemy or SciPy (the modules it loads are counted and listed if any heavy one appears).

    python benchmarks/bench_cli.py           # 15 runs each
    python benchmarks/bench_cli.py --quick   # 5 runs each

Exits 1 if ``--help`` costs more than 4x the bare ``import click`` (on an idle machine that is
well under half a second), or if the core loads a heavy module.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

BUDGET = 4.0
HEAVY = ("sqlalchemy", "alembic", "scipy")

CLICK = [sys.executable, "-c", "import click"]
HELP = [sys.executable, "-c", "from shuangsuiji.cli import main; main()", "--help"]
CORE = [sys.executable, "-c", "import shuangsuiji.draw"]
COUNT = (
    "import sys, json, shuangsuiji.draw; "
    "print(json.dumps([len(sys.modules), "
    f"sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})]))"
)


def best_of(repeats: int, command: list[str]) -> float:
    """The fastest of ``repeats`` runs of ``command`` in a fresh interpreter, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    """Run the benchmark and print absolute times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs each instead of 15")
    args = parser.parse_args()
    repeats = 5 if args.quick else 15

    best_of(1, HELP)  # warm the file cache and the bytecode before anything is timed
    bare = best_of(repeats, CLICK)
    cli = best_of(repeats, HELP)
    core = best_of(repeats, CORE)
    counted = subprocess.run(
        [sys.executable, "-c", COUNT], check=True, capture_output=True, text=True
    ).stdout
    modules, heavy = json.loads(counted)

    print(f"start-up, best of {repeats} fresh interpreters")
    print(f"  python -c 'import click'             {bare * 1e3:8.1f} ms")
    print(f"  shuangsuiji --help                   {cli * 1e3:8.1f} ms   ratio {cli / bare:.2f}x")
    print(f"  python -c 'import shuangsuiji.draw'  {core * 1e3:8.1f} ms   ratio {core / bare:.2f}x")
    families = sorted({m.split(".")[0] for m in heavy}) or "none"
    print(
        f"  import shuangsuiji.draw loads {modules} modules, {len(heavy)} of them from: {families}"
    )
    ok = cli / bare <= BUDGET and not heavy
    verdict = "within" if ok else "OVER"
    print(f"budget: --help <= {BUDGET:.0f}x bare click, core without {', '.join(HEAVY)}: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
