"""The Registry: the one object an embedding system uses for the whole cycle.

It opens a store (a SQLite file by default, PostgreSQL for shared deployments, or a host
application's SQLAlchemy engine), and runs the regime's steps, each as one transaction that
appends its audit event, each taking the acting person:

    pools and lists → task → freeze candidates → seed (commit, reveal) → draw → teams
    → results → publication

A draw follows DESIGN.md's order: the candidate set is frozen and its pool digest recorded
(``candidates.freeze``) before any seed exists; the seed is committed (``seed.commit``) and
revealed (``seed.reveal``); then the entities are selected (``draw``). A second draw of a task
is refused unless it carries a reason (``redraw``); the earlier draw stays on record.

>>> from shuangsuiji.synth import make_city
>>> reg = Registry.open("sqlite://")
>>> city = make_city(1_000, seed=4)
>>> reg.setup_city(city, actor="管理员")
>>> from datetime import date
>>> from shuangsuiji.model import Plan, Task
>>> reg.store.put_plan(Plan("P", 2026, "年度计划", ("SCJG",)), actor="管理员")
>>> reg.store.put_task(Task("T1", "P", "公示信息抽查", ("SCJG",), ("SCJG-01",),
...                         date(2026, 7, 1), date(2026, 9, 30)), actor="管理员")
>>> result = reg.draw("T1", actor="抽取人", cutoff=date(2026, 6, 30))
>>> result.attempt, len(result.draw.selected) > 0
(1, True)
>>> reg.draw("T1", actor="抽取人")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
shuangsuiji.registry.DrawRefused: task T1 was already drawn (attempt 1); a re-draw needs ...
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import attrs
import numpy as np
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import Session

from shuangsuiji.assign import (
    Assignment,
    PastAssignments,
    Recusal,
    Staffing,
    TaskNeeds,
    assign_teams,
    reassign,
    sample_loads,
)
from shuangsuiji.assign.record import conflict_table, staffing_from_record, staffing_record
from shuangsuiji.assign.rules import team_config
from shuangsuiji.audit import AuditEvent, canonical_json
from shuangsuiji.bundle import make_bundle
from shuangsuiji.candidates import CandidateSet, freeze_candidates
from shuangsuiji.commitments import (
    ANNOUNCE_SPEC,
    REDRAW_REASONS,
    draw_announcement,
    staffing_digest,
    team_key,
)
from shuangsuiji.conduct import Finding, conduct_findings
from shuangsuiji.draw import (
    Draw,
    ReplacementReason,
    SizeRule,
    Strata,
    draw_entities,
)
from shuangsuiji.errors import RefusedError
from shuangsuiji.exports import (
    internal_publication_html,
    plan_csv,
    publication_html,
    records_csv,
    to_json,
    write_text,
)
from shuangsuiji.health import (
    HealthReport,
    Lottery,
    ReplayedTask,
    StratumTickets,
    draw_health,
    replay_health,
)
from shuangsuiji.integrity import RecordProblem, check_records
from shuangsuiji.labels import recusal_label
from shuangsuiji.model import Plan, Task
from shuangsuiji.policy import Policy
from shuangsuiji.pools import EntityPool
from shuangsuiji.publication import (
    PlanAnnouncement,
    PublicationRecord,
    ResultAnnouncement,
    TaskAnnouncement,
    Uninspected,
    backdate_problems,
    build_records,
    plan_announcement,
    result_announcements,
    task_announcement,
)
from shuangsuiji.results import (
    CHINA_STANDARD_TIME,
    InspectionResult,
    ResultCategories,
    ResultScope,
    correct,
    read_results_csv,
    scope_problems,
)
from shuangsuiji.seeds import (
    Ceremony,
    PublicAnnouncement,
    PublicSource,
    party_commitment,
    provenance_from_record,
    random_seed,
)
from shuangsuiji.store import Clock, NotStoredError, Store, StoreError, utc_now
from shuangsuiji.store.integrity import pool_state, read_records, snapshot
from shuangsuiji.store.pushdown import DatabaseCandidateSet, freeze_in_database, insert_candidates
from shuangsuiji.store.schema import (
    AuditEventRow,
    DrawCandidateRow,
    DrawPickRow,
    DrawRow,
    EntityRow,
    PublicationRow,
    ReplacementRow,
    ResultCategoryRow,
    ResultRow,
    TaskRow,
    TeamMemberRow,
)
from shuangsuiji.synth import City

__all__ = ["DrawRefused", "DrawResult", "Registry", "ResultEntry"]

_T = TypeVar("_T")
SYSTEM_PARTY = "系统随机数"
PUSHDOWN_FROM = 1_000_000  # PostgreSQL pools this large are frozen inside the database
POOL_STATE_UP_TO = 1_000_000  # freezes of smaller pools log the pool state they read


@attrs.frozen
class ResultEntry:
    """One result to record with :meth:`Registry.record_results` (``reason`` for corrections)."""

    task: str
    entity: str
    item: str
    categories: Sequence[str] | str
    inspection_start: date
    inspection_end: date
    inspectors: Sequence[str]
    follow_up: str = ""
    reason: str = ""


class DrawRefused(RefusedError):
    """A draw step the rules forbid (re-draw without reason, steps out of order)."""


@attrs.frozen(eq=False)
class DrawResult:
    """A persisted draw: its attempt number, the :class:`~shuangsuiji.draw.Draw` and bundle."""

    task: str
    attempt: int
    draw: Draw
    bundle: dict[str, Any]


def _json(data: Any) -> str:
    return canonical_json(data).decode("utf-8")


@attrs.frozen
class _Redraw:
    """Why a task is drawn again: a listed reason code, a text, the approving second person."""

    reason: str = ""
    text: str = ""
    approved_by: str = ""


def _public_team_seed(frozen: dict[str, Any]) -> dict[str, Any]:
    """The team-seed record as published: the staffing digest, date, ceremony, announcement."""
    keys = ("on", "staffing_digest", "ceremony", "frozen_by", "announcement")
    return {k: frozen[k] for k in keys if k in frozen}


def _result_of(row: ResultRow, catalogue: ResultCategories) -> InspectionResult:
    return InspectionResult(
        task=row.task,
        entity=row.entity_id,
        item=row.item,
        categories=json.loads(row.categories),
        follow_up=row.follow_up,
        inspection_start=row.inspection_start,
        inspection_end=row.inspection_end,
        inspectors=json.loads(row.inspectors),
        recorded_by=row.recorded_by,
        recorded_at=datetime.fromisoformat(row.recorded_at),
        version=row.version,
        correction_reason=row.correction_reason,
        catalogue=catalogue,
    )


def _before(order: dict[tuple[str, str, int], int], earlier: DrawRow, row: DrawRow) -> bool:
    """Was ``earlier`` drawn before ``row`` was frozen? By the audit order, or (for records
    without those events) by their times."""
    drawn = order.get(("draw", earlier.task, earlier.attempt))
    frozen = order.get(("freeze", row.task, row.attempt))
    if drawn is not None and frozen is not None:
        return drawn < frozen
    return str(earlier.drawn_time) <= row.frozen_time


class Registry:
    """The workflow over a :class:`~shuangsuiji.store.Store`; see the module docstring."""

    def __init__(self, store: Store, *, pushdown_from: int | None = PUSHDOWN_FROM) -> None:
        self.store = store
        self.pushdown_from = pushdown_from

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        clock: Clock = utc_now,
        pushdown_from: int | None = PUSHDOWN_FROM,
    ) -> Registry:
        """Open (creating or upgrading) the store at ``url`` or on a host's ``engine``.

        On PostgreSQL, a pool of ``pushdown_from`` entities or more is frozen inside the
        database (:mod:`shuangsuiji.pushdown`): filters, exclusions, stratum counts and the
        pool digest are computed there and the candidates copied into ``draw_candidates``
        with ``INSERT … SELECT``, instead of loading the pool into Python. ``None`` never
        pushes down. The result is the same candidate set either way.
        """
        return cls(Store.open(url, engine=engine, clock=clock), pushdown_from=pushdown_from)

    def _pushdown(self, s: Session) -> bool:
        if self.store.dialect != "postgresql" or self.pushdown_from is None:
            return False
        stored = s.execute(select(func.count()).select_from(EntityRow)).scalar_one()
        return int(stored) >= self.pushdown_from

    @property
    def _now(self) -> datetime:
        return self.store.clock()

    # -- set-up ---------------------------------------------------------------------------

    def setup_city(self, city: City, *, actor: str) -> None:
        """Load a synthetic :class:`~shuangsuiji.synth.City` and the default policy."""
        self.store.save_policy(Policy.default(), actor=actor)
        self.store.put_departments(city.departments, actor=actor)
        self.store.put_items(city.items, actor=actor)
        self.store.import_entities(city.entities, actor=actor, source="synthetic city")
        self.store.import_inspectors(city.inspectors, actor=actor, source="synthetic city")
        self.store.import_conflicts(city.conflicts, actor=actor, source="synthetic city")

    # -- draws ----------------------------------------------------------------------------

    def _draw_rows(self, s: Session, task: str) -> list[DrawRow]:
        rows = s.execute(select(DrawRow).where(DrawRow.task == task).order_by(DrawRow.attempt))
        return list(rows.scalars())

    def _last_inspected(self, s: Session, task: str) -> dict[str, date]:
        """Entities selected in other tasks' current draws, with those tasks' end dates.

        Only the latest drawn attempt of a task counts: the entities of a draw that was
        superseded by a re-draw are not inspected, so they are not shielded from other tasks.
        Alternates promoted by a replacement count too (they are inspected); the entities they
        replaced stay counted as drawn.
        """
        current = (
            select(DrawRow.task, func.max(DrawRow.attempt).label("attempt"))
            .where(DrawRow.state == "drawn")
            .group_by(DrawRow.task)
            .subquery()
        )

        def of_current(query: Any, draw_id: Any) -> Any:
            return (
                query.join(DrawRow, DrawRow.id == draw_id)
                .join(
                    current,
                    (current.c.task == DrawRow.task) & (current.c.attempt == DrawRow.attempt),
                )
                .join(TaskRow, TaskRow.code == DrawRow.task)
                .where(DrawRow.task != task)
            )

        picks = of_current(select(DrawPickRow.entity_id, TaskRow.end), DrawPickRow.draw_id)
        promoted = of_current(
            select(ReplacementRow.replaced_by, TaskRow.end), ReplacementRow.draw_id
        )
        rows = [
            *s.execute(picks.where(DrawPickRow.role == "selected")),
            *s.execute(promoted),
        ]
        out: dict[str, date] = {}
        for entity, end in rows:
            out[entity] = max(end, out.get(entity, end))
        return out

    def freeze(
        self,
        task: str,
        *,
        actor: str,
        cutoff: date | None = None,
        reason: str = "",
        text: str = "",
        approved_by: str = "",
    ) -> CandidateSet | DatabaseCandidateSet:
        """Freeze the task's candidate set and record its pool digest (before any seed).

        A second attempt is a re-draw: ``reason`` is one of
        :data:`~shuangsuiji.commitments.REDRAW_REASONS`, ``text`` says what happened, and
        ``approved_by`` names the second person who approved it; the policy bounds how many
        re-draws a task may have (``[draw] max_redraws``).
        """
        with self.store.transaction() as s:
            redraw = _Redraw(reason, text, approved_by)
            return self._freeze(s, task, actor=actor, cutoff=cutoff, redraw=redraw)[0]

    def _check_redraw(
        self, s: Session, task: Task, previous: list[DrawRow], redraw: _Redraw, actor: str
    ) -> None:
        """A re-draw needs a listed reason, a text, a second person, and room under the cap."""
        last = previous[-1]
        if last.state == "frozen":
            raise DrawRefused(
                f"task {task.code} has a frozen draw (attempt {last.attempt}) waiting for its "
                "seed; finish its ceremony (reveal, then select) or abandon it with a reason "
                "(shuangsuiji draw abandon)"
            )
        codes = ", ".join(f"{k} ({v})" for k, v in REDRAW_REASONS.items())
        if redraw.reason not in REDRAW_REASONS:
            raise DrawRefused(
                f"task {task.code} was already drawn (attempt {last.attempt}); a re-draw needs "
                f"a recorded reason, one of: {codes}"
            )
        if len(redraw.text.strip()) < 4:
            raise DrawRefused(
                f"task {task.code}: re-draw reason {redraw.reason} needs a text of what "
                "happened (at least 4 characters), for the record and the announcement"
            )
        if not redraw.approved_by.strip() or redraw.approved_by.strip() == actor.strip():
            raise DrawRefused(
                f"task {task.code}: a re-draw must be approved by a second person (approved_by), "
                f"not by the drawer {actor!r}"
            )
        cap = self.store.policy(session=s).draw.max_redraws
        if len(previous) > cap:
            raise DrawRefused(
                f"task {task.code} already has {len(previous)} attempts; the policy allows "
                f"{cap} re-draw(s) ([draw] max_redraws): no further draw of this task"
            )
        shielded = self._shielded_by(s, previous)
        if shielded:
            raise DrawRefused(
                f"task {task.code}: later draws left out entities because this draw selected "
                f"them ({shielded}); a re-draw would leave them uninspected and unshielded. "
                "Re-draw those tasks first, or open a new task"
            )
        if self.store.has_results(task.code, session=s):
            raise DrawRefused(
                f"task {task.code} already has inspection results; a re-draw would drop "
                "inspected entities from the selection. Withdraw the results first (each with "
                "a recorded reason), or open a new task"
            )

    def _shielded_by(self, s: Session, previous: list[DrawRow]) -> str:
        """Later draws of other tasks whose exclusion window left out entities that the
        task's current draw selected (``task: count`` text; empty if none). Such a draw may not
        be replaced: a tiny task drawn first and then re-drawn would otherwise shield a friend
        from the main task for good."""
        drawn = [r for r in previous if r.state == "drawn"]
        if not drawn:
            return ""
        current = drawn[-1]
        picked = {p.id for p in self._rebuild(s, current)[0].active}
        later = s.execute(
            select(DrawRow).where(DrawRow.id > current.id, DrawRow.task != current.task)
        ).scalars()
        out = []
        for row in later:
            for e in json.loads(row.exclusions):
                hit = (
                    picked & set(e.get("ids", []))
                    if e["reason"] == "inspected_within_window"
                    else set()
                )
                if hit:
                    out.append(f"{row.task} attempt {row.attempt}: {len(hit)}")
        return ", ".join(out)

    def _cutoff(self, policy: Policy, task: Task, cutoff: date | None) -> date:
        """The cut-off date: the task's start by default, never after it, at most
        ``[draw] cutoff_lead_days`` before it (it decides who is excluded)."""
        if cutoff is None:
            return task.start
        earliest = task.start - timedelta(days=policy.draw.cutoff_lead_days)
        if not earliest <= cutoff <= task.start:
            raise DrawRefused(
                f"cut-off {cutoff.isoformat()} is outside {earliest.isoformat()}.."
                f"{task.start.isoformat()}: it may lie at most {policy.draw.cutoff_lead_days} "
                f"days ([draw] cutoff_lead_days) before the start of task {task.code}"
            )
        return cutoff

    def _freeze(
        self,
        s: Session,
        task_code: str,
        *,
        actor: str,
        cutoff: date | None,
        redraw: _Redraw = _Redraw(),
    ) -> tuple[CandidateSet | DatabaseCandidateSet, DrawRow]:
        task = self.store.task(task_code, session=s)
        previous = self._draw_rows(s, task_code)
        if previous:
            self._check_redraw(s, task, previous, redraw, actor)
        policy = self.store.policy(session=s)
        cut = self._cutoff(policy, task, cutoff)
        candidates = self._candidates(s, task, policy, cut)
        row = DrawRow(
            task=task_code,
            attempt=len(previous) + 1,
            reason=redraw.reason if previous else "",
            reason_text=redraw.text.strip() if previous else "",
            approved_by=redraw.approved_by.strip() if previous else "",
            state="frozen",
            cutoff=cut,
            policy_hash=policy.content_hash,
            pool_digest=candidates.digest,
            candidates=candidates.size,
            ticket_scheme="ssj-draw-1",
            strata=_json({k: v.to_json() for k, v in candidates.rules.items()}),
            exclusions=_json([e.to_json() for e in candidates.exclusions]),
            seed_record=_json(Ceremony(task_code, candidates.digest, self._now).to_record()),
            actor=actor,
            frozen_time=self._now.isoformat(),
        )
        s.add(row)
        s.flush()
        self._store_candidates(s, candidates, row)
        payload = candidates.to_json() | {
            "attempt": row.attempt,
            "policy_hash": policy.content_hash,
            "cutoff": cut.isoformat(),
        }
        if self.store.count_entities(session=s) < POOL_STATE_UP_TO:
            # The pool as this freeze read it (SSJ-POOL-STATE-1): a status flipped by SQL
            # before the freeze and back after it no longer matches the import log. Above the
            # bound hashing every row again would double a freeze's time (docs/audit.md).
            payload["pool_state"] = pool_state(s, "entities")[0].hex
        if previous:
            payload |= {
                "reason": row.reason,
                "reason_text": row.reason_text,
                "approved_by": row.approved_by,
            }
        self.store.append_event(s, actor, "candidates.freeze", payload)
        return candidates, row

    def _candidates(
        self, s: Session, task: Task, policy: Policy, cut: date
    ) -> CandidateSet | DatabaseCandidateSet:
        """The task's candidate set, frozen in Python or (large PostgreSQL pools) in SQL."""
        items = self.store.items(session=s)
        last = self._last_inspected(s, task.code)
        candidates: CandidateSet | DatabaseCandidateSet
        if self._pushdown(s):
            candidates = freeze_in_database(
                s.connection(), task, policy, items, cutoff=cut, last_inspected=last
            )
        else:
            pool = self.store.load_entities(session=s)
            candidates = freeze_candidates(
                pool, task, policy, items, cutoff=cut, last_inspected=last
            )
        if candidates.size == 0:
            raise DrawRefused(
                f"task {task.code} has no candidates: its population is empty after exclusions "
                f"({', '.join(f'{e.label} {e.count}' for e in candidates.exclusions)})"
            )
        return candidates

    def _store_candidates(
        self, s: Session, candidates: CandidateSet | DatabaseCandidateSet, row: DrawRow
    ) -> None:
        """The frozen candidates into ``draw_candidates`` (the rows the pool digest covers)."""
        if isinstance(candidates, DatabaseCandidateSet):
            insert_candidates(s.connection(), candidates.spec, row.id)
            return
        labels = candidates.strata.labels
        s.execute(
            insert(DrawCandidateRow),
            [
                {"draw_id": row.id, "entity_id": i.decode(), "stratum": labels[c]}
                for i, c in zip(
                    candidates.ids.tolist(), candidates.strata.codes.tolist(), strict=True
                )
            ],
        )

    def _frozen(self, s: Session, task: str) -> DrawRow:
        rows = self._draw_rows(s, task)
        if not rows or rows[-1].state != "frozen":
            raise DrawRefused(f"task {task} has no frozen draw waiting for a seed; freeze() first")
        return rows[-1]

    def commit_seed(self, task: str, party: str, commitment: str, *, actor: str) -> None:
        """Record a ceremony party's commitment (SSJ-SEED-1) to the frozen draw of ``task``.

        ``actor`` is the person who enters it; parties entered by people other than the drawer
        count as independent (``[draw] independent_parties``). Commitments close when the
        pre-draw announcement is made.
        """
        with self.store.transaction() as s:
            row = self._frozen(s, task)
            if row.announcement:
                raise DrawRefused(
                    f"task {task}: the pre-draw announcement is out; no party may commit after "
                    "it (a late commitment could be chosen knowing the others)"
                )
            if json.loads(row.seed_record).get("kind") != "ceremony":
                raise DrawRefused(f"task {task}: its seed comes from declared public values")
            self._commit(s, row, party, commitment, actor)

    def reveal_seed(self, task: str, party: str, contribution: bytes, *, actor: str) -> None:
        """Record a party's reveal; it is checked against that party's commitment and is
        refused before the pre-draw announcement (:meth:`announce`)."""
        with self.store.transaction() as s:
            row = self._announced(s, task)
            self._reveal(s, row, party, contribution, actor)

    def _announced(self, s: Session, task: str) -> DrawRow:
        row = self._frozen(s, task)
        if not row.announcement:
            raise DrawRefused(
                f"task {task}: nothing may be revealed before the pre-draw announcement; "
                "announce the commitments first (shuangsuiji draw announce)"
            )
        return row

    def _commit(self, s: Session, row: DrawRow, party: str, commitment: str, actor: str) -> None:
        ceremony = Ceremony.from_record(json.loads(row.seed_record))
        row.seed_record = _json(ceremony.commit(party, commitment, self._now).to_record())
        payload = {
            "task": row.task,
            "attempt": row.attempt,
            "party": party,
            "commitment": commitment,
            "pool_digest": row.pool_digest,
        }
        self.store.append_event(s, actor, "seed.commit", payload)

    def _reveal(
        self, s: Session, row: DrawRow, party: str, contribution: bytes, actor: str
    ) -> None:
        ceremony = Ceremony.from_record(json.loads(row.seed_record))
        row.seed_record = _json(ceremony.reveal(party, contribution, self._now).to_record())
        payload = {
            "task": row.task,
            "attempt": row.attempt,
            "party": party,
            "contribution": contribution.hex(),
        }
        self.store.append_event(s, actor, "seed.reveal", payload)

    def declare_public_seed(self, task: str, sources: Sequence[PublicSource], *, actor: str) -> str:
        """Declare the public values (lottery numbers, a beacon round) that will make the seed
        of the frozen draw; every value's date must be after today. Returns the declaration's
        digest, which the pre-draw announcement carries."""
        with self.store.transaction() as s:
            row = self._frozen(s, task)
            record = json.loads(row.seed_record)
            if record.get("kind") != "ceremony" or record.get("commitments"):
                raise DrawRefused(
                    f"task {task}: its seed source is already set (parties committed, or "
                    "public values declared); abandon the attempt to choose another"
                )
            declared = PublicAnnouncement(
                task,
                row.pool_digest,
                Ceremony.from_record(record).frozen_at,
                self._now,
                tuple(sources),
            )
            problems = declared.problems()
            if problems:
                raise DrawRefused(f"task {task}: public values refused: " + "; ".join(problems))
            row.seed_record = _json(declared.to_record())
            self.store.append_event(
                s,
                actor,
                "seed.public.declare",
                {"task": task, "attempt": row.attempt} | declared.to_record(),
            )
            return declared.digest()

    def reveal_public_values(self, task: str, values: Sequence[str], *, actor: str) -> None:
        """Enter the declared public values, as published, once their date has come."""
        with self.store.transaction() as s:
            row = self._announced(s, task)
            record = json.loads(row.seed_record)
            if record.get("kind") != "public-declared":
                raise DrawRefused(f"task {task}: no public values were declared for its seed")
            declared = PublicAnnouncement.from_record(record)
            try:
                resolved = declared.resolve(values, self._now)
            except ValueError as exc:
                raise DrawRefused(f"task {task}: {exc}") from exc
            row.seed_record = _json(resolved.to_record())
            self.store.append_event(
                s,
                actor,
                "seed.public.values",
                {"task": task, "attempt": row.attempt, "values": list(resolved.values)},
            )

    def announce(self, task: str, *, actor: str) -> dict[str, Any]:
        """Issue the pre-draw announcement (SSJ-ANNOUNCE-1) of the frozen draw of ``task``.

        It carries the pool digest, the policy hash, the candidate count, the cut-off, the
        seed commitments (or declared public values), the earlier attempts, the audit log's
        head and the previous announcement's digest. Publish it before any reveal; reveals
        are refused until it exists. Refused when the seed sources fall short of the
        policy's ``[draw] independent_parties``.
        """
        with self.store.transaction() as s:
            return self._announce(s, self._frozen(s, task), actor)

    def _independence(
        self, s: Session, row: DrawRow, record: dict[str, Any], *, kind: str, drawer: str
    ) -> tuple[list[dict[str, Any]], int]:
        """The commitments of a ceremony ``record`` with who entered them (from its ``kind``
        of commit events), and how many independent parties there are: parties other than the
        system, entered by distinct people other than the ``drawer``."""
        entered = {str(e.payload["party"]): e.actor for e in self._events_of(s, kind, row)}
        commitments = [
            {
                "party": c["party"],
                "commitment": c["commitment"],
                "entered_by": entered.get(c["party"], ""),
            }
            for c in record.get("commitments", [])
        ]
        people = {
            c["entered_by"]
            for c in commitments
            if c["party"] != SYSTEM_PARTY and c["entered_by"] not in ("", drawer)
        }
        return commitments, len(people)

    def _events_of(self, s: Session, kind: str, row: DrawRow) -> list[AuditEvent]:
        """The ``kind`` events of the draw ``row`` (its task and attempt), in log order."""
        return [
            e
            for e in self.store.events_of([kind], session=s)
            if e.payload.get("task") == row.task and e.payload.get("attempt") == row.attempt
        ]

    def _publish_announcement(
        self, s: Session, row: DrawRow, fields: dict[str, Any], actor: str
    ) -> dict[str, Any]:
        """The announcement of ``fields`` with the log head and the previous announcement's
        digest, logged as a ``draw.announce`` event (entity and team stages alike)."""
        previous = [
            e.payload["announcement"]["digest"]
            for e in self.store.events_of(["draw.announce"], session=s)
        ]
        announcement = draw_announcement(
            fields
            | {"log_head": self.store.log_head(s), "previous": previous[-1] if previous else None}
        )
        self.store.append_event(
            s,
            actor,
            "draw.announce",
            {"task": row.task, "attempt": row.attempt, "announcement": announcement},
        )
        return announcement

    def _announce(self, s: Session, row: DrawRow, actor: str) -> dict[str, Any]:
        if row.announcement:
            raise DrawRefused(f"task {row.task}: attempt {row.attempt} is already announced")
        policy = self.store.policy(row.policy_hash, session=s)
        record = json.loads(row.seed_record)
        wanted = policy.draw.independent_parties
        if record.get("kind") == "public-declared":
            seed: dict[str, Any] = {
                "kind": "public",
                "announcement_digest": record["announcement_digest"],
                "sources": record["sources"],
            }
            independent = wanted
        else:
            commitments, independent = self._independence(
                s, row, record, kind="seed.commit", drawer=row.actor
            )
            if not commitments:
                raise DrawRefused(
                    f"task {row.task}: no seed party has committed; commit the parties "
                    "(shuangsuiji draw commit) or declare public values first"
                )
            seed = {"kind": "ceremony", "commitments": commitments}
        if independent < wanted:
            raise DrawRefused(
                f"task {row.task}: the policy needs {wanted} independent seed part(ies) "
                f"([draw] independent_parties): parties other than {SYSTEM_PARTY}, entered by "
                f"different people other than the drawer {row.actor!r}; found {independent}. "
                "Have the supervising office commit its own contribution, or declare public "
                "values (lottery numbers, a beacon round) that do not exist yet"
            )
        fields = {
            "spec": ANNOUNCE_SPEC,
            "task": row.task,
            "attempt": row.attempt,
            "pool_digest": row.pool_digest,
            "policy_hash": row.policy_hash,
            "candidates": row.candidates,
            "cutoff": row.cutoff.isoformat(),
            "frozen_by": row.actor,
            "seed": seed,
            "independent_parties": independent,
            "attempts": self._attempts(s, row),
        }
        announcement = self._publish_announcement(s, row, fields, actor)
        row.announcement = _json(announcement)
        return announcement

    def _attempts(self, s: Session, row: DrawRow) -> list[dict[str, Any]]:
        """The task's attempts up to ``row``: every one stays visible in the record."""
        return [
            {
                "attempt": r.attempt,
                "state": r.state,
                "reason": r.reason,
                "reason_text": r.reason_text,
                "approved_by": r.approved_by,
                "pool_digest": r.pool_digest,
                "seed": r.seed,
            }
            for r in self._draw_rows(s, row.task)
            if r.attempt <= row.attempt
        ]

    def abandon(self, task: str, *, reason: str, text: str, approved_by: str, actor: str) -> None:
        """Abandon the frozen attempt of ``task`` (e.g. a party never revealed).

        A visible act with a listed reason, a text and a second person; it counts as an
        attempt, so the next draw of the task is a re-draw under ``[draw] max_redraws``.
        """
        with self.store.transaction() as s:
            row = self._frozen(s, task)
            redraw = _Redraw(reason, text, approved_by)
            if redraw.reason not in REDRAW_REASONS or len(text.strip()) < 4:
                raise DrawRefused(
                    f"task {task}: abandoning an attempt needs a listed reason "
                    f"({', '.join(REDRAW_REASONS)}) and a text of what happened"
                )
            if not approved_by.strip() or approved_by.strip() == actor.strip():
                raise DrawRefused(
                    f"task {task}: abandoning an attempt must be approved by a second person"
                )
            row.state = "abandoned"
            row.reason_text = text.strip()
            row.approved_by = approved_by.strip()
            self.store.append_event(
                s,
                actor,
                "draw.abandon",
                {
                    "task": task,
                    "attempt": row.attempt,
                    "reason": reason,
                    "reason_text": text.strip(),
                    "approved_by": approved_by.strip(),
                    "announced": bool(row.announcement),
                },
            )

    def select(self, task: str, *, actor: str) -> DrawResult:
        """Draw the frozen candidates of ``task`` once every ceremony party has revealed."""
        with self.store.transaction() as s:
            return self._select(s, self._announced(s, task), actor=actor)

    def draw(
        self,
        task: str,
        *,
        actor: str,
        cutoff: date | None = None,
        reason: str = "",
        text: str = "",
        approved_by: str = "",
    ) -> DrawResult:
        """Freeze, commit a system seed, announce, reveal and draw — in one transaction.

        The seed then rests on the system alone, and the record says so; a policy with
        ``[draw] independent_parties`` above 0 refuses it. For seeds that nobody can steer run
        the ceremony: :meth:`freeze`, :meth:`commit_seed` for every party, :meth:`announce`
        (publish it), :meth:`reveal_seed` for every party, then :meth:`select`.
        If any step fails nothing is kept, and an error event records the attempt.
        """

        def work(s: Session) -> DrawResult:
            wanted = self.store.policy(session=s).draw.independent_parties
            if wanted:
                raise DrawRefused(
                    f"task {task}: the policy needs {wanted} independent seed part(ies), so "
                    "a seed made by the system alone is refused; run the ceremony: "
                    "freeze, commit (each party), announce, reveal (each party), select"
                )
            redraw = _Redraw(reason, text, approved_by)
            _, row = self._freeze(s, task, actor=actor, cutoff=cutoff, redraw=redraw)
            value = random_seed()
            digest = party_commitment(task, row.pool_digest, SYSTEM_PARTY, value)
            self._commit(s, row, SYSTEM_PARTY, digest, actor)
            self._announce(s, row, actor)
            self._reveal(s, row, SYSTEM_PARTY, value, actor)
            return self._select(s, row, actor=actor)

        return self._logged_errors(task, None, actor, work)

    def _candidates_of(self, s: Session, row: DrawRow) -> tuple[list[str], Strata]:
        rows = s.execute(
            select(DrawCandidateRow.entity_id, DrawCandidateRow.stratum)
            .where(DrawCandidateRow.draw_id == row.id)
            .order_by(DrawCandidateRow.entity_id)
        ).all()
        return [r[0] for r in rows], Strata.from_labels([r[1] for r in rows])

    def _rebuild(self, s: Session, row: DrawRow) -> tuple[Draw, list[str], Strata]:
        ids, strata = self._candidates_of(s, row)
        rules = {k: SizeRule.from_json(v) for k, v in json.loads(row.strata).items()}
        draw = draw_entities(
            ids, strata, rules, task_label=row.task, seed=row.seed or "", scheme=row.ticket_scheme
        )
        for rep in s.execute(
            select(ReplacementRow)
            .where(ReplacementRow.draw_id == row.id)
            .order_by(ReplacementRow.id)
        ).scalars():
            draw = draw.replace(rep.entity_id, ReplacementReason(rep.reason), rep.note)
        return draw, ids, strata

    def _select(self, s: Session, row: DrawRow, *, actor: str) -> DrawResult:
        try:
            seed = provenance_from_record(json.loads(row.seed_record)).seed()
        except ValueError as exc:
            raise DrawRefused(f"task {row.task}: no seed yet: {exc}") from exc
        row.seed = seed.hex()
        draw, ids, strata = self._rebuild(s, row)
        picks = [
            {
                "draw_id": row.id,
                "entity_id": p.id,
                "stratum": p.stratum,
                "rank": rank,
                "role": role,
                "ticket": p.ticket,
            }
            for role, group in (("selected", draw.selected), ("alternate", draw.alternates))
            for rank, p in enumerate(group, start=1)
        ]
        if picks:
            s.execute(insert(DrawPickRow), picks)
        row.state = "drawn"
        row.drawn_time = self._now.isoformat()
        bundle = self._bundle(s, row, draw, ids, strata)
        previous = [r for r in self._draw_rows(s, row.task) if r.id != row.id]
        kind = "redraw" if previous else "draw"
        payload: dict[str, Any] = {
            "task": row.task,
            "attempt": row.attempt,
            "seed": row.seed,
            "pool_digest": row.pool_digest,
            "policy_hash": row.policy_hash,
            "selected": [p.id for p in draw.selected],
            "alternates": len(draw.alternates),
            "record_digest": bundle["record_digest"],
        }
        if previous:
            payload |= {
                "reason": row.reason,
                "reason_text": row.reason_text,
                "approved_by": row.approved_by,
                "previous_attempt": previous[-1].attempt,
            }
        self.store.append_event(s, actor, kind, payload)
        return DrawResult(row.task, row.attempt, draw, bundle)

    def _teams_of(self, s: Session, row: DrawRow) -> list[dict[str, Any]]:
        members = s.execute(
            select(TeamMemberRow.entity_id, TeamMemberRow.inspector_id)
            .where(TeamMemberRow.draw_id == row.id)
            .order_by(TeamMemberRow.entity_id, TeamMemberRow.inspector_id)
        ).all()
        teams: dict[str, list[str]] = {}
        for entity, inspector in members:
            teams.setdefault(entity, []).append(inspector)
        return [{"entity": e, "inspectors": i} for e, i in teams.items()]

    def _bundle(
        self, s: Session, row: DrawRow, draw: Draw, ids: Sequence[str], strata: Strata
    ) -> dict[str, Any]:
        stored = json.loads(row.exclusions)
        exclusions = [{"reason": e["reason"], "count": e["count"]} for e in stored]
        assignment = json.loads(row.assignment) if row.assignment else None
        frozen_team = json.loads(row.team_seed) if row.team_seed else None
        bundle = make_bundle(
            draw,
            ids,
            strata,
            seed_provenance=json.loads(row.seed_record),
            teams=self._teams_of(s, row),
            policy_hash=row.policy_hash,
            exclusions=exclusions,
            staffing=assignment["staffing"] if assignment else None,
            assignment=assignment["assignment"] if assignment else None,
            process={
                "attempt": row.attempt,
                "attempts": self._attempts(s, row),
                "cutoff": row.cutoff.isoformat(),
                "announcement": json.loads(row.announcement) if row.announcement else None,
                "excluded": [{"reason": e["reason"], "ids": e.get("ids", [])} for e in stored],
                "team_seed": _public_team_seed(frozen_team) if frozen_team else None,
            },
        )
        row.bundle = _json(bundle)
        return bundle

    def _latest_drawn(self, s: Session, task: str) -> DrawRow | None:
        """The task's current draw (its latest drawn attempt), or ``None``."""
        rows = [r for r in self._draw_rows(s, task) if r.state == "drawn"]
        return rows[-1] if rows else None

    def _current(self, s: Session, task: str) -> DrawRow:
        row = self._latest_drawn(s, task)
        if row is None:
            raise DrawRefused(f"task {task} has not been drawn yet")
        return row

    def replace(
        self,
        task: str,
        entity_id: str,
        reason: ReplacementReason | str,
        *,
        actor: str,
        note: str = "",
    ) -> str:
        """Replace a selected entity by its stratum's next alternate; returns the alternate."""
        with self.store.transaction() as s:
            row = self._current(s, task)
            if row.assignment:
                raise DrawRefused(
                    f"task {task}: teams are already assigned, so a selected entity can no longer "
                    "be replaced; re-draw the task with a recorded reason"
                )
            draw, ids, strata = self._rebuild(s, row)
            after = draw.replace(entity_id, ReplacementReason(reason), note)
            rep = after.replacements[-1]
            s.add(
                ReplacementRow(
                    draw_id=row.id,
                    entity_id=rep.replaced,
                    replaced_by=rep.by,
                    reason=rep.reason.value,
                    note=note,
                    actor=actor,
                    time=self._now.isoformat(),
                )
            )
            bundle = self._bundle(s, row, after, ids, strata)
            self.store.append_event(
                s,
                actor,
                "replacement",
                {
                    "task": task,
                    "attempt": row.attempt,
                    "entity": rep.replaced,
                    "by": rep.by,
                    "stratum": rep.stratum,
                    "reason": rep.reason.value,
                    "note": note,
                    "record_digest": bundle["record_digest"],
                },
            )
            return rep.by

    def current_draw(self, task: str) -> DrawResult:
        """The task's latest draw, rebuilt from its record (with replacements applied)."""
        with Session(self.store.engine) as s:
            row = self._current(s, task)
            draw, _, _ = self._rebuild(s, row)
            return DrawResult(task, row.attempt, draw, json.loads(row.bundle or "{}"))

    def verify_records(self) -> list[RecordProblem]:
        """Check every table that decides an outcome against the audit log; an empty list
        means they agree.

        The chain (:meth:`Store.verify_log`) proves the log was not altered; this proves the
        tables were not altered around it (:func:`shuangsuiji.integrity.check_records`): the
        draws, their candidates (re-digested), picks, teams and replacements against the freeze,
        draw and team events and the bundle they logged; results, publications, policies
        (re-hashed), result categories, tasks, items and import records against their
        events, both ways; and each pool table
        (entities, inspectors, conflicts) against the SSJ-POOL-STATE-1 state its last import
        logged. Every difference is returned, naming the table, the row and what differs.
        """
        with snapshot(self.store.engine) as s:
            tables, events = read_records(s)
        return check_records(tables, events)

    def draws(self, task: str) -> list[dict[str, Any]]:
        """Every draw of ``task`` (first and re-draws), oldest first, as summaries."""
        with Session(self.store.engine) as s:
            return [
                {
                    "attempt": r.attempt,
                    "state": r.state,
                    "reason": r.reason,
                    "pool_digest": r.pool_digest,
                    "seed": r.seed,
                    "candidates": r.candidates,
                    "frozen": r.frozen_time,
                    "drawn": r.drawn_time,
                }
                for r in self._draw_rows(s, task)
            ]

    def bundle(self, task: str, attempt: int | None = None) -> dict[str, Any]:
        """The draw bundle of the task's latest (or a given) draw."""
        with Session(self.store.engine) as s:
            rows = [r for r in self._draw_rows(s, task) if r.state == "drawn"]
            chosen = rows if attempt is None else [r for r in rows if r.attempt == attempt]
            if not chosen or chosen[-1].bundle is None:
                raise DrawRefused(f"task {task} has no drawn attempt {attempt or ''}".strip())
            result: dict[str, Any] = json.loads(chosen[-1].bundle)
            return result

    def export_bundle(self, task: str, path: str | Path) -> Path:
        """Write the task's draw bundle as UTF-8 JSON; returns the path."""
        out = Path(path)
        out.write_text(
            json.dumps(self.bundle(task), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        return out

    def draw_record(self, task: str, *, agency: str = "") -> str:
        """The printable HTML draw record (抽取记录) of the task's latest draw.

        It carries the task, the policy hash, the pool digest, the seed's commitments and
        reveals, the time line of the task's audit events, the selected entities (with names)
        and their teams, the alternates, and the audit log's head at printing time.
        """
        from shuangsuiji.audit import format_utc
        from shuangsuiji.report import render_draw_record

        bundle = self.bundle(task)
        found = self.store.task(task)
        plan = {p.code: p.name for p in self.store.plans()}.get(found.plan, found.plan)
        departments = {d.code: d.name for d in self.store.departments()}
        events = [e for e in self.store.audit_events() if e.payload.get("task") == task]
        head = self.store.audit_events()[-1]
        picked = [p["id"] for p in (*bundle["selected"], *bundle["alternates"])]
        pool = self.store.load_entities()
        names = {pool.ids[r].decode(): str(pool.names[r]) for r in pool.index_of(picked).tolist()}
        inspectors = self.store.load_inspectors()
        names |= {i: str(n) for i, n in zip(inspectors.id_list(), inspectors.names, strict=True)}
        extras = {
            "task": {
                "name": found.name,
                "plan": plan,
                "departments": "、".join(departments.get(d, d) for d in found.departments),
                "items": "、".join(found.items),
                "start": found.start.isoformat(),
                "end": found.end.isoformat(),
            },
            "events": [e.to_dict() for e in events],
            "audit_head": {"seq": head.seq, "hash": head.hash},
            "names": names,
        }
        return render_draw_record(
            bundle, extras=extras, printed_at=format_utc(self._now), agency=agency
        )

    # -- teams ----------------------------------------------------------------------------

    def _staffing(self, s: Session, row: DrawRow, on: date | None) -> Staffing:
        task = self.store.task(row.task, session=s)
        policy = self.store.policy(row.policy_hash, session=s)
        day = on or task.start
        draw, _, _ = self._rebuild(s, row)
        pool = self.store.load_entities(session=s)
        active = [p.id for p in draw.active]
        others = (
            select(TeamMemberRow.inspector_id, TeamMemberRow.entity_id, TaskRow.start, TaskRow.end)
            .join(DrawRow, DrawRow.id == TeamMemberRow.draw_id)
            .join(TaskRow, TaskRow.code == DrawRow.task)
            .where(DrawRow.task != row.task)
        )
        past = s.execute(others).all()
        window = timedelta(days=policy.team.period_days)
        load: dict[str, int] = {}
        for inspector, _, start, _ in past:
            if day - window < start <= day:
                load[inspector] = load.get(inspector, 0) + 1
        return Staffing(
            entities=pool.take(pool.index_of(active)),
            inspectors=self.store.load_inspectors(session=s),
            needs=TaskNeeds.from_task(task, self.store.items(session=s), day),
            config=team_config(policy),
            conflicts=conflict_table(self.store.conflicts(session=s)),
            history=PastAssignments.from_rows([(i, e, end) for i, e, _, end in past]),
            prior_load=load,
        )

    def _save_teams(
        self, s: Session, row: DrawRow, staffing: dict[str, Any], assignment: Assignment
    ) -> dict[str, Any]:
        s.execute(delete(TeamMemberRow).where(TeamMemberRow.draw_id == row.id))
        members = [
            {"draw_id": row.id, "entity_id": t.entity_id, "inspector_id": i}
            for t in assignment.teams
            for i in t.inspector_ids
        ]
        if members:
            s.execute(insert(TeamMemberRow), members)
        row.assignment = _json({"staffing": staffing, "assignment": assignment.to_dict()})
        draw, ids, strata = self._rebuild(s, row)
        return self._bundle(s, row, draw, ids, strata)

    def freeze_staffing(self, task: str, *, actor: str, on: date | None = None) -> str:
        """Freeze what the team draw of ``task`` depends on and open its team-seed ceremony.

        The staffing (officers of the task's departments, conflicts declared so far — also
        those declared after seeing the entity list —, past inspections, loads) and the
        inspection date ``on`` (default: the task's start; within the task's window) are fixed
        and their SSJ-STAFFING-1 digest recorded before any team seed exists. Returns the
        digest, to which every team-seed party commits (:meth:`commit_team_seed`).
        """
        with self.store.transaction() as s:
            return str(self._freeze_staffing(s, task, actor, on)["staffing_digest"])

    def _freeze_staffing(
        self, s: Session, task: str, actor: str, on: date | None
    ) -> dict[str, Any]:
        row = self._current(s, task)
        if row.assignment:
            raise DrawRefused(
                f"task {task}: teams are already drawn; take an inspector off a team with "
                "`shuangsuiji teams reassign` and a reason"
            )
        if row.team_seed:
            raise DrawRefused(f"task {task}: the staffing is already frozen; reveal the team seed")
        the_task = self.store.task(task, session=s)
        day = on or the_task.start
        if not the_task.start <= day <= the_task.end:
            raise DrawRefused(
                f"task {task}: inspection date {day.isoformat()} is outside the task's window "
                f"{the_task.start.isoformat()}..{the_task.end.isoformat()}"
            )
        record = staffing_record(self._staffing(s, row, day))
        digest = staffing_digest(record)
        frozen = {
            "on": day.isoformat(),
            "staffing_digest": digest,
            "staffing": record,
            "frozen_by": actor,
            "ceremony": Ceremony(task, digest, self._now).to_record(),
        }
        row.team_seed = _json(frozen)
        self.store.append_event(
            s,
            actor,
            "teams.freeze",
            {
                "task": task,
                "attempt": row.attempt,
                "on": day.isoformat(),
                "staffing_digest": digest,
                "conflicts": len(record.get("conflicts", [])),
            },
        )
        return frozen

    def _team_ceremony(self, s: Session, task: str) -> tuple[DrawRow, dict[str, Any]]:
        row = self._current(s, task)
        if not row.team_seed or row.assignment:
            raise DrawRefused(
                f"task {task}: no frozen staffing waiting for a team seed; freeze the staffing "
                "first (shuangsuiji teams freeze)"
            )
        return row, json.loads(row.team_seed)

    def commit_team_seed(self, task: str, party: str, commitment: str, *, actor: str) -> None:
        """Record a team-seed party's commitment (SSJ-SEED-1, bound to the staffing digest)."""
        with self.store.transaction() as s:
            row, frozen = self._team_ceremony(s, task)
            self._team_step(s, row, frozen, actor, party=party, commitment=commitment)

    def reveal_team_seed(self, task: str, party: str, contribution: bytes, *, actor: str) -> None:
        """Record a team-seed party's reveal (checked against its commitment); refused before
        the team announcement (:meth:`announce_teams`)."""
        with self.store.transaction() as s:
            row, frozen = self._team_ceremony(s, task)
            self._team_step(s, row, frozen, actor, party=party, contribution=contribution)

    def announce_teams(self, task: str, *, actor: str) -> dict[str, Any]:
        """Issue the team announcement (SSJ-ANNOUNCE-1, stage ``teams``): the staffing digest,
        the inspection date and the team-seed commitments with who entered them, the log head
        and the previous announcement. Publish it before any team-seed reveal. Refused when
        the independent parties fall short of ``[draw] independent_parties``."""
        with self.store.transaction() as s:
            row, frozen = self._team_ceremony(s, task)
            return self._announce_teams(s, row, frozen, actor)

    def _announce_teams(
        self, s: Session, row: DrawRow, frozen: dict[str, Any], actor: str
    ) -> dict[str, Any]:
        if frozen.get("announcement"):
            raise DrawRefused(f"task {row.task}: the team seed is already announced")
        commitments, independent = self._independence(
            s, row, frozen["ceremony"], kind="teams.seed.commit", drawer=frozen["frozen_by"]
        )
        if not commitments:
            raise DrawRefused(
                f"task {row.task}: no team-seed party has committed (shuangsuiji seed commit "
                "--teams)"
            )
        wanted = self.store.policy(row.policy_hash, session=s).draw.independent_parties
        if independent < wanted:
            raise DrawRefused(
                f"task {row.task}: the policy needs {wanted} independent team-seed part(ies) "
                f"([draw] independent_parties), entered by people other than "
                f"{frozen['frozen_by']!r}; found {independent}"
            )
        fields = {
            "spec": ANNOUNCE_SPEC,
            "stage": "teams",
            "task": row.task,
            "attempt": row.attempt,
            "staffing_digest": frozen["staffing_digest"],
            "on": frozen["on"],
            "frozen_by": frozen["frozen_by"],
            "seed": {"kind": "ceremony", "commitments": commitments},
            "independent_parties": independent,
        }
        frozen["announcement"] = self._publish_announcement(s, row, fields, actor)
        row.team_seed = _json(frozen)
        return dict(frozen["announcement"])

    def _team_step(
        self,
        s: Session,
        row: DrawRow,
        frozen: dict[str, Any],
        actor: str,
        *,
        party: str,
        commitment: str | None = None,
        contribution: bytes | None = None,
    ) -> None:
        ceremony = Ceremony.from_record(frozen["ceremony"])
        if (contribution is None) == bool(frozen.get("announcement")):
            raise DrawRefused(
                f"task {row.task}: no team-seed party may commit after the team announcement"
                if contribution is None
                else f"task {row.task}: nothing may be revealed before the team announcement; "
                "announce the team-seed commitments first (shuangsuiji seed announce --teams)"
            )
        if contribution is None:
            ceremony = ceremony.commit(party, str(commitment), self._now)
            kind, detail = "teams.seed.commit", {"commitment": commitment}
        else:
            ceremony = ceremony.reveal(party, contribution, self._now)
            kind, detail = "teams.seed.reveal", {"contribution": contribution.hex()}
        frozen["ceremony"] = ceremony.to_record()
        row.team_seed = _json(frozen)
        payload = {"task": row.task, "attempt": row.attempt, "party": party} | detail
        self.store.append_event(s, actor, kind, payload)

    def draw_teams(self, task: str, *, actor: str) -> Assignment:
        """Draw the teams once every team-seed party revealed (SSJ-TEAM-1 key, SSJ-ASSIGN-1).

        Refused when the team seed's independent parties fall short of the policy's
        ``[draw] independent_parties``. Raises
        :class:`~shuangsuiji.assign.InfeasibleAssignment` naming the entities that cannot be
        staffed and why; nothing is kept then but an error event.
        """
        return self._logged_errors(
            task, "teams.assign", actor, lambda s: self._draw_teams(s, task, actor)
        )

    def _draw_teams(self, s: Session, task: str, actor: str) -> Assignment:
        row, frozen = self._team_ceremony(s, task)
        ceremony = Ceremony.from_record(frozen["ceremony"])
        try:
            seed = ceremony.seed()
        except ValueError as exc:
            raise DrawRefused(f"task {task}: no team seed yet: {exc}") from exc
        key = team_key(task, frozen["staffing_digest"], seed)
        assignment = assign_teams(staffing_from_record(frozen["staffing"]), key)
        bundle = self._save_teams(s, row, frozen["staffing"], assignment)
        self.store.append_event(
            s,
            actor,
            "teams.assign",
            {
                "task": task,
                "attempt": row.attempt,
                "teams": len(assignment.teams),
                "team_size": assignment.team_size,
                "team_seed": seed.hex(),
                "staffing_digest": frozen["staffing_digest"],
                "stream": attrs.asdict(assignment.stream),
                "exclusions": dict(assignment.exclusion_counts),
                "record_digest": bundle["record_digest"],
            },
        )
        return assignment

    def _logged_errors(
        self, task: str, step: str | None, actor: str, work: Callable[[Session], _T]
    ) -> _T:
        """Run ``work(session)`` in one transaction; on a refusal keep only a ``draw.error``
        event (naming the ``step`` unless it is the entity draw itself)."""
        try:
            with self.store.transaction() as s:
                return work(s)
        except ValueError as exc:
            payload = {"task": task} | ({"step": step} if step else {})
            with self.store.transaction() as s:
                self.store.append_event(
                    s, actor, "draw.error", payload | {"error": str(exc)[:2000]}
                )
            raise

    def assign_teams(self, task: str, *, actor: str, on: date | None = None) -> Assignment:
        """Freeze the staffing, make a system team seed and draw the teams, in one transaction.

        The team seed then rests on the system alone and the record says so; a policy with
        ``[draw] independent_parties`` above 0 refuses it: run :meth:`freeze_staffing`,
        :meth:`commit_team_seed` and :meth:`reveal_team_seed` for every party, then
        :meth:`draw_teams`.
        """

        def work(s: Session) -> Assignment:
            wanted = self.store.policy(session=s).draw.independent_parties
            if wanted:
                raise DrawRefused(
                    f"task {task}: the policy needs {wanted} independent team-seed part(ies), "
                    "so a team seed made by the system alone is refused; run the team "
                    "ceremony: teams freeze, commit (each party), reveal (each party), draw"
                )
            frozen = self._freeze_staffing(s, task, actor, on)
            row = self._current(s, task)
            value = random_seed()
            commitment = party_commitment(task, frozen["staffing_digest"], SYSTEM_PARTY, value)
            self._team_step(s, row, frozen, actor, party=SYSTEM_PARTY, commitment=commitment)
            self._announce_teams(s, row, frozen, actor)
            self._team_step(s, row, frozen, actor, party=SYSTEM_PARTY, contribution=value)
            return self._draw_teams(s, task, actor)

        return self._logged_errors(task, "teams.assign", actor, work)

    def _team_key(self, s: Session, row: DrawRow) -> bytes:
        """The SSJ-ASSIGN-1 key of the task's teams: from its team seed (SSJ-TEAM-1), or the
        entity draw's key for teams drawn before team seeds existed."""
        if not row.team_seed:
            return self._rebuild(s, row)[0].key
        frozen = json.loads(row.team_seed)
        seed = Ceremony.from_record(frozen["ceremony"]).seed()
        return team_key(row.task, frozen["staffing_digest"], seed)

    def staffing(self, task: str, *, on: date | None = None) -> Staffing:
        """What a team draw of ``task`` would depend on now (for dry runs and analysis)."""
        with self.store.reading() as s:
            return self._staffing(s, self._current(s, task), on)

    def teams(self, task: str) -> dict[str, tuple[str, ...]]:
        """The task's current teams: entity → inspector IDs."""
        with self.store.reading() as s:
            row = self._current(s, task)
            return {t["entity"]: tuple(t["inspectors"]) for t in self._teams_of(s, row)}

    def reassign(
        self, task: str, entity: str, inspector: str, reason: str, *, actor: str, text: str = ""
    ) -> tuple[str, ...]:
        """Take ``inspector`` off ``entity``'s team (recusal after the draw) and draw a
        replacement from the same stream; other teams stay as they are. Returns the new team."""
        with self.store.transaction() as s:
            row = self._current(s, task)
            if not row.assignment:
                raise DrawRefused(f"task {task}: no teams assigned yet")
            saved = json.loads(row.assignment)
            staffing = staffing_from_record(saved["staffing"])
            before = Assignment.from_dict(saved["assignment"])
            done = sum(1 for r in before.reassignments if r.entity_id == entity)
            cap = self.store.policy(row.policy_hash, session=s).draw.max_reassignments
            if done >= cap:
                raise DrawRefused(
                    f"task {task}: the team of {entity} was already re-drawn {done} time(s); the "
                    f"policy allows {cap} ([draw] max_reassignments). Replace the entity or "
                    "re-draw the task with a recorded reason and a second person's approval"
                )
            after = reassign(
                staffing, before, self._team_key(s, row), [Recusal(entity, inspector, reason, text)]
            )
            bundle = self._save_teams(s, row, saved["staffing"], after)
            change = after.reassignments[-1]
            self.store.append_event(
                s,
                actor,
                "teams.reassign",
                change.to_dict()
                | {"task": task, "attempt": row.attempt, "record_digest": bundle["record_digest"]},
            )
            return after.team_of(entity).inspector_ids

    # -- results and publication ------------------------------------------------------------

    def categories(self, *, session: Session | None = None) -> ResultCategories:
        """The standard result categories plus the agency's own."""
        catalogue = ResultCategories.standard()
        with self.store.reading(session) as s:
            for row in s.execute(
                select(ResultCategoryRow).order_by(ResultCategoryRow.code)
            ).scalars():
                catalogue = catalogue.with_category(
                    row.code, row.label_zh, row.label_en, kind=row.kind
                )
        return catalogue

    def add_category(
        self, code: str, label_zh: str, label_en: str, *, actor: str, kind: str = "problem"
    ) -> None:
        """Add an agency result category (e.g. a department's violation code)."""
        with self.store.transaction() as s:
            self.categories(session=s).with_category(code, label_zh, label_en, kind=kind)
            s.add(ResultCategoryRow(code=code, label_zh=label_zh, label_en=label_en, kind=kind))
            self.store.append_event(
                s,
                actor,
                "category.change",
                {"code": code, "label_zh": label_zh, "label_en": label_en, "kind": kind},
            )

    def _results(
        self, s: Session, task: str | None = None, entity: str | None = None
    ) -> list[InspectionResult]:
        catalogue = self.categories(session=s)
        query = select(ResultRow).order_by(ResultRow.id)
        if task is not None:
            query = query.where(ResultRow.task == task)
        if entity is not None:
            query = query.where(ResultRow.entity_id == entity)
        return [_result_of(r, catalogue) for r in s.execute(query).scalars()]

    def results(self, task: str | None = None) -> list[InspectionResult]:
        """Every stored result version (of one task), oldest first."""
        with self.store.reading() as s:
            return self._results(s, task)

    def _store_result(self, s: Session, result: InspectionResult, actor: str) -> None:
        s.add(
            ResultRow(
                task=result.task,
                entity_id=result.entity,
                item=result.item,
                version=result.version,
                categories=_json(list(result.categories)),
                follow_up=result.follow_up,
                inspection_start=result.inspection_start,
                inspection_end=result.inspection_end,
                inspectors=_json(list(result.inspectors)),
                recorded_by=result.recorded_by,
                recorded_at=result.recorded_at.isoformat(),
                correction_reason=result.correction_reason,
            )
        )
        kind = "result.record" if result.version == 1 else "result.correct"
        self.store.append_event(s, actor, kind, result.to_dict())

    def _teams_drawn_on(self, s: Session, row: DrawRow) -> date | None:
        """The day (China time) the teams of ``row`` were drawn, from its audit event."""
        for event in self._events_of(s, "teams.assign", row):
            return datetime.fromisoformat(event.time).astimezone(CHINA_STANDARD_TIME).date()
        return None

    def _result_scopes(self, s: Session, wanted: set[str]) -> dict[str, ResultScope]:
        """What the one result check needs to know about every task (in detail: ``wanted``)."""
        size = self.store.policy(session=s).team.size
        scopes = {}
        for task in self.store.tasks(session=s):
            row = self._latest_drawn(s, task.code) if task.code in wanted else None
            if row is None:
                scopes[task.code] = ResultScope(task=task, team_size=size)
                continue
            selected = frozenset(p.id for p in self._rebuild(s, row)[0].active)
            if not row.assignment:
                scopes[task.code] = ResultScope(task=task, selected=selected, team_size=size)
                continue
            changes = Assignment.from_dict(json.loads(row.assignment)["assignment"])
            scopes[task.code] = ResultScope(
                task=task,
                selected=selected,
                teams={t["entity"]: frozenset(t["inspectors"]) for t in self._teams_of(s, row)},
                teams_drawn=self._teams_drawn_on(s, row),
                recused={
                    (r.entity_id, r.inspector_id): recusal_label(r.reason, r.text)
                    for r in changes.reassignments
                },
                team_size=size,
            )
        return scopes

    def _check_results(self, s: Session, results: Sequence[InspectionResult]) -> None:
        """The one check of every recorded result (:func:`shuangsuiji.results.scope_problems`)."""
        scopes = self._result_scopes(s, {r.task for r in results})
        problems = []
        for r in results:
            found = scope_problems(
                *r.key, r.inspectors, (r.inspection_start, r.inspection_end), scopes
            )
            problems += [f"{r.task} / {r.entity} / {r.item}: {p}" for p in found]
        if problems:
            raise StoreError(
                f"results refused, nothing recorded ({len(problems)} problem(s)): "
                + "; ".join(problems[:20])
            )

    def record_result(
        self,
        task: str,
        entity: str,
        item: str,
        categories: Sequence[str] | str,
        *,
        inspection_start: date,
        inspection_end: date,
        inspectors: Sequence[str],
        actor: str,
        follow_up: str = "",
        reason: str = "",
    ) -> InspectionResult:
        """Record the result of one inspected item; a second one is a correction (needs reason)."""
        entry = ResultEntry(
            task,
            entity,
            item,
            categories,
            inspection_start,
            inspection_end,
            inspectors,
            follow_up,
            reason,
        )
        return self.record_results([entry], actor=actor)[0]

    def record_results(
        self, entries: Sequence[ResultEntry], *, actor: str
    ) -> list[InspectionResult]:
        """Record many results in one transaction (all or none), each with its audit event.

        An entry for a task × entity × item already recorded is a correction and needs its
        ``reason``; the person recording is ``actor``.
        """
        with self.store.transaction() as s:
            catalogue = self.categories(session=s)
            latest: dict[tuple[str, str, str], InspectionResult] = {}
            for task in sorted({e.task for e in entries}):
                for r in self._results(s, task):
                    if r.key not in latest or r.version > latest[r.key].version:
                        latest[r.key] = r
            out = []
            for e in entries:
                previous = latest.get((e.task, e.entity, e.item))
                if previous is not None:
                    result = correct(
                        previous,
                        reason=e.reason,
                        recorded_by=actor,
                        recorded_at=self._now,
                        categories=e.categories,
                        follow_up=e.follow_up,
                        inspection_start=e.inspection_start,
                        inspection_end=e.inspection_end,
                        inspectors=e.inspectors,
                    )
                else:
                    result = InspectionResult(
                        task=e.task,
                        entity=e.entity,
                        item=e.item,
                        categories=e.categories,
                        inspection_start=e.inspection_start,
                        inspection_end=e.inspection_end,
                        inspectors=e.inspectors,
                        recorded_by=actor,
                        recorded_at=self._now,
                        follow_up=e.follow_up,
                        catalogue=catalogue,
                    )
                latest[result.key] = result
                out.append(result)
            self._check_results(s, out)
            for result in out:
                self._store_result(s, result, actor)
            return out

    def import_results(self, source: Any, *, actor: str) -> list[InspectionResult]:
        """Import results from CSV (``shuangsuiji.results.RESULT_COLUMNS``), all or nothing."""
        with self.store.transaction() as s:
            recorded = {r.key for r in self._results(s)}
            results = read_results_csv(
                source,
                self.categories(session=s),
                recorded_at=self._now,
                recorded_by=actor,
                scopes=self._result_scopes(s, {t.code for t in self.store.tasks(session=s)}),
                recorded=recorded,
            )
            for result in results:
                self._store_result(s, result, actor)
            return results

    def _published(
        self, s: Session, task: str | None = None, entity: str | None = None
    ) -> dict[tuple[str, str], tuple[date, str]]:
        query = select(
            PublicationRow.task,
            PublicationRow.entity_id,
            PublicationRow.published,
            PublicationRow.published_by,
        ).order_by(PublicationRow.id)
        if task is not None:
            query = query.where(PublicationRow.task == task)
        if entity is not None:
            query = query.where(PublicationRow.entity_id == entity)
        return {(t, e): (d, by) for t, e, d, by in s.execute(query)}

    def publications(
        self,
        plan: str | None = None,
        *,
        estimate: bool = False,
        task: str | None = None,
        entity: str | None = None,
    ) -> list[PublicationRecord]:
        """Publication records (one per inspected entity per task) with their due dates."""
        with self.store.reading() as s:
            plans = self.store.plans(session=s)
            chosen = [p for p in plans if plan is None or p.code == plan]
            results = self._results(s, task, entity)
            names = self._entity_names(s, {r.entity for r in results})
            out: list[PublicationRecord] = []
            for p in chosen:
                tasks = self.store.tasks(p.code, session=s)
                codes = {t.code for t in tasks}
                mine = [r for r in results if r.task in codes]
                if not mine:
                    continue
                out += build_records(
                    mine,
                    plan=p,
                    tasks=tasks,
                    items=self.store.items(session=s),
                    departments=self.store.departments(session=s),
                    entity_names=names,
                    policy=self.store.policy(session=s),
                    estimate=estimate,
                    published=self._published(s, task, entity),
                )
            return out

    def _entity_names(self, s: Session, ids: set[str]) -> dict[str, str]:
        wanted = sorted(ids)
        rows: list[tuple[str, str]] = []
        for start in range(0, len(wanted), 5_000):
            chunk = wanted[start : start + 5_000]
            rows += [
                (r[0], r[1])
                for r in s.execute(
                    select(EntityRow.id, EntityRow.name).where(EntityRow.id.in_(chunk))
                )
            ]
        return dict(rows)

    def publish(
        self,
        task: str,
        entity: str,
        *,
        actor: str,
        on: date | None = None,
        reason: str = "",
        approved_by: str = "",
    ) -> PublicationRecord:
        """Record the publication (公示) of one entity's results in one task; the snapshot is kept.

        The publication date is a fact: the day (China time) this call runs on the store's
        clock. ``on`` may name that day, or an earlier one only as a recorded correction (the
        publication happened but was not entered): then ``reason`` says why, and a second person,
        ``approved_by`` (not ``actor``), approves it; both go into the audit event. A date after
        today is refused.
        """
        today = self._now.astimezone(CHINA_STANDARD_TIME).date()
        day = today if on is None else on
        backdated = backdate_problems(day, today, actor=actor, reason=reason, approver=approved_by)
        if backdated:
            raise StoreError(f"{entity} in task {task}: " + "; ".join(backdated))
        records = {r.key: r for r in self.publications(task=task, entity=entity)}
        record = records.get((task, entity))
        if record is None:
            raise StoreError(f"no results recorded for {entity} in task {task}; nothing to publish")
        done = record.publish(day, by=actor)
        with self.store.transaction() as s:
            if (task, entity) in self._published(s, task, entity):
                raise StoreError(f"{entity} in task {task} is already published")
            snapshot = done.to_dict()
            s.add(
                PublicationRow(
                    task=task,
                    entity_id=entity,
                    published=day,
                    published_by=actor,
                    snapshot=_json(snapshot),
                    time=self._now.isoformat(),
                )
            )
            event = {
                "task": task,
                "entity": entity,
                "published": day.isoformat(),
                "due": snapshot.get("due"),
                "status": done.status(day).value,
            }
            if day != today:
                event |= {
                    "entered_on": today.isoformat(),
                    "correction": {"reason": reason.strip(), "approved_by": approved_by.strip()},
                }
            self.store.append_event(s, actor, "publication", event)
        return done

    def selected_ids(self, task: str) -> list[str]:
        """The task's current selection (replacements applied), in order."""
        return [p.id for p in self.current_draw(task).draw.active]

    # -- exports and announcements (一公开) -----------------------------------------------------

    def uninspected(self, plan: str | None = None) -> list[Uninspected]:
        """The entities that the current draws (of ``plan``'s tasks) selected and that have no
        result recorded: still to be inspected, or never inspected once the task has ended."""
        with self.store.reading() as s:
            recorded = set(s.execute(select(ResultRow.task, ResultRow.entity_id).distinct()))
            out = []
            for task in self.store.tasks(plan, session=s):
                row = self._latest_drawn(s, task.code)
                if row is None:
                    continue
                active = [p.id for p in self._rebuild(s, row)[0].active]
                missing = [e for e in active if (task.code, e) not in recorded]
                names = self._entity_names(s, set(missing))
                out += [
                    Uninspected(task.code, task.name, task.end, e, names.get(e, ""))
                    for e in missing
                ]
            return out

    def export_publications(
        self, out_dir: str | Path, *, today: date, issuer: str = ""
    ) -> dict[str, Path]:
        """Write the publication files into ``out_dir``:

        - ``publication.html``: the public results page (抽查结果公示), published records only;
        - ``publication-internal.html``: the internal work page (内部) — the records not yet
          published with their due dates and statuses, and the selected entities without a
          result (:meth:`uninspected`);
        - ``publications.csv`` (UTF-8 with BOM) and ``publications.json``: every record with its
          status on ``today``, for the agency's own use (internal, like the page above).
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        records = self.publications()
        texts = {
            "publications.csv": records_csv(records, today=today),
            "publications.json": to_json([r.to_dict() for r in records]),
            "publication.html": publication_html(records, today=today, issuer=issuer),
            "publication-internal.html": internal_publication_html(
                records, today=today, issuer=issuer, uninspected=self.uninspected()
            ),
        }
        return {name: write_text(text, out / name) for name, text in texts.items()}

    def _plan(self, s: Session, code: str) -> Plan:
        for plan in self.store.plans(session=s):
            if plan.code == code:
                return plan
        raise NotStoredError(f"no plan {code!r}; `shuangsuiji plan show` lists the plans")

    def plan_announcement(self, plan: str, *, issued_on: date | None = None) -> PlanAnnouncement:
        """The annual plan announcement (一表) of ``plan``: its tasks in order of their start."""
        with self.store.reading() as s:
            return plan_announcement(
                self._plan(s, plan),
                self.store.tasks(plan, session=s),
                items=self.store.items(session=s),
                departments=self.store.departments(session=s),
                issued_on=issued_on,
            )

    def task_announcement(
        self, task: str, *, list_entities: bool = True, issued_on: date | None = None
    ) -> TaskAnnouncement:
        """The task announcement of ``task`` from its current draw (counts, digests and, with
        ``list_entities``, the drawn entities by name)."""
        with self.store.reading() as s:
            row = self._current(s, task)
            the_task = self.store.task(task, session=s)
            plan = self._plan(s, the_task.plan)
            bundle: dict[str, Any] = json.loads(row.bundle or "{}")
            drawn = {p["id"] for p in bundle["selected"]}
            drawn |= {r["by"] for r in bundle.get("replacements", [])}
            names = self._entity_names(s, drawn) if list_entities else None
            return task_announcement(
                bundle,
                plan=plan,
                task=the_task,
                items=self.store.items(session=s),
                departments=self.store.departments(session=s),
                draw_date=datetime.fromisoformat(str(row.drawn_time)).date(),
                entity_names=names,
                issued_on=issued_on,
            )

    def result_announcements(
        self, plan: str | None = None, *, issued_on: date | None = None
    ) -> list[ResultAnnouncement]:
        """One result announcement per task, over the records already published (公示)."""
        published = [r for r in self.publications(plan) if r.published is not None]
        return result_announcements(published, issued_on=issued_on)

    def export_announcements(
        self, out_dir: str | Path, *, plan: str | None = None, issued_on: date | None = None
    ) -> dict[str, Path]:
        """Write every announcement of ``plan`` (default: all plans) into ``out_dir``:

        ``plan-CODE.csv`` (the 一表, UTF-8 with BOM) and ``plan-CODE.json``; ``task-CODE.json``
        for every drawn task; ``results-CODE.json`` and ``results-CODE.csv`` for every task with
        published results. Returns the files written, by name.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        texts: dict[str, str] = {}
        with self.store.reading() as s:
            if plan is not None:
                plans = [self._plan(s, plan).code]
            else:
                plans = [p.code for p in self.store.plans(session=s)]
            drawn = {t for (t,) in s.execute(select(DrawRow.task).where(DrawRow.state == "drawn"))}
        if not plans:
            raise StoreError(
                "no plan in the store: nothing to announce (`shuangsuiji plan create`)"
            )
        for code in plans:
            announcement = self.plan_announcement(code, issued_on=issued_on)
            texts[f"plan-{code}.csv"] = plan_csv(announcement)
            texts[f"plan-{code}.json"] = to_json(announcement)
            for task in announcement.tasks:
                if task.code in drawn:
                    texts[f"task-{task.code}.json"] = to_json(
                        self.task_announcement(task.code, issued_on=issued_on)
                    )
            for result in self.result_announcements(code, issued_on=issued_on):
                texts[f"results-{result.task}.json"] = to_json(result)
                texts[f"results-{result.task}.csv"] = records_csv(
                    list(result.records), today=issued_on or self._now.date()
                )
        return {name: write_text(text, out / name) for name, text in texts.items()}

    # -- draw health (抽查健康度) ---------------------------------------------------------------

    def _step_order(self, s: Session) -> dict[tuple[str, str, int], int]:
        """The audit sequence number of each draw's freeze and selection: which draws were
        already made when another was frozen (timestamps can tie; the chain cannot)."""
        steps = {"candidates.freeze": "freeze", "draw": "draw", "redraw": "draw"}
        out: dict[tuple[str, str, int], int] = {}
        for seq, kind, payload in s.execute(
            select(AuditEventRow.seq, AuditEventRow.kind, AuditEventRow.payload).where(
                AuditEventRow.kind.in_(sorted(steps))
            )
        ):
            data = json.loads(payload)
            out[(steps[kind], str(data["task"]), int(data["attempt"]))] = int(seq)
        return out

    def _period_draws(
        self, s: Session, plan: str | None, tasks: Sequence[str] | None
    ) -> list[DrawRow]:
        """The current draw of each task of ``plan`` (and in ``tasks``), in drawing order."""
        wanted = set(tasks) if tasks is not None else None
        if plan is not None:
            codes = {t.code for t in self.store.tasks(plan, session=s)}
            wanted = codes if wanted is None else wanted & codes
        rows: dict[str, DrawRow] = {}
        for row in s.execute(
            select(DrawRow).where(DrawRow.state == "drawn").order_by(DrawRow.id)
        ).scalars():
            if wanted is None or row.task in wanted:
                rows[row.task] = row
        return sorted(rows.values(), key=lambda r: (str(r.drawn_time), r.id))

    def draw_health(
        self,
        plan: str | None = None,
        *,
        tasks: Sequence[str] | None = None,
        alpha: float = 0.01,
    ) -> HealthReport:
        """The health of a period's entity draws: the current draw of every task of ``plan``
        (or of ``tasks``; default every drawn task), in the order they were drawn.

        Each draw is a :class:`~shuangsuiji.health.Lottery` of its frozen candidates with
        ``π = n_s / N_s`` and, when the policy's exclusion window left out entities that an
        earlier draw of the period had selected, those entities as ``blocked`` with the
        probability they would have had (their stratum's rule at ``N_s + 1``), found by
        freezing the task again without the window. The recorded tickets feed the ``tickets``
        test. See :func:`~shuangsuiji.health.draw_health` for the tests and their levels.
        """
        with self.store.reading() as s:
            chosen = self._period_draws(s, plan, tasks)
            if not chosen:
                raise DrawRefused("no drawn task in that period: nothing to check")
            ends = {t.code: t.end for t in self.store.tasks(session=s)}
            order = self._step_order(s)
            bundles: list[dict[str, Any]] = [json.loads(r.bundle or "{}") for r in chosen]
            pool: EntityPool | None = None  # loaded once, and only if a window links draws
            items = self.store.items(session=s)
            lotteries: list[Lottery] = []
            tickets: list[StratumTickets] = []
            for d, (row, bundle) in enumerate(zip(chosen, bundles, strict=True)):
                plain = Lottery.from_bundle(bundle)
                tickets += StratumTickets.from_bundle(bundle)
                policy = self.store.policy(row.policy_hash, session=s)
                window = policy.exclusions.recently_inspected_days
                since = row.cutoff - timedelta(days=window)
                linked = [
                    e
                    for e in range(d)
                    if window and _before(order, chosen[e], row) and ends[chosen[e].task] > since
                ]
                hit = {p["id"] for e in linked for p in bundles[e]["selected"]}
                blocked: list[str] = []
                chances: list[float] = []
                if hit:
                    if pool is None:
                        pool = self.store.load_entities(session=s)
                    again = freeze_candidates(
                        pool, self.store.task(row.task, session=s), policy, items, cutoff=row.cutoff
                    )
                    labels = again.strata.labels
                    keys = np.asarray(sorted(hit), dtype=again.ids.dtype)
                    out = np.flatnonzero(np.isin(again.ids, keys))
                    for entity, code in zip(
                        again.ids[out].tolist(), again.strata.codes[out].tolist(), strict=True
                    ):
                        stratum = labels[code]
                        size = bundle["strata"].get(stratum, {}).get("size", 0)
                        blocked.append(entity.decode())
                        chances.append(again.rules[stratum].size(size + 1) / (size + 1))
                lotteries.append(
                    Lottery(
                        row.task,
                        plain.candidates,
                        plain.probabilities,
                        plain.selected,
                        blocked=blocked,
                        blocked_probabilities=chances,
                        blocked_by=[chosen[e].task for e in linked] if blocked else [],
                    )
                )
        return draw_health(lotteries, subject="entities", alpha=alpha, tickets=tickets)

    def conduct(
        self, plan: str | None = None, *, tasks: Sequence[str] | None = None
    ) -> list[Finding]:
        """The acts around the period's current draws that a supervisor reviews
        (:mod:`shuangsuiji.conduct`): system-only seeds, re-draws and abandoned attempts,
        re-assigned teams, conflicts declared after the entity list was drawn, entities
        excluded for a status that has since changed back, and selected entities of ended tasks
        without a result."""
        with self.store.reading() as s:
            chosen = self._period_draws(s, plan, tasks)
            bundles = [json.loads(r.bundle or "{}") for r in chosen]
            drawn_at = {
                (str(e.payload["task"]), int(e.payload["attempt"])): e.seq
                for e in self.store.events_of(["draw", "redraw"], session=s)
            }
            imported_at = {
                int(e.payload["import_id"]): e.seq
                for e in self.store.events_of(["conflict.change"], session=s)
                if "import_id" in e.payload
            }
            declared = self.store.conflict_imports(session=s)
            late: dict[str, list[tuple[str, str, str]]] = {}
            flips: dict[str, list[tuple[str, str, str]]] = {}
            for row, bundle in zip(chosen, bundles, strict=True):
                when = drawn_at.get((row.task, row.attempt), 0)
                picked = {p["id"] for p in bundle.get("selected", [])}
                late[row.task] = [
                    (i, e, r)
                    for i, e, r, batch in declared
                    if e in picked and imported_at.get(batch or 0, 0) > when
                ]
                flips[row.task] = self._status_flips(s, row)
        today = self._now.date()
        missing: dict[str, list[str]] = {}
        for u in self.uninspected(plan):
            if u.task_end < today:
                missing.setdefault(u.task, []).append(u.entity)
        return conduct_findings(
            bundles, late_conflicts=late, status_flips=flips, never_inspected=missing
        )

    def _status_flips(self, s: Session, row: DrawRow) -> list[tuple[str, str, str]]:
        """Entities the draw left out for their status whose stored status no longer is one
        the policy excludes."""
        excluded = [
            e.get("ids", [])
            for e in json.loads(row.exclusions)
            if e["reason"] == "deregistered_or_revoked"
        ]
        ids = [i for group in excluded for i in group]
        if not ids:
            return []
        statuses = self.store.policy(row.policy_hash, session=s).exclusions.statuses
        now = self.store.statuses(ids, session=s)
        return [(i, "注销/吊销/撤销", now[i]) for i in ids if i in now and now[i] not in statuses]

    def inspector_health(
        self,
        plan: str | None = None,
        *,
        tasks: Sequence[str] | None = None,
        replays: int = 800,
        alpha: float = 0.01,
    ) -> HealthReport:
        """The health of a period's team draws: each inspector's load against ``replays``
        replays of SSJ-ASSIGN-1 on the same staffing records with other keys.

        The observed teams are the draws as made (replayed from the recorded staffing and the
        task's seed, before any re-assignment). Replay ``r`` of task ``T`` uses the key
        ``SHA-256("SSJ-HEALTH-REPLAY" 0x00 T 0x00 seed 0x00 r)`` — simulations, not draws.
        See :func:`~shuangsuiji.health.replay_health` for the tests.
        """
        with self.store.reading() as s:
            staffed = [r for r in self._period_draws(s, plan, tasks) if r.assignment]
            drawn_with = {r.id: self._team_key(s, r) for r in staffed}
        if not staffed:
            raise DrawRefused("no task of that period has teams: nothing to check")
        out: list[ReplayedTask] = []
        for row in staffed:
            task = row.task
            staffing = staffing_from_record(json.loads(row.assignment or "{}")["staffing"])
            units = [i.decode() for i in staffing.inspectors.ids.tolist()]
            seed = row.seed or ""
            prefix = b"SSJ-HEALTH-REPLAY\x00" + task.encode() + b"\x00" + seed.encode() + b"\x00"
            keys = [drawn_with[row.id]]
            keys += [hashlib.sha256(prefix + str(r).encode()).digest() for r in range(replays)]
            loads = sample_loads(staffing, keys)
            observed, sims = loads[0], loads[1:]
            out.append(ReplayedTask(task, units, observed, sims))
        return replay_health(out, subject="inspectors", alpha=alpha)
