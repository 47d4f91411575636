"""Results, publication, announcements, and the checks: verify, verify-log, the audit log,
draw health, liveness."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import Field

from shuangsuiji._version import __version__
from shuangsuiji.actors import Actor
from shuangsuiji.assign.record import verify_draw
from shuangsuiji.audit import dumps_jsonl
from shuangsuiji.commitments import log_problems
from shuangsuiji.registry import ResultEntry
from shuangsuiji.server._context import (
    BadInput,
    Limit,
    Offset,
    Reader,
    Service,
    Svc,
    acting,
    approver,
    paged,
    plain,
)
from shuangsuiji.server._setup import Body
from shuangsuiji.store import StoreError

router = APIRouter()

Recorder = Annotated[Actor, Depends(acting("recorder"))]
Publisher = Annotated[Actor, Depends(acting("publisher"))]


class ResultBody(Body):
    task: str
    entity: str
    item: str
    categories: list[str] = Field(min_length=1)
    inspection_start: date
    inspection_end: date
    inspectors: list[str] = Field(min_length=1)
    follow_up: str = ""
    reason: str = ""


@router.post("/results", tags=["results"], summary="Record results (all or none)")
def record_results(body: list[ResultBody], svc: Svc, actor: Recorder) -> Any:
    """A result for a task × entity × item already recorded is a correction: give ``reason``."""
    entries = [
        ResultEntry(
            r.task,
            r.entity,
            r.item,
            r.categories,
            r.inspection_start,
            r.inspection_end,
            r.inspectors,
            r.follow_up,
            r.reason,
        )
        for r in body
    ]
    return plain(svc.registry.record_results(entries, actor=actor))


@router.post("/results/csv", tags=["results"], summary="Import results from a CSV upload")
def import_results(
    file: Annotated[UploadFile, File(description="results CSV (RESULT_COLUMNS)")],
    svc: Svc,
    actor: Recorder,
) -> Any:
    """Through the service the person recording is the key's holder: a ``recorded_by`` column
    may only be empty or name that person."""
    data = file.file.read()
    others = _other_recorders(data, actor)
    if others:
        raise BadInput(
            f"results CSV: recorded_by names {', '.join(others)}, but {actor.name} is uploading; "
            "leave recorded_by empty (the uploader is recorded) or let each person upload"
        )
    return {"recorded": len(svc.registry.import_results(io.BytesIO(data), actor=actor))}


def _other_recorders(data: bytes, actor: Actor) -> list[str]:
    """The ``recorded_by`` values of a results CSV that are neither empty nor ``actor``."""
    try:
        rows = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        names = {(row.get("recorded_by") or "").strip() for row in rows}
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInput(f"results CSV: not UTF-8 CSV text ({exc})") from None
    return sorted(names - {"", actor.name})


@router.get("/results", tags=["results"])
def results(
    svc: Svc, _: Reader, task: str | None = None, limit: Limit = 100, offset: Offset = 0
) -> Any:
    return paged(svc.registry.results_page(task, offset=offset, limit=limit))


class PublishBody(Body):
    keys: list[tuple[str, str]] = Field(min_length=1, description="[task, entity] pairs")
    on: date | None = None
    reason: str = ""
    approved_by: str = ""


def _recorded_by_publisher(svc: Service, keys: list[tuple[str, str]], actor: Actor) -> None:
    """Separation of duties: a person does not publish results they recorded."""
    if not svc.keys.separation.recorder_not_publisher:
        return
    mine = sorted(
        f"{r.entity} in task {r.task}"
        for r in svc.registry.results_for(keys)
        if r.recorded_by == actor.name
    )
    if mine:
        raise StoreError(
            f"nothing published: {actor.name} recorded results of "
            f"{', '.join(dict.fromkeys(mine))}; "
            "another publication approver (公示审核) publishes them "
            "([separation] recorder_not_publisher)"
        )


@router.post("/publications", tags=["publication"], summary="Publish (公示) results")
def publish(body: PublishBody, svc: Svc, actor: Publisher) -> Any:
    keys = [(t, e) for t, e in body.keys]
    _recorded_by_publisher(svc, keys, actor)
    done = svc.registry.publish_many(
        keys,
        actor=actor,
        on=body.on,
        reason=body.reason,
        approved_by=approver(svc, body.approved_by),
    )
    return plain(done)


@router.get("/publications", tags=["publication"], summary="Publication records, due dates")
def publications(
    svc: Svc,
    _: Reader,
    plan: str | None = None,
    task: str | None = None,
    entity: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Any:
    found = svc.registry.publications_page(
        plan, task=task, entity=entity, offset=offset, limit=limit
    )
    return paged(found)


@router.get("/uninspected", tags=["publication"], summary="Selected, no result yet (internal)")
def uninspected(
    svc: Svc, _: Reader, plan: str | None = None, limit: Limit = 100, offset: Offset = 0
) -> Any:
    return paged(svc.registry.uninspected_page(plan, offset=offset, limit=limit))


@router.get("/plans/{plan}/announcement", tags=["announcements"], summary="The plan (一表)")
def plan_announcement(plan: str, svc: Svc, _: Reader, issued_on: date | None = None) -> Any:
    return plain(svc.registry.plan_announcement(plan, issued_on=issued_on))


@router.get("/tasks/{task}/announcement", tags=["announcements"], summary="A task's draw list")
def task_announcement(task: str, svc: Svc, _: Reader, issued_on: date | None = None) -> Any:
    return plain(svc.registry.task_announcement(task, issued_on=issued_on))


@router.get("/announcements/results", tags=["announcements"], summary="Published results")
def result_announcements(
    svc: Svc, _: Reader, plan: str | None = None, issued_on: date | None = None
) -> Any:
    return plain(svc.registry.result_announcements(plan, issued_on=issued_on))


# -- checks ---------------------------------------------------------------------------------


class VerifyBody(Body):
    bundle: dict[str, Any]
    annex: dict[str, Any] | None = None
    announcements: list[dict[str, Any]] = Field(default_factory=list)


@router.post("/verify", tags=["checks"], summary="Re-derive a draw from its bundle")
def verify(body: VerifyBody, _: Reader) -> Any:
    report = verify_draw(body.bundle, annex=body.annex, announcements=body.announcements)
    return {
        "ok": report.ok,
        "problems": [str(p) for p in report.problems],
        "warnings": list(report.warnings),
    }


@router.get("/verify-log", tags=["checks"], summary="The audit chain and the tables against it")
def verify_log(svc: Svc, _: Reader, chain_only: bool = False) -> Any:
    store = svc.registry.store
    problems: list[Any] = list(store.verify_log())
    if not chain_only:
        problems += svc.registry.verify_records()
    return {"ok": not problems, "problems": [str(p) for p in problems]}


@router.post("/verify-log/announcements", tags=["checks"], summary="The log against announcements")
def verify_log_announced(published: list[dict[str, Any]], svc: Svc, _: Reader) -> Any:
    rows = svc.registry.store.audit_rows()
    events = [r | {"payload": json.loads(r["payload"])} for r in rows]
    problems = log_problems(events, published)
    return {"ok": not problems, "problems": problems}


@router.get("/audit/events", tags=["checks"], summary="Audit events after a sequence number")
def audit_events(
    svc: Svc,
    _: Reader,
    after: Annotated[int, Query(ge=0, description="the last seq already read")] = 0,
    limit: Limit = 100,
) -> Any:
    """Cursor paging: pass the ``next`` of one reply as ``after`` of the next call."""
    events = svc.registry.store.audit_events(after, limit)
    return {
        "items": [e.to_dict() for e in events],
        "next": events[-1].seq if len(events) == limit else None,
    }


@router.get("/audit/log.jsonl", tags=["checks"], summary="The whole audit log (JSON Lines)")
def audit_log(svc: Svc, _: Reader) -> StreamingResponse:
    def lines() -> Iterator[bytes]:
        after = 0
        while events := svc.registry.store.audit_events(after, 2000):
            yield dumps_jsonl(events).encode("utf-8")
            after = events[-1].seq

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/draw-health", tags=["checks"], summary="The health of a period's entity draws")
def draw_health(svc: Svc, _: Reader, plan: str | None = None) -> Any:
    return plain(svc.registry.draw_health(plan))


@router.get("/health", tags=["checks"], summary="Liveness: the store answers (no key needed)")
def health(svc: Svc) -> Any:
    """``keys`` says whether the keys file on disk is the one in force: a changed file that was
    refused (malformed) leaves the keys before in force, ``status: refused``, until corrected."""
    return {
        "status": "ok",
        "version": __version__,
        "schema": svc.registry.store.revision(),
        "keys": svc.source.status(),
    }
