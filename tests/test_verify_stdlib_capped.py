"""docs/verify_stdlib.py --capped replays SSJ-ASSIGN-CAP-1 draws with the standard library alone,
written from docs/capped.md: the vector of that page in a Python that cannot import numpy or
SciPy, and random staffings (single and joint tasks) against the library, refusals included."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shuangsuiji.assign import Staffing, assign_teams
from shuangsuiji.assign._instance import build_instance
from shuangsuiji.assign.capped import CAP_ALGORITHM, CappedLaw, law_for
from test_capped import VECTOR, VECTOR_KEY, joint_cases, small_cases
from test_verify_stdlib_teams import NO_SCIPY, _verifier

VERIFY = _verifier()


def capped_problem(staffing: Staffing, key: bytes, cap: float) -> dict[str, Any]:
    """What an auditor gives the stdlib verifier: the eligibility the annex decides, each
    officer's workload left and the requirements it meets (no library types or numbering)."""
    canon = staffing.canonical()
    inst = build_instance(canon.eligibility())
    names = canon.inspectors.id_list()
    col = [names[int(r)] for r in inst.col_row]
    ents = canon.entities.id_list()
    eligible = {
        ents[e]: sorted((col[c] for c in range(len(col)) if inst.E[e, c]), key=str.encode)
        for e in range(inst.n_e)
    }
    meets = {
        col[c]: [
            name
            for j, name in enumerate(inst.requirements)
            if inst.type_masks[int(inst.col_type[c])] >> j & 1
        ]
        for c in range(len(col))
    }
    return {
        "key": key.hex(),
        "size": inst.k,
        "cap": cap,
        "eligible": eligible,
        "caps": {col[c]: int(inst.cap[c]) for c in range(len(col))},
        "requirements": list(inst.requirements),
        "meets": meets,
    }


def _run(problem: dict[str, Any], tmp: Path) -> subprocess.CompletedProcess[str]:
    path = tmp / "capped.json"
    path.write_text(json.dumps(problem, ensure_ascii=False), encoding="utf-8")
    script = NO_SCIPY.format(path=str(Path(VERIFY.__file__))).replace('"--teams"', '"--capped"')
    return subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=False
    )


def test_the_vector_of_docs_capped_md_replays_without_numpy_or_scipy(tmp_path: Path) -> None:
    problem = capped_problem(VECTOR.staffing(), VECTOR_KEY, 0.5)
    problem["teams"] = {"E1": ["A", "E"], "E2": ["B", "G"], "E3": ["C", "F"]}
    done = _run(problem, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: the teams re-derive" in done.stdout
    problem["teams"]["E1"] = ["A", "D"]
    done = _run(problem, tmp_path)
    assert done.returncode == 1 and "teams of ['E1']" in done.stdout


def _agree(staffing: Staffing, cap: float, seed: int) -> None:
    key = hashlib.sha256(f"stdlib-capped/{seed}".encode()).digest()
    try:
        law = law_for(staffing, cap)
    except ValueError:
        return  # not staffable at all: SSJ-ASSIGN-2's refusal, not this law's
    problem = capped_problem(staffing, key, cap)
    if not isinstance(law, CappedLaw):
        try:
            VERIFY.replay_capped(problem)
        except ValueError:
            return
        raise AssertionError(f"the stdlib replay accepted a law the library refuses: {law}")
    drawn = assign_teams(staffing, key, spec=CAP_ALGORITHM, pair_cap=cap)
    replayed = VERIFY.replay_capped(problem)
    assert replayed == {t.entity_id: list(t.inspector_ids) for t in drawn.teams}


@settings(max_examples=60, deadline=None)
@given(case=small_cases, cap=st.sampled_from([0.4, 0.5, 0.75, 1.0]), seed=st.integers(0, 10**6))
def test_single_tasks_replay_as_the_library_draws_them(case: Any, cap: float, seed: int) -> None:
    if case.oracle_counts():
        _agree(case.staffing(), cap, seed)


@settings(max_examples=40, deadline=None)
@given(case=joint_cases, cap=st.sampled_from([0.5, 0.75, 1.0]), seed=st.integers(0, 10**6))
def test_joint_tasks_replay_as_the_library_draws_them(case: Any, cap: float, seed: int) -> None:
    if case.assignments():
        _agree(case.staffing(), cap, seed)
