"""Integrity: what was drawn, committed and logged cannot be changed unseen.

A draw is not re-run silently; a committed seed cannot be swapped (a mismatching reveal, a
second commitment by the same party, a late commitment are all refused and change nothing);
audit rows cannot be updated or deleted through the library (ORM objects or bulk statements)
nor around it (the database triggers of migration 0002: UPDATE/DELETE on both engines,
TRUNCATE on PostgreSQL); rows forged around the library break the chain; and a seed swapped in
the draws table shows against the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from reliability import ssj_reliability as rel
from shuangsuiji.audit import canonical_json, next_event
from shuangsuiji.bundle import verify_bundle
from shuangsuiji.registry import DrawRefused, Registry
from shuangsuiji.seeds import (
    DuplicatePartyError,
    RevealMismatchError,
    combine_contributions,
    party_commitment,
)
from shuangsuiji.store import Store, StoreError
from shuangsuiji.store.schema import AuditEventRow, DrawRow

DRAWER = "抽取人"
REASON = "上次抽取结果未按规定公示，经局务会批准重新抽取"


@pytest.fixture
def reg(db_url: str) -> Iterator[Registry]:
    rel.prepare(db_url, entities=500, tasks=["T1", "T2"])
    registry = Registry(Store.open(db_url, upgrade=False))
    yield registry
    registry.store.engine.dispose()


def _unchanged_but_for_error_events(reg: Registry, before: dict[str, Any], n: int) -> bool:
    """The store is as ``before`` but for ``n`` new draw.error events (refused draw() calls)."""
    counts = dict(rel.snapshot(reg.store)["counts"])
    events = reg.store.audit_events()
    counts["audit_events"] -= n
    errors = all(e.kind == "draw.error" for e in events[len(events) - n :])
    return counts == before["counts"] and errors


def test_a_draw_cannot_be_rerun_silently(reg: Registry) -> None:
    first = reg.draw("T1", actor=DRAWER)
    before = rel.snapshot(reg.store)
    for reason in ("", "   ", "\t\n"):
        with pytest.raises(DrawRefused, match="needs a recorded reason"):
            reg.draw("T1", actor=DRAWER, reason=reason)
        with pytest.raises(DrawRefused, match="needs a recorded reason"):
            reg.freeze("T1", actor=DRAWER, reason=reason)
    # Each refused draw() is on record as a draw.error event, and nothing else changed.
    assert _unchanged_but_for_error_events(reg, before, 3)
    with pytest.raises(DrawRefused, match="second person"):
        reg.draw("T1", actor=DRAWER, reason="system_failure", text=REASON, approved_by=DRAWER)
    assert _unchanged_but_for_error_events(reg, before, 4)
    second = reg.draw(
        "T1", actor=DRAWER, reason="system_failure", text=REASON, approved_by="科长-王"
    )
    assert second.attempt == 2
    assert reg.bundle("T1", attempt=1) == first.bundle and verify_bundle(first.bundle).ok
    assert [d["attempt"] for d in reg.draws("T1")] == [1, 2]
    last = reg.store.audit_events()[-1]
    assert last.kind == "redraw" and last.payload["reason"] == "system_failure"
    assert last.payload["reason_text"] == REASON and last.payload["approved_by"] == "科长-王"
    assert last.payload["previous_attempt"] == 1
    assert rel.check_draws(reg.store) == [] and reg.store.verify_log() == []


def test_a_committed_seed_cannot_be_swapped(reg: Registry) -> None:
    frozen = reg.freeze("T1", actor=DRAWER)
    values = {"市场监管局": b"\x11" * 32, "纪检监察组": b"\x22" * 32}
    commitments = {p: party_commitment("T1", frozen.digest, p, v) for p, v in values.items()}
    for party, digest in commitments.items():
        reg.commit_seed("T1", party, digest, actor=party)
    # A second commitment by the same party: the first one stands.
    with pytest.raises(DuplicatePartyError):
        reg.commit_seed("T1", "市场监管局", "ab" * 32, actor="x")
    reg.announce("T1", actor=DRAWER)
    before = rel.snapshot(reg.store)
    refused = [
        # No commitment at all once the announcement is out.
        (DrawRefused, lambda: reg.commit_seed("T1", "第三方", "ab" * 32, actor="x")),
        # A reveal that does not match its commitment.
        (RevealMismatchError, lambda: reg.reveal_seed("T1", "市场监管局", b"\x33" * 32, actor="x")),
        # Another party's contribution does not pass either.
        (RevealMismatchError, lambda: reg.reveal_seed("T1", "纪检监察组", b"\x11" * 32, actor="x")),
        (DrawRefused, lambda: reg.draw("T1", actor=DRAWER)),
    ]
    for error, call in refused:
        with pytest.raises(error):
            call()
    assert _unchanged_but_for_error_events(reg, before, 1)
    reg.reveal_seed("T1", "市场监管局", values["市场监管局"], actor="市场监管局")
    before = rel.snapshot(reg.store)
    with pytest.raises(DrawRefused, match="announcement is out"):  # no new party now
        reg.commit_seed("T1", "第三方", "cd" * 32, actor="第三方")
    with pytest.raises(DuplicatePartyError):  # a second reveal by the same party
        reg.reveal_seed("T1", "市场监管局", values["市场监管局"], actor="市场监管局")
    assert rel.snapshot(reg.store) == before
    reg.reveal_seed("T1", "纪检监察组", values["纪检监察组"], actor="纪检监察组")
    result = reg.select("T1", actor=DRAWER)
    assert result.bundle["seed"] == combine_contributions("T1", frozen.digest, values).hex()
    # After the draw the ceremony is closed: nothing can be committed or revealed any more.
    for call in (
        lambda: reg.commit_seed("T1", "第三方", "cd" * 32, actor="第三方"),
        lambda: reg.reveal_seed("T1", "市场监管局", values["市场监管局"], actor="x"),
    ):
        with pytest.raises(DrawRefused, match="no frozen draw"):
            call()
    assert verify_bundle(result.bundle).ok and reg.store.verify_log() == []


def test_audit_rows_cannot_be_changed_through_the_library(reg: Registry) -> None:
    store = reg.store
    before = rel.snapshot(store)
    with pytest.raises(StoreError, match="append-only"), Session(store.engine) as s, s.begin():
        row = s.get(AuditEventRow, 2)
        assert row is not None
        row.payload = canonical_json({"forged": True}).decode()
    with pytest.raises(StoreError, match="append-only"), Session(store.engine) as s, s.begin():
        s.delete(s.get(AuditEventRow, 2))
    # Bulk statements skip the ORM's flush hook; the database trigger refuses them.
    for statement in (
        update(AuditEventRow).where(AuditEventRow.seq == 1).values(actor="冒名者"),
        delete(AuditEventRow).where(AuditEventRow.seq >= 1),
    ):
        with (
            pytest.raises(DBAPIError, match="append-only"),
            Session(store.engine) as s,
            s.begin(),
        ):
            s.execute(statement)
    assert rel.snapshot(store) == before and store.verify_log() == []


def test_a_database_trigger_blocks_changes_around_the_library(reg: Registry) -> None:
    store = reg.store
    before = rel.snapshot(store)
    statements = [
        "UPDATE audit_events SET actor = 'x' WHERE seq = 1",
        "UPDATE audit_events SET hash = prev_hash",
        "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)",
        "DELETE FROM audit_events",
    ]
    if store.dialect == "postgresql":
        statements.append("TRUNCATE audit_events")
    for sql in statements:
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert rel.snapshot(store) == before and store.verify_log() == []


def test_rows_forged_around_the_library_break_the_chain(reg: Registry) -> None:
    store = reg.store
    events = store.audit_events()
    forged = next_event(events[-1], time="2099-01-01T00:00:00Z", actor="x", kind="draw", payload={})
    row = forged.to_dict() | {"payload": canonical_json(forged.payload).decode()}
    # Inserting is allowed by the trigger; a row that does not link is then reported.
    row |= {"prev_hash": "0" * 64}
    with store.engine.begin() as conn:
        conn.execute(AuditEventRow.__table__.insert().values(**row))
    problems = store.verify_log()
    assert problems and problems[0].seq == forged.seq


def test_a_seed_swapped_in_the_draws_table_shows_against_the_log(reg: Registry) -> None:
    result = reg.draw("T1", actor=DRAWER)
    assert rel.check_draws(reg.store) == []
    with reg.store.engine.begin() as conn:
        conn.execute(update(DrawRow).where(DrawRow.task == "T1").values(seed="00" * 32))
    # The log still holds the true seed: the swap shows in a cross-check of rows and log.
    # The library has no such check yet (see docs/reliability.md, "what is left").
    assert any("seed differs" in p for p in rel.check_draws(reg.store, verify=False))
    rebuilt = reg.current_draw("T1").draw
    assert [p.id for p in rebuilt.selected] != [p.id for p in result.draw.selected]
    logged = [e for e in reg.store.audit_events() if e.kind == "draw"][-1]
    assert logged.payload["selected"] == [p.id for p in result.draw.selected]


def test_an_empty_log_verifies(db_url: str) -> None:
    # A new store has no events; verifying it used to raise (bug R11).
    assert Store.open(db_url).verify_log() == []


def test_the_crash_checks_see_a_partial_draw_and_import(reg: Registry) -> None:
    # The invariants of the crash and load tests must be able to fail: a frozen draw row
    # (made on purpose, outside draw()) and an import row without its rows are reported.
    reg.freeze("T2", actor=DRAWER)
    assert any("partial" in p for p in rel.check_draws(reg.store))
    with Session(reg.store.engine) as s, s.begin():
        import_id = s.execute(text("SELECT id FROM imports WHERE kind = 'entities'")).scalar_one()
        s.execute(text("UPDATE imports SET rows = rows + 1 WHERE id = :i"), {"i": import_id})
    assert rel.check_imports(reg.store) != []
    with Session(reg.store.engine) as s:
        assert s.execute(select(DrawRow.state).where(DrawRow.task == "T2")).scalar() == "frozen"
