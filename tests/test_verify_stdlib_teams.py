"""docs/verify_stdlib.py replays SSJ-ASSIGN-2 team draws (flow phase included) with the
standard library alone: the vectors of docs/teams.md in a Python that cannot import SciPy (or
numpy), and random single-kind staffings against the library, many through the flow phase."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from shuangsuiji.assign import Staffing, assign_teams
from test_pairs import Small
from test_teams_vectors import vector_staffing

VERIFIER = Path(__file__).resolve().parents[1] / "docs" / "verify_stdlib.py"
CONFLICTS = {(1, 1), (1, 2), (2, 1), (2, 6), (3, 3), (4, 4), (5, 5), (6, 6)}
CONFLICTS |= {(7, 1), (7, 2), (7, 5), (7, 6)}
VECTOR: dict[str, Any] = {
    "key": hashlib.sha256(b"vector-98").hexdigest(),
    "size": 2,
    "eligible": {
        f"E{e}": [f"I{i}" for i in range(1, 8) if (i, e) not in CONFLICTS] for e in range(1, 7)
    },
    "caps": {f"I{i}": 2 for i in range(1, 8)},
    # docs/teams.md, "Test vectors": after the flow phase and 88 smoothing steps
    "teams": {
        "E1": ["I4", "I6"],
        "E2": ["I2", "I5"],
        "E3": ["I1", "I5"],
        "E4": ["I3", "I7"],
        "E5": ["I3", "I6"],
        "E6": ["I1", "I4"],
    },
}
NO_SCIPY = """
import runpy, sys
sys.modules["scipy"] = None   # any import of scipy now fails
sys.modules["numpy"] = None
sys.argv = ["verify_stdlib.py", "--teams", sys.argv[1]]
try:
    runpy.run_path({path!r}, run_name="__main__")
finally:
    assert "scipy" not in sys.modules or sys.modules["scipy"] is None
"""


def _verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_stdlib", VERIFIER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(problem: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(problem), encoding="utf-8")
    code = NO_SCIPY.format(path=str(VERIFIER))
    return subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False
    )


def test_the_docs_vector_replays_without_scipy_through_the_flow_phase(tmp_path: Path) -> None:
    ok = _run(VECTOR, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: the teams re-derive" in ok.stdout
    swapped = dict(VECTOR, teams=dict(VECTOR["teams"], E4=["I2", "I3"]))
    bad = _run(swapped, tmp_path)
    assert bad.returncode == 1 and "FAILED: teams of ['E4']" in bad.stdout


def _problem(staffing: Staffing, key: bytes) -> dict[str, Any]:
    """The staffing as the verifier's input: eligibility and caps as the library derives them."""
    canon = staffing.canonical()
    elig = canon.eligibility()
    ents, offs = canon.entities.id_list(), canon.inspectors.id_list()
    cols = [offs[r] for r in elig.candidates.tolist()]
    return {
        "key": key.hex(),
        "size": staffing.config.size,
        "eligible": {
            e: [c for c, ok in zip(cols, row, strict=True) if ok]
            for e, row in zip(ents, elig.matrix.tolist(), strict=True)
        },
        "caps": dict(zip(cols, elig.capacity.tolist(), strict=True)),
    }


def _same(verifier: ModuleType, staffing: Staffing, key: bytes) -> bool | None:
    """Replay ``key`` both ways; None when the library refuses the staffing, else whether
    the draw reached the flow phase (the teams must agree either way)."""
    try:
        drawn = assign_teams(staffing, key)
    except ValueError:  # infeasible, or an entity without any team: nothing to replay
        return None
    replayed = verifier.replay_teams(_problem(staffing, key))
    assert replayed == {t.entity_id: list(t.inspector_ids) for t in drawn.teams}, key.hex()
    return drawn.stream.flow


def test_random_staffings_replay_exactly() -> None:
    verifier, rng, checked = _verifier(), random.Random(17), 0
    while checked < 150:
        officers = tuple(f"I{i}" for i in range(rng.randint(4, 8)))
        entities = tuple(f"E{j}" for j in range(rng.randint(2, 6)))
        pairs = [(o, e) for o in officers for e in entities]
        conflicts = frozenset(rng.sample(pairs, rng.randint(0, len(pairs) // 3)))
        tight = -(-len(entities) * 2 // len(officers))
        case = Small(officers, entities, conflicts, None, 2, rng.choice([0, tight, tight + 1]))
        key = hashlib.sha256(f"stdlib/{checked}/{rng.random()}".encode()).digest()
        checked += _same(verifier, case.staffing(), key) is not None


def test_draws_through_the_flow_phase_replay_exactly() -> None:
    """The vectors' staffing rarely accepts a proposal: 6 of these 300 keys need the flow."""
    verifier, staffing = _verifier(), vector_staffing()
    ran = [
        _same(verifier, staffing, hashlib.sha256(f"flow/{i}".encode()).digest()) for i in range(300)
    ]
    assert sum(bool(r) for r in ran) >= 5


def test_the_verifier_still_refuses_a_problem_no_assignment_fits() -> None:
    problem = dict(VECTOR, caps={f"I{i}": 1 for i in range(1, 8)})  # 7 places for 12 slots
    with pytest.raises(ValueError, match="no assignment exists"):
        _verifier().replay_teams(problem)
