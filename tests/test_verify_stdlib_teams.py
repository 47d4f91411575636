"""docs/verify_stdlib.py replays SSJ-ASSIGN-2 team draws (flow phase included) with the
standard library alone: the vectors of docs/teams.md in a Python that cannot import SciPy (or
numpy), random single-kind staffings against the library, many through the flow phase, and
random joint and qualification staffings (officer types, requirement groups, the
branch-and-bound where requirements cross), refusals included."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import subprocess
import sys
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shuangsuiji.assign import ConflictTable, Staffing, TaskNeeds, TeamConfig, assign_teams
from shuangsuiji.pools import EntityPool, InspectorPool
from test_pairs import ON, Small
from test_teams_vectors import JOINT_FINAL, JOINT_KEY, joint_staffing, vector_staffing

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
# docs/teams.md, "Test vector: a joint task through the branch-and-bound"
JOINT_VECTOR: dict[str, Any] = {
    "key": JOINT_KEY.hex(),
    "size": 2,
    "eligible": {
        "E1": ["A1", "A2", "B1", "B2"],
        "E2": ["A1", "A2", "B1", "B2"],
        "E3": ["A2", "B1", "B2"],
        "E4": ["A1", "A2", "B2"],
    },
    "caps": {"A1": 2, "A2": 2, "B1": 2, "B2": 2},
    "requirements": ["SCJG", "WJW", "食品安全"],
    "meets": {"A1": ["SCJG"], "A2": ["SCJG", "食品安全"], "B1": ["WJW"], "B2": ["WJW", "食品安全"]},
    "teams": {f"E{j}": list(t) for j, t in enumerate(JOINT_FINAL, start=1)},
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
    path.write_text(json.dumps(problem, ensure_ascii=False), encoding="utf-8")
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
    """The staffing as the verifier's input: eligibility and caps as the library derives them,
    and the requirements each officer meets (the departments of a joint task, in task order,
    then the qualifications a member must bring, sorted)."""
    canon = staffing.canonical()
    elig = canon.eligibility()
    needs, pool = canon.needs, canon.inspectors
    ents, offs = canon.entities.id_list(), pool.id_list()
    rows = elig.candidates.tolist()
    cols = [offs[r] for r in rows]
    held = [(d, pool.in_departments([d])) for d in needs.departments if needs.joint]
    if staffing.config.qualification_mode == "any_member":
        held += [(q, pool.holding(q)) for q in sorted(needs.qualifications)]
    out = {
        "key": key.hex(),
        "size": staffing.config.size,
        "eligible": {
            e: [c for c, ok in zip(cols, row, strict=True) if ok]
            for e, row in zip(ents, elig.matrix.tolist(), strict=True)
        },
        "caps": dict(zip(cols, elig.capacity.tolist(), strict=True)),
    }
    if held:
        out["requirements"] = [name for name, _ in held]
        out["meets"] = {offs[r]: [name for name, m in held if m[r]] for r in rows}
    return out


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


def test_the_joint_vector_replays_without_numpy_or_scipy(tmp_path: Path) -> None:
    assert _problem(joint_staffing(), JOINT_KEY) | {"teams": JOINT_VECTOR["teams"]} == JOINT_VECTOR
    ok = _run(JOINT_VECTOR, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: the teams re-derive" in ok.stdout
    swapped = dict(JOINT_VECTOR, teams=dict(JOINT_VECTOR["teams"], E1=["A2", "B2"]))
    bad = _run(swapped, tmp_path)
    assert bad.returncode == 1 and "FAILED: teams of ['E1']" in bad.stdout
    # without its requirements it is a single-kind draw, which gives other teams (E1 = A1+A2)
    plain = {k: v for k, v in JOINT_VECTOR.items() if k not in ("requirements", "meets")}
    other = _run(plain, tmp_path)
    assert other.returncode == 1 and "FAILED: teams of ['E1', 'E2', 'E3', 'E4']" in other.stdout


@attrs.frozen
class Typed:
    """A small staffing with officer types: (ID, department, qualifications) per officer, the
    task's departments (two or more: a joint task) and qualifications, and per-officer caps
    (``max_per_period`` 3 minus a prior load) or one ``max_per_task``."""

    officers: tuple[tuple[str, str, tuple[str, ...]], ...]
    entities: tuple[str, ...]
    conflicts: tuple[tuple[str, str], ...]
    departments: tuple[str, ...]
    qualifications: tuple[str, ...]
    k: int
    max_per_task: int
    prior: tuple[tuple[str, int], ...] = ()

    def staffing(self) -> Staffing:
        n, m = len(self.entities), len(self.officers)
        ents = EntityPool.from_columns(
            ids=list(self.entities), names=["某某公司"] * n, entity_type=["有限责任公司"] * n,
            industry=["F5191"] * n, region=["350102001"] * n, registered=[ON] * n,
            tier=["B"] * n, status=["存续"] * n, tags=[()] * n,
        )  # fmt: skip
        ins = InspectorPool.from_columns(
            ids=[o[0] for o in self.officers], names=["检查员"] * m,
            department=[o[1] for o in self.officers], region=["350102"] * m,
            home_region=[""] * m, certificate_no=["闽执0001"] * m,
            certificate_expiry=[date(2030, 1, 1)] * m,
            qualifications=[frozenset(o[2]) for o in self.officers], active=[True] * m,
        )  # fmt: skip
        config = TeamConfig(size=self.k, max_per_task=self.max_per_task, rotation_days=0,
                            max_per_period=3 if self.prior else 0)  # fmt: skip
        rows = [(o, e, "近亲属任职", "本人申报") for o, e in self.conflicts]
        return Staffing(
            ents,
            ins,
            TaskNeeds("T-TYPED", self.departments, ON, frozenset(self.qualifications)),
            config,
            conflicts=ConflictTable.from_rows(rows),
            prior_load=dict(self.prior),
        )


def typed_case(rng: random.Random) -> Typed:
    """A random joint or qualification staffing, with caps near the places needed (so that
    many draws repair); one whose requirement alone has too few places is made again: when
    that requirement crosses the departments the flow relaxation does not see it, and the
    branch-and-bound (the library's and the verifier's alike) may search for minutes over the
    entities' vectors before it refuses."""
    while True:
        departments = rng.choice([("SCJG", "WJW"), ("SCJG", "WJW"), ("SCJG",)])
        qualifications = rng.choice([(), ("食品安全",), ("食品安全",), ("药品", "食品安全")])
        if departments == ("SCJG",) and not qualifications:
            continue
        officers = tuple(
            (f"I{j}", rng.choice([*departments, "SCJG"]),
             tuple(q for q in ("食品安全", "药品") if rng.random() < 0.5))
            for j in range(rng.randint(4, 8))
        )  # fmt: skip
        entities = tuple(f"E{j}" for j in range(rng.randint(2, 6)))
        pairs = [(o[0], e) for o in officers for e in entities]
        conflicts = tuple(sorted(rng.sample(pairs, rng.randint(0, len(pairs) // 8))))
        k = rng.choice([2, 2, 3])
        caps = [1] * len(officers)
        while sum(caps) < len(entities) * k + rng.choice([0, 0, 1, 2]) and min(caps) < 3:
            j = rng.randrange(len(officers))
            caps[j] = min(3, caps[j] + 1)
        prior = tuple((o[0], 3 - c) for o, c in zip(officers, caps, strict=True))
        tight = -(-len(entities) * k // len(officers))
        case = Typed(officers, entities, conflicts, departments, qualifications, k,
                     0 if rng.random() < 0.7 else rng.choice([tight, tight + 1]),
                     prior if rng.random() < 0.7 else ())  # fmt: skip
        cap = {o: c for o, c in zip([o[0] for o in officers], caps, strict=True)}
        room = {o[0]: min(cap[o[0]] if case.prior else case.max_per_task or 99, len(entities))
                for o in officers}  # fmt: skip
        needs = [lambda o, d=d: o[1] == d for d in departments if len(departments) > 1]
        needs += [lambda o, q=q: q in o[2] for q in qualifications]
        if all(sum(room[o[0]] for o in officers if meets(o)) >= len(entities) for meets in needs):
            return case


def _typed_same(verifier: ModuleType, seed: int) -> str:
    """Replay one random typed staffing both ways: the same teams, or both refuse. Returns
    "refused", "accepted", "flow" or "branch" (the flow phase solved more than one network)."""
    rng = random.Random(seed)
    staffing, key = typed_case(rng).staffing(), rng.randbytes(32)
    solved = 0
    solve_flow = verifier.solve_flow

    def counted(*args: Any) -> Any:
        nonlocal solved
        solved += 1
        return solve_flow(*args)

    verifier.solve_flow = counted
    try:
        drawn = assign_teams(staffing, key)
    except ValueError:
        with pytest.raises(ValueError, match="no assignment exists"):
            verifier.replay_teams(_problem(staffing, key))
        return "refused"
    finally:
        verifier.solve_flow = solve_flow
    verifier.solve_flow = counted
    try:
        replayed = verifier.replay_teams(_problem(staffing, key))
    finally:
        verifier.solve_flow = solve_flow
    assert replayed == {t.entity_id: list(t.inspector_ids) for t in drawn.teams}, seed
    return "branch" if solved > 1 else "flow" if drawn.stream.flow else "accepted"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_random_joint_and_qualification_staffings_replay_exactly(seed: int) -> None:
    _typed_same(_verifier(), seed)


def test_the_random_typed_staffings_reach_the_flow_the_branch_and_bound_and_refusals() -> None:
    verifier = _verifier()
    seen = [_typed_same(verifier, seed) for seed in range(300)]
    assert seen.count("refused") >= 10 and seen.count("accepted") >= 50
    assert seen.count("flow") + seen.count("branch") >= 12 and seen.count("branch") >= 4
