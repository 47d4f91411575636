"""The entity draw and the team draw: freeze, the seed ceremonies, announcements, the draws,
replacements, changes of a team, and the bundles (streamed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import Field

from shuangsuiji.actors import Actor
from shuangsuiji.draw import ReplacementReason
from shuangsuiji.registry import DrawResult
from shuangsuiji.seeds import PublicSource
from shuangsuiji.server._context import (
    Limit,
    Offset,
    Reader,
    Svc,
    acting,
    approver,
    built,
    paged,
    plain,
)
from shuangsuiji.server._setup import Body

router = APIRouter(tags=["draws"])

Drawer = Annotated[Actor, Depends(acting("drawer"))]
Party = Annotated[Actor, Depends(acting("drawer", "supervisor"))]
Witness = Annotated[Actor, Depends(acting("supervisor"))]
Sealed = Annotated[Actor, Depends(acting("auditor", "supervisor"))]

_HEX = r"^([0-9a-f]{2})+$"


class Redraw(Body):
    """A re-draw (a task's second attempt) needs a listed reason, a text, and a second person
    known to the service; a first draw leaves them empty."""

    cutoff: date | None = None
    reason: str = ""
    text: str = ""
    approved_by: str = ""


def _summary(result: DrawResult) -> dict[str, Any]:
    b = result.bundle
    return {
        "task": result.task,
        "attempt": result.attempt,
        "seed": b.get("seed"),
        "pool_digest": b.get("pool_digest"),
        "record_digest": b.get("record_digest"),
        "selected": [p["id"] for p in b.get("selected", [])],
        "alternates": len(b.get("alternates", [])),
    }


@router.post("/tasks/{task}/freeze", summary="Freeze the candidate set (before any seed)")
def freeze(task: str, body: Redraw, svc: Svc, actor: Drawer) -> Any:
    frozen = svc.registry.freeze(
        task,
        actor=actor,
        cutoff=body.cutoff,
        reason=body.reason,
        text=body.text,
        approved_by=approver(svc, body.approved_by),
    )
    return {"task": task, "pool_digest": frozen.digest, "candidates": frozen.size}


class Commitment(Body):
    party: str
    commitment: str = Field(pattern=r"^[0-9a-f]{64}$")


class Reveal(Body):
    party: str
    contribution: str = Field(pattern=_HEX, description="the party's value, lower-case hex")


@router.post("/tasks/{task}/seed/commit", summary="A party's seed commitment (SSJ-SEED-1)")
def commit_seed(task: str, body: Commitment, svc: Svc, actor: Party) -> Any:
    svc.registry.commit_seed(task, body.party, body.commitment, actor=actor)
    return {"task": task, "party": body.party}


class PublicSourceBody(Body):
    label: str = Field(description="the source, e.g. 中国福利彩票 双色球")
    reference: str = Field(description="which draw of it, e.g. 第2026075期 开奖号码")
    expected: date = Field(description="the day the value is published (after today)")


class PublicDeclaration(Body):
    sources: list[PublicSourceBody] = Field(min_length=1)


@router.post("/tasks/{task}/seed/public", summary="Declare future public values as the seed")
def declare_public_seed(task: str, body: PublicDeclaration, svc: Svc, actor: Drawer) -> Any:
    """Instead of parties: the seed is made from public values still to come (lottery numbers,
    a beacon); returns the declaration's digest, which the pre-draw announcement carries."""
    sources = built(
        lambda: [PublicSource(s.label, s.reference, s.expected) for s in body.sources], "sources"
    )
    return {"task": task, "digest": svc.registry.declare_public_seed(task, sources, actor=actor)}


class PublicValues(Body):
    values: list[str] = Field(min_length=1, description="the values as published, in order")


@router.post("/tasks/{task}/seed/public/values", summary="Enter the declared public values")
def reveal_public_values(task: str, body: PublicValues, svc: Svc, actor: Party) -> Any:
    svc.registry.reveal_public_values(task, body.values, actor=actor)
    return {"task": task, "values": len(body.values)}


@router.post("/tasks/{task}/announce", summary="The pre-draw announcement (SSJ-ANNOUNCE-1)")
def announce(task: str, svc: Svc, actor: Drawer) -> Any:
    return svc.registry.announce(task, actor=actor)


@router.post("/tasks/{task}/seed/reveal", summary="A party's reveal, checked against its commit")
def reveal_seed(task: str, body: Reveal, svc: Svc, actor: Party) -> Any:
    svc.registry.reveal_seed(task, body.party, bytes.fromhex(body.contribution), actor=actor)
    return {"task": task, "party": body.party}


@router.post("/tasks/{task}/select", summary="Draw the frozen candidates once all revealed")
def select(task: str, svc: Svc, actor: Drawer) -> Any:
    return _summary(svc.registry.select(task, actor=actor))


@router.post("/tasks/{task}/draw", summary="Freeze, system seed, announce, reveal, draw at once")
def draw(task: str, body: Redraw, svc: Svc, actor: Drawer) -> Any:
    result = svc.registry.draw(
        task,
        actor=actor,
        cutoff=body.cutoff,
        reason=body.reason,
        text=body.text,
        approved_by=approver(svc, body.approved_by),
    )
    return _summary(result)


class Abandon(Body):
    reason: str
    text: str
    approved_by: str


@router.post("/tasks/{task}/abandon", summary="Abandon the frozen attempt (visible, counted)")
def abandon(task: str, body: Abandon, svc: Svc, actor: Drawer) -> Any:
    second = approver(svc, body.approved_by)
    svc.registry.abandon(task, reason=body.reason, text=body.text, approved_by=second, actor=actor)
    return {"task": task, "abandoned": True}


@router.get("/tasks/{task}/draws", summary="Every attempt of the task, oldest first")
def draws(task: str, svc: Svc, _: Reader) -> Any:
    return plain(svc.registry.draws(task))


@router.get("/tasks/{task}/selection", summary="The current selection (replacements applied)")
def selection(task: str, svc: Svc, _: Reader, limit: Limit = 100, offset: Offset = 0) -> Any:
    return paged(svc.registry.selection_page(task, offset=offset, limit=limit))


def _streamed(data: Any, filename: str) -> StreamingResponse:
    """``data`` as JSON, encoded piece by piece (a bundle of a large draw is megabytes)."""

    def chunks() -> Iterator[bytes]:
        encoder = json.JSONEncoder(ensure_ascii=False, indent=1)
        buffer: list[str] = []
        for piece in encoder.iterencode(data):
            buffer.append(piece)
            if len(buffer) >= 4096:
                yield "".join(buffer).encode("utf-8")
                buffer = []
        yield ("".join(buffer) + "\n").encode("utf-8")

    return StreamingResponse(
        chunks(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/tasks/{task}/bundle", summary="The draw bundle (streamed JSON)")
def bundle(task: str, svc: Svc, _: Reader, attempt: int | None = None) -> StreamingResponse:
    data = svc.registry.bundle(task, attempt)
    return _streamed(data, f"draw-{task}-{data.get('attempt', attempt or '')}.json")


@router.get("/tasks/{task}/annex", summary="The sealed staffing annex (auditors, supervisors)")
def annex(task: str, svc: Svc, _: Sealed, attempt: int | None = None) -> StreamingResponse:
    return _streamed(svc.registry.staffing_annex(task, attempt), f"annex-{task}.json")


class ReplaceBody(Body):
    entity: str
    reason: ReplacementReason
    note: str = ""


@router.post("/tasks/{task}/replacements", summary="Replace a selected entity by an alternate")
def replace(task: str, body: ReplaceBody, svc: Svc, actor: Drawer) -> Any:
    by = svc.registry.replace(task, body.entity, body.reason, actor=actor, note=body.note)
    return {"task": task, "entity": body.entity, "by": by}


@router.get("/tasks/{task}/replacements", summary="The task's replacements, in order")
def replacements(task: str, svc: Svc, _: Reader) -> Any:
    return plain(svc.registry.bundle(task).get("replacements", []))


# -- teams ----------------------------------------------------------------------------------


class OnDay(Body):
    on: date | None = None


@router.post("/tasks/{task}/staffing/freeze", summary="Freeze and commit to the staffing")
def freeze_staffing(task: str, body: OnDay, svc: Svc, actor: Drawer) -> Any:
    return {
        "task": task,
        "staffing_digest": svc.registry.freeze_staffing(task, actor=actor, on=body.on),
    }


@router.post("/tasks/{task}/team-seed/commit", summary="A party's team-seed commitment")
def commit_team_seed(task: str, body: Commitment, svc: Svc, actor: Party) -> Any:
    svc.registry.commit_team_seed(task, body.party, body.commitment, actor=actor)
    return {"task": task, "party": body.party}


@router.post("/tasks/{task}/teams/announce", summary="The team-seed announcement")
def announce_teams(task: str, svc: Svc, actor: Drawer) -> Any:
    return svc.registry.announce_teams(task, actor=actor)


@router.post("/tasks/{task}/team-seed/reveal", summary="A party's team-seed reveal")
def reveal_team_seed(task: str, body: Reveal, svc: Svc, actor: Party) -> Any:
    value = bytes.fromhex(body.contribution)
    svc.registry.reveal_team_seed(task, body.party, value, actor=actor)
    return {"task": task, "party": body.party}


@router.post("/tasks/{task}/teams/draw", summary="Draw the teams from the revealed team seed")
def draw_teams(task: str, svc: Svc, actor: Drawer) -> Any:
    return plain(svc.registry.draw_teams(task, actor=actor))


@router.post("/tasks/{task}/teams/assign", summary="Staffing, system team seed and teams at once")
def assign_teams(task: str, body: OnDay, svc: Svc, actor: Drawer) -> Any:
    return plain(svc.registry.assign_teams(task, actor=actor, on=body.on))


@router.get("/tasks/{task}/teams", summary="The current teams: entity and inspector ids")
def teams(task: str, svc: Svc, _: Reader, limit: Limit = 100, offset: Offset = 0) -> Any:
    found = svc.registry.teams_page(task, offset=offset, limit=limit)
    return paged(found.map(lambda t: {"entity": t[0], "inspectors": list(t[1])}))


class ChangeBody(Body):
    entity: str
    inspector: str
    reason: str
    text: str = ""


@router.post("/tasks/{task}/teams/changes", summary="Ask for a change of a team (SSJ-CHANGE-1)")
def request_change(task: str, body: ChangeBody, svc: Svc, actor: Drawer) -> Any:
    """Drawn at once when the policy wants no witnesses (``team`` is the new team); otherwise
    published and waiting for the witnesses (``team`` is null)."""
    return svc.registry.request_reassignment(
        task, body.entity, body.inspector, body.reason, actor=actor, text=body.text
    )


class WitnessBody(Body):
    party: str
    value: str = Field(pattern=_HEX, description="the witness's value, lower-case hex")


@router.post("/tasks/{task}/teams/changes/witness", summary="A witness's value for the change")
def witness(task: str, body: WitnessBody, svc: Svc, actor: Witness) -> Any:
    team = svc.registry.witness_change(task, body.party, bytes.fromhex(body.value), actor=actor)
    return {"task": task, "team": None if team is None else list(team)}


class CancelBody(Body):
    text: str


@router.post("/tasks/{task}/teams/changes/withdraw", summary="Withdraw the pending change")
def withdraw(task: str, body: CancelBody, svc: Svc, actor: Drawer) -> Any:
    svc.registry.cancel_change(task, body.text, actor=actor)
    return {"task": task, "withdrawn": True}


@router.get("/tasks/{task}/teams/changes/pending", summary="The change waiting for witnesses")
def pending(task: str, svc: Svc, _: Reader) -> Any:
    return {"pending": svc.registry.pending_change(task)}
