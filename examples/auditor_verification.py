"""An auditor re-derives a draw from its published bundle — twice, independently.

    python examples/auditor_verification.py [BUNDLE.json]

Without an argument it first makes a bundle (as the quick start does). Then it checks the
bundle with the library (`verify_bundle`) and with the 40-line standard-library verifier in
``docs/verify_stdlib.py`` that implements SSJ-DRAW-1 from the spec alone, and shows that a
single changed byte — one swapped entity — is caught by both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from shuangsuiji.bundle import verify_bundle
from shuangsuiji.health import StratumTickets, ticket_uniformity
from shuangsuiji.model import Plan, Task
from shuangsuiji.registry import Registry
from shuangsuiji.synth import make_city

STDLIB_VERIFIER = Path(__file__).resolve().parent.parent / "docs" / "verify_stdlib.py"


def make_bundle_file(folder: Path) -> Path:
    registry = Registry.open(f"sqlite:///{folder / 'agency.db'}")
    registry.setup_city(make_city(3_000, seed=9), actor="管理员")
    registry.store.put_plan(Plan("P", 2026, "计划", ("SCJG",)), actor="管理员")
    registry.store.put_task(
        Task(
            "T-audit",
            "P",
            "公示信息抽查",
            ("SCJG",),
            ("SCJG-01",),
            date(2026, 7, 1),
            date(2026, 9, 30),
        ),
        actor="管理员",
    )
    registry.draw("T-audit", actor="抽取人")
    return registry.export_bundle("T-audit", folder / "draw-T-audit.json")


def stdlib_verdict(path: Path) -> int:
    return subprocess.call(
        [sys.executable, str(STDLIB_VERIFIER), str(path)], stdout=subprocess.DEVNULL
    )


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="ssj-audit-"))
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else make_bundle_file(folder)
    bundle = json.loads(path.read_text(encoding="utf-8"))
    library = verify_bundle(bundle)
    print(f"library verifier:  {library}")
    print(f"stdlib verifier:   exit {stdlib_verdict(path)} (0 = re-derived exactly)")
    # Beyond re-deriving: are the recorded tickets the smallest of N uniform SHA-256 tickets?
    # (A period's bundles together: shuangsuiji.health.draw_health, or `shuangsuiji health`.)
    tickets = ticket_uniformity(StratumTickets.from_bundle(bundle))
    print(f"ticket test:       KS p = {tickets.p_value:.2f} ({tickets.detail})")

    forged = dict(bundle)
    forged["selected"] = [dict(p) for p in bundle["selected"]]
    forged["selected"][0]["id"] = bundle["alternates"][0]["id"]  # someone swaps one entity
    forged_path = folder / "forged.json"
    forged_path.write_text(json.dumps(forged, ensure_ascii=False), encoding="utf-8")
    caught = verify_bundle(forged)
    print(
        f"forged bundle:     library finds {len(caught.problems)} problem(s), first: "
        f"{caught.problems[0] if caught.problems else '-'}"
    )
    print(f"                   stdlib verifier exit {stdlib_verdict(forged_path)}")
    if not library.ok or caught.ok or stdlib_verdict(forged_path) == 0:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
