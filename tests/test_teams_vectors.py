"""The SSJ-ASSIGN-2 test vectors of ``docs/teams.md`` ("Test vectors"), re-derived.

The doctest in the doc prints the phases; here: every phase really ran, the flow phase is what a
textbook Dinic gives on the network the doc numbers by hand, the draw replays in a Python where
SciPy cannot be imported, and SSJ-ASSIGN-1 records still replay (with SciPy) or are refused
with a message saying why.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import subprocess
import sys
import textwrap
from datetime import date

import pytest

from shuangsuiji.assign import (
    Assignment,
    ConflictTable,
    Recusal,
    Staffing,
    TaskNeeds,
    TeamConfig,
    assign_teams,
    check_teams,
    reassign,
    trace_draw,
)
from shuangsuiji.errors import InvalidInputError
from shuangsuiji.pools import EntityPool, InspectorPool
from test_maxflow import textbook_dinic

CONFLICTS = [(1, 1), (1, 2), (2, 1), (2, 6), (3, 3), (4, 4), (5, 5), (6, 6)]
CONFLICTS += [(7, 1), (7, 2), (7, 5), (7, 6)]
KEY = hashlib.sha256(b"vector-98").digest()
FINAL = [("I4", "I6"), ("I2", "I5"), ("I1", "I5"), ("I3", "I7"), ("I3", "I6"), ("I1", "I4")]

HEADER = """
from datetime import date
from shuangsuiji.assign import ConflictTable, Staffing, TaskNeeds, TeamConfig
from shuangsuiji.pools import EntityPool, InspectorPool
"""


def vector_staffing() -> Staffing:
    """The staffing of the doc's vectors (written out again, not imported from the doc)."""
    ids_e, ids_i = [f"E{j}" for j in range(1, 7)], [f"I{i}" for i in range(1, 8)]
    entities = EntityPool.from_columns(
        ids=ids_e,
        names=ids_e,
        entity_type=["-"] * 6,
        industry=["F5191"] * 6,
        region=["350102001"] * 6,
        registered=[date(2020, 1, 1)] * 6,
        tier=["B"] * 6,
        status=["存续"] * 6,
        tags=[()] * 6,
    )
    officers = InspectorPool.from_columns(
        ids=ids_i,
        names=ids_i,
        department=["SCJG"] * 7,
        region=["350102"] * 7,
        home_region=[""] * 7,
        certificate_no=["-"] * 7,
        certificate_expiry=[date(2027, 1, 1)] * 7,
        qualifications=[()] * 7,
        active=[True] * 7,
    )
    rows = [(f"I{i}", f"E{e}", "近亲属任职", "本人申报") for i, e in CONFLICTS]
    return Staffing(
        entities,
        officers,
        TaskNeeds("VECTOR-1", ("SCJG",), date(2026, 6, 30)),
        TeamConfig(size=2, max_per_task=2),
        conflicts=ConflictTable.from_rows(rows),
    )


JOINT_KEY = hashlib.sha256(b"joint-3").digest()
JOINT_FINAL = [("A2", "B1"), ("A1", "B2"), ("A2", "B1"), ("A1", "B2")]


def joint_staffing() -> Staffing:
    """The joint vector of the doc: A1, A2 of SCJG and B1, B2 of WJW, 食品安全 held by A2
    and B2 (one in each department: the qualification crosses them), E1..E4, teams of 2,
    ``max_per_task = 2``, conflicts A1 x E3 and B1 x E4."""
    ids_e, ids_i = [f"E{j}" for j in range(1, 5)], ["A1", "A2", "B1", "B2"]
    entities = EntityPool.from_columns(
        ids=ids_e,
        names=ids_e,
        entity_type=["-"] * 4,
        industry=["F5191"] * 4,
        region=["350102001"] * 4,
        registered=[date(2020, 1, 1)] * 4,
        tier=["B"] * 4,
        status=["存续"] * 4,
        tags=[()] * 4,
    )
    officers = InspectorPool.from_columns(
        ids=ids_i,
        names=ids_i,
        department=["SCJG", "SCJG", "WJW", "WJW"],
        region=["350102"] * 4,
        home_region=[""] * 4,
        certificate_no=["-"] * 4,
        certificate_expiry=[date(2027, 1, 1)] * 4,
        qualifications=[(), ("食品安全",), (), ("食品安全",)],
        active=[True] * 4,
    )
    return Staffing(
        entities,
        officers,
        TaskNeeds("VECTOR-2", ("SCJG", "WJW"), date(2026, 6, 30), {"食品安全"}),
        TeamConfig(size=2, max_per_task=2),
        conflicts=ConflictTable.from_rows(
            [("A1", "E3", "近亲属任职", "本人申报"), ("B1", "E4", "近亲属任职", "本人申报")]
        ),
    )


def test_the_joint_vector_goes_through_the_flow_and_its_branch_and_bound() -> None:
    """64 rounds over a cap, a refill that leaves E1 with A1 alone, a flow that gives E1 A1 +
    B1 (both departments, no 食品安全), then E1 fixed to the vector B1-type + A2-type."""
    s = joint_staffing()
    drawn, phases = trace_draw(s, JOINT_KEY)
    by_name = {p.name: p for p in phases}
    assert [p.name for p in phases][64:] == ["drop", "refill", "flow", "smoothing"]
    assert by_name["refill"].teams == (("A1",), ("A2", "B2"), ("A2", "B1"), ("A1", "B2"))
    assert by_name["flow"].teams == tuple(JOINT_FINAL)
    assert by_name["flow"].detail == "ins_perm [3, 1, 0, 2], ent_perm [1, 3, 2, 0]"
    assert [t.inspector_ids for t in drawn.teams] == JOINT_FINAL
    assert drawn.stream.flow and drawn.stream.next_block == 276
    assert check_teams(s, drawn) == []


def test_the_vector_draw_goes_through_every_phase() -> None:
    s = vector_staffing()
    drawn, phases = trace_draw(s, KEY)
    names = [p.name for p in phases]
    assert names == [f"round {r}" for r in range(64)] + ["drop", "refill", "flow", "smoothing"]
    assert all("over their cap" in p.detail for p in phases[:64])
    by_name = {p.name: p for p in phases}
    assert by_name["drop"].detail == "4 slots dropped"
    assert by_name["refill"].detail == "2 places filled, 2 left"  # refill works, and falls short
    assert by_name["flow"].teams != by_name["refill"].teams
    assert by_name["smoothing"].teams != by_name["flow"].teams
    assert [t.inspector_ids for t in drawn.teams] == FINAL
    assert (
        drawn.stream.flow and drawn.stream.spec == "SSJ-ASSIGN-2" and not drawn.stream.scipy_version
    )
    assert check_teams(s, drawn) == []
    assert assign_teams(s, KEY) == drawn
    later = reassign(s, drawn, KEY, [Recusal("E4", "I7", "illness", "住院")])
    assert later.team_of("E4").inspector_ids == ("I2", "I3")
    assert check_teams(s, later) == []


def test_the_flow_phase_is_the_textbook_dinic_on_the_numbered_network() -> None:
    """The network of the doc, numbered by hand from its text: S = 0; groups 1..6 = E2, E4,
    E1, E6, E3, E5; hubs 7..12 in the same order; I6, I5, I4, I3, I1, I2, I7 = 13..19; T = 20.
    The kept members are the teams after the refill."""
    s = vector_staffing()
    _, phases = trace_draw(s, KEY)
    by_name = {p.name: p for p in phases}
    group = {"E2": 1, "E4": 2, "E1": 3, "E6": 4, "E3": 5, "E5": 6}
    officer = {"I6": 13, "I5": 14, "I4": 15, "I3": 16, "I1": 17, "I2": 18, "I7": 19}
    conflicts = {(f"I{i}", f"E{e}") for i, e in CONFLICTS}
    kept = dict(zip(group_order := sorted(group), by_name["refill"].teams, strict=True))
    cap: dict[tuple[int, int], int] = {}
    flow: dict[tuple[int, int], int] = {}
    for e, g in group.items():
        hub = g + 6
        cap[(0, hub)] = cap[(hub, g)] = 2
        flow[(0, hub)] = flow[(hub, g)] = len(kept[e])
        for i, node in officer.items():
            if (i, e) not in conflicts:
                cap[(g, node)] = 1
                flow[(g, node)] = int(i in kept[e])
    for i, node in officer.items():
        cap[(node, 20)] = 2
        flow[(node, 20)] = sum(i in kept[e] for e in group)
    final = textbook_dinic(21, cap, flow)
    name_of = {node: i for i, node in officer.items()}
    teams = [
        tuple(
            sorted(
                name_of[v] for (u, v), f in final.items() if u == group[e] and f and v in name_of
            )
        )
        for e in group_order
    ]
    assert teams == list(by_name["flow"].teams)
    assert by_name["flow"].detail.startswith(
        "ins_perm [4, 5, 3, 2, 1, 0, 6], ent_perm [1, 3, 0, 5, 2, 4]"
    )


def _run_without_scipy(body: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a fresh Python in which ``import scipy`` fails."""
    code = "import sys\nsys.modules['scipy'] = None\n" + HEADER + f"CONFLICTS = {CONFLICTS!r}\n"
    code += inspect.getsource(vector_staffing) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )


def test_a_draw_that_used_the_flow_replays_without_scipy() -> None:
    out = _run_without_scipy(
        """
        import hashlib, json
        from shuangsuiji.assign import assign_teams
        a = assign_teams(vector_staffing(), hashlib.sha256(b"vector-98").digest())
        print(json.dumps([a.stream.flow, [list(t.inspector_ids) for t in a.teams]]))
        print(any(m == "scipy" or m.startswith("scipy.") for m in sys.modules if sys.modules[m]))
        """
    )
    assert out.returncode == 0, out.stderr
    used_flow, teams = json.loads(out.stdout.splitlines()[0])
    assert used_flow and [tuple(t) for t in teams] == FINAL
    assert out.stdout.splitlines()[1] == "False"


def test_an_old_record_that_used_scipy_replays_with_it_or_is_refused_clearly() -> None:
    s = vector_staffing()
    old = assign_teams(s, KEY, spec="SSJ-ASSIGN-1")
    assert old.stream.spec == "SSJ-ASSIGN-1" and old.stream.flow and old.stream.scipy_version
    data = json.loads(json.dumps(old.to_dict()))
    assert data["spec"] == "SSJ-ASSIGN-1"
    record = Assignment.from_dict(data)
    assert assign_teams(s, KEY, spec=record.stream.spec) == old
    out = _run_without_scipy(
        """
        import hashlib
        from shuangsuiji.assign import assign_teams
        try:
            assign_teams(vector_staffing(), hashlib.sha256(b"vector-98").digest(),
                         spec="SSJ-ASSIGN-1")
        except ValueError as exc:
            print(exc)
        """
    )
    assert out.returncode == 0, out.stderr
    assert "install" in out.stdout and "SSJ-ASSIGN-2 draws do not need SciPy" in out.stdout
    with pytest.raises(InvalidInputError, match="unknown team-assignment algorithm"):
        assign_teams(s, KEY, spec="SSJ-ASSIGN-9")
    with pytest.raises(InvalidInputError, match="SSJ-ASSIGN-9"):
        Assignment.from_dict({**data, "spec": "SSJ-ASSIGN-9"})


def test_an_old_record_that_did_not_reach_the_flow_is_the_same_draw() -> None:
    """The stream and every phase but the flow are unchanged: SSJ-ASSIGN-1 = SSJ-ASSIGN-2 there."""
    s = vector_staffing()
    for j in range(6):
        key = hashlib.sha256(f"vector-{j}".encode()).digest()
        new, old = assign_teams(s, key), assign_teams(s, key, spec="SSJ-ASSIGN-1")
        if not new.stream.flow:
            assert new.teams == old.teams and old.stream.scipy_version == ""
