"""Approvals: a second person's consent, recorded as its own row and moved only forward.

Every store test runs on SQLite and on PostgreSQL (``db_url``).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.exc import IntegrityError

from shuangsuiji.model import Plan, Task
from shuangsuiji.registry import Registry
from shuangsuiji.store import Store
from shuangsuiji.store.approvals import add_request, approval_rows, get_request, set_state
from shuangsuiji.synth import make_city

CITY = make_city(200, seed=9)
ADMIN = "管理员"
DRAWER = "抽取人-李"
APPROVER = "科长-王"
T1 = Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",), date(2026, 7, 1), date(2026, 9, 30))


def _store(url: str) -> Store:
    reg = Registry(Store.open(url))
    reg.setup_city(CITY, actor=ADMIN)
    reg.store.put_plan(Plan("P", 2026, "计划", ("SCJG", "WJW")), actor=ADMIN)
    reg.store.put_task(T1, actor=ADMIN)
    return reg.store


def _request(store: Store, request_id: str = "A1") -> None:
    with store.transaction() as s:
        add_request(
            s,
            request_id=request_id,
            task="T1",
            kind="redraw",
            reason="system_failure",
            text="抽取记录未打印",
            actor=DRAWER,
            time="2026-07-01T09:00:00Z",
        )


def test_a_request_is_stored_as_requested_and_listed_by_task(db_url: str) -> None:
    store = _store(db_url)
    _request(store)
    with store.reading() as s:
        row = get_request(s, "A1")
        assert row is not None
        assert (row.state, row.requested_by, row.granted_by) == ("requested", DRAWER, None)
        assert [r.id for r in approval_rows(s, "T1")] == ["A1"]
        assert approval_rows(s, "T2") == [] and get_request(s, "A9") is None


def test_a_grant_then_a_use_move_forward_and_each_happens_once(db_url: str) -> None:
    store = _store(db_url)
    _request(store)
    t = "2026-07-01T10:00:00Z"
    with store.transaction() as s:
        assert set_state(
            s, "A1", from_state="requested", to_state="granted", time=t, granted_by=APPROVER
        )
    with store.transaction() as s:  # a second grant finds it granted already: nothing changes
        assert not set_state(
            s, "A1", from_state="requested", to_state="granted", time=t, granted_by="x"
        )
    with store.transaction() as s:
        assert set_state(s, "A1", from_state="granted", to_state="used", time=t)
    with store.transaction() as s:  # a second use of one grant is refused by the row itself
        assert not set_state(s, "A1", from_state="granted", to_state="used", time=t)
    with store.reading() as s:
        row = get_request(s, "A1")
        assert row is not None
        assert (row.state, row.granted_by, row.granted_at, row.closed_at) == (
            "used",
            APPROVER,
            t,
            t,
        )


def test_a_grant_without_the_granting_person_is_a_programming_error(db_url: str) -> None:
    store = _store(db_url)
    _request(store)
    with pytest.raises(ValueError), store.transaction() as s:
        set_state(s, "A1", from_state="requested", to_state="granted", time="t")


def test_a_request_id_is_stored_once(db_url: str) -> None:
    store = _store(db_url)
    _request(store)
    with pytest.raises(IntegrityError):
        _request(store)
    with store.reading() as s:
        assert len(approval_rows(s)) == 1


# -- the registry: request, grant, use ---------------------------------------------------

WHY = {"reason": "system_failure", "text": "抽取记录未打印，经批准重新抽取"}


def _drawn(url: str) -> Registry:
    reg = Registry(_store(url))
    reg.draw("T1", actor=DRAWER)
    return reg


def _state(reg: Registry) -> tuple[list[tuple[str, str]], int]:
    """The approvals (id, state) and the length of the audit log."""
    rows = [(r.id, r.state) for r in reg.approvals()]
    return rows, len(reg.store.audit_events())


def _granted(reg: Registry, kind: str = "redraw", reason: str = "system_failure") -> str:
    rid = reg.request_approval("T1", kind, reason=reason, text=WHY["text"], actor=DRAWER)
    reg.approve(rid, actor=APPROVER)
    return rid


def test_a_redraw_backed_by_a_granted_approval_records_the_approver_and_uses_it(
    db_url: str,
) -> None:
    reg = _drawn(db_url)
    rid = _granted(reg)
    result = reg.draw("T1", actor=DRAWER, approval=rid, **WHY)
    assert result.attempt == 2
    assert [(r.id, r.state, r.granted_by) for r in reg.approvals("T1")] == [(rid, "used", APPROVER)]
    kinds = [e.kind for e in reg.store.audit_events()]
    assert kinds.index("approval.request") < kinds.index("approval.grant") < len(kinds) - 1
    freeze = [e for e in reg.store.audit_events() if e.kind == "candidates.freeze"][-1]
    assert freeze.payload["approval"] == rid and freeze.payload["approved_by"] == APPROVER
    assert reg.store.verify_log() == [] and reg.verify_records() == []


@pytest.mark.parametrize(
    "case",
    [
        "self_grant",
        "wrong_kind",
        "wrong_reason",
        "reused",
        "withdrawn",
        "not_granted",
        "actor_is_approver",
    ],
)
def test_every_refused_approval_leaves_the_store_and_the_log_unchanged(
    db_url: str, case: str
) -> None:
    from shuangsuiji.registry import DrawRefused

    reg = _drawn(db_url)
    if case == "self_grant":
        rid = reg.request_approval("T1", "redraw", actor=DRAWER, **WHY)
        before = _state(reg)
        with pytest.raises(DrawRefused, match="may not grant"):
            reg.approve(rid, actor=DRAWER)
        assert _state(reg) == before
        return
    if case == "reused":
        rid = _granted(reg)
        reg.draw("T1", actor=DRAWER, approval=rid, **WHY)
    elif case == "withdrawn":
        rid = _granted(reg)
        reg.withdraw(rid, actor=DRAWER)
    elif case == "not_granted":
        rid = reg.request_approval("T1", "redraw", actor=DRAWER, **WHY)
    else:
        rid = _granted(
            reg,
            kind="abandon" if case == "wrong_kind" else "redraw",
            reason="pool_data_error" if case == "wrong_reason" else "system_failure",
        )
    actor = APPROVER if case == "actor_is_approver" else DRAWER
    before = _state(reg)
    with pytest.raises(DrawRefused, match=rid):
        reg.freeze("T1", actor=actor, approval=rid, **WHY)
    assert _state(reg) == before


def test_an_abandon_backed_by_an_approval_uses_it(db_url: str) -> None:
    reg = _drawn(db_url)
    rid = _granted(reg)
    reg.freeze("T1", actor=DRAWER, approval=rid, **WHY)
    gone = _granted(reg, kind="abandon")
    reg.abandon("T1", actor=DRAWER, approval=gone, reason=WHY["reason"], text="种子方未揭示")
    assert {r.id: r.state for r in reg.approvals()} == {rid: "used", gone: "used"}
    event = reg.store.audit_events()[-1]
    assert (event.kind, event.payload["approval"], event.payload["approved_by"]) == (
        "draw.abandon",
        gone,
        APPROVER,
    )
