"""The entity draw: freeze, seed ceremony, announcement, select, re-draw, replace, bundles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
from sqlalchemy.orm import Session

from shuangsuiji.annex import SealedStaffing, seal_staffing
from shuangsuiji.bundle import COLUMNAR_THRESHOLD, make_bundle
from shuangsuiji.candidates import CandidateSet, Exclusion, freeze_candidates
from shuangsuiji.canonical import canonical_text as _json
from shuangsuiji.changes import public_assignment
from shuangsuiji.commitments import (
    ANNOUNCE_SPEC,
    REDRAW_REASONS,
    draw_announcement,
)
from shuangsuiji.draw import (
    Draw,
    Replacement,
    ReplacementReason,
    SizeRule,
    Strata,
    draw_entities,
    skip_map,
)
from shuangsuiji.integrity import RecordProblem, check_records
from shuangsuiji.model import Task
from shuangsuiji.policy import Policy
from shuangsuiji.registry._approvals import _Approvals
from shuangsuiji.registry._base import (
    SYSTEM_PARTY,
    DrawRefused,
    DrawResult,
)
from shuangsuiji.seeds import (
    Ceremony,
    PublicAnnouncement,
    PublicSource,
    party_commitment,
    provenance_from_record,
    random_seed,
)
from shuangsuiji.store import draws as draws_sql
from shuangsuiji.store import results as results_sql
from shuangsuiji.store.integrity import pool_state, read_records, snapshot
from shuangsuiji.store.pushdown import DatabaseCandidateSet, freeze_in_database, insert_candidates
from shuangsuiji.store.schema import (
    DrawRow,
    ReplacementRow,
)


@attrs.frozen
class _Redraw:
    """Why a task is drawn again: a listed reason code, a text, the approving second person."""

    reason: str = ""
    text: str = ""
    approved_by: str = ""
    approval: str = ""  # a granted approval request (registry/_approvals.py)


def _public_team_seed(frozen: dict[str, Any]) -> dict[str, Any]:
    """The team-seed record as published: the staffing digest, date, ceremony, announcement,
    and the changes of a team that were asked for and withdrawn (SSJ-CHANGE-1), and the pair
    probabilities stated at the freeze (SSJ-PAIRS-1)."""
    keys = ("on", "staffing_digest", "ceremony", "frozen_by", "announcement", "withdrawn_changes")
    pairs = ("pairs",)  # SSJ-PAIRS-1: officer and entity IDs, probabilities only
    return {k: frozen[k] for k in keys + pairs if k in frozen}


def _sealed(frozen: dict[str, Any] | None) -> SealedStaffing:
    """The sealed staffing of a frozen team seed (its record and stored salts)."""
    if not frozen or "salts" not in frozen:
        raise DrawRefused(
            "the staffing of this draw was frozen before sealed annexes (SSJ-STAFFING-1): it "
            "has no salted commitments, so no public bundle or annex can be made from it; "
            "re-draw the task with a recorded reason"
        )
    return seal_staffing(frozen["staffing"], [bytes.fromhex(h) for h in frozen["salts"]])


class _Draws(_Approvals):
    """The entity draw: freeze, seed ceremony, announcement, select, re-draw, replace, bundles."""

    def _last_inspected(self, s: Session, task: str, cutoff: date) -> dict[str, date]:
        """Each entity's latest credited inspection among the other tasks' current draws
        (the exclusion window counts them); see :func:`store.draws.selected_elsewhere`."""
        return draws_sql.last_inspected(s, task, cutoff)

    def freeze(
        self,
        task: str,
        *,
        actor: str,
        cutoff: date | None = None,
        reason: str = "",
        text: str = "",
        approved_by: str = "",
        approval: str = "",
    ) -> CandidateSet | DatabaseCandidateSet:
        """Freeze the task's candidate set and record its pool digest (before any seed).

        A second attempt is a re-draw: ``reason`` is one of
        :data:`~shuangsuiji.commitments.REDRAW_REASONS`, ``text`` says what happened, and
        ``approved_by`` names the second person who approved it, or ``approval`` names a
        request that person granted (:meth:`request_approval`, :meth:`approve`); the policy
        bounds how many re-draws a task may have (``[draw] max_redraws``).
        """
        with self.store.transaction() as s:
            redraw = _Redraw(reason, text, approved_by, approval)
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
                "(shuangsuiji seed abandon)"
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

    def _approved(self, s: Session, task: str, kind: str, redraw: _Redraw, actor: str) -> _Redraw:
        """The re-draw or abandon with its approver taken from a granted request (marked used
        here, in the action's transaction), or as named, where the policy allows names."""
        if not redraw.approval:
            return redraw
        if redraw.reason not in REDRAW_REASONS:
            return redraw  # _check_redraw names the listed reasons
        granted_by = self._use_approval(
            s, redraw.approval, kind=kind, task=task, reason=redraw.reason, actor=actor
        )
        if redraw.approved_by.strip() and redraw.approved_by.strip() != granted_by:
            raise DrawRefused(
                f"task {task}: approved_by {redraw.approved_by!r} is not who granted approval "
                f"{redraw.approval} ({granted_by!r}); give only the approval"
            )
        return attrs.evolve(redraw, approved_by=granted_by)

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
        out = []
        for row in draws_sql.draws_after(s, current):
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
            redraw = self._approved(s, task_code, "redraw", redraw, actor)
            self._check_redraw(s, task, previous, redraw, actor)
        policy = self.store.policy(session=s)
        cut = self._cutoff(policy, task, cutoff)
        candidates = self._candidates(s, task, policy, cut)
        candidates = attrs.evolve(
            candidates, exclusions=self._with_facts(s, task_code, cut, candidates.exclusions)
        )
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
        draws_sql.add_draw(s, row)
        self._store_candidates(s, candidates, row)
        payload = candidates.to_json() | {
            "attempt": row.attempt,
            "policy_hash": policy.content_hash,
            "cutoff": cut.isoformat(),
        }
        # The pool as this freeze read it (SSJ-POOL-STATE-1): a status flipped by SQL before
        # the freeze and back after it no longer matches the import log. PostgreSQL sums it
        # in the server, so pools of any size log it (docs/audit.md).
        payload["pool_state"] = pool_state(s, "entities")[0].hex
        if previous:
            payload |= {
                "reason": row.reason,
                "reason_text": row.reason_text,
                "approved_by": row.approved_by,
            }
            if redraw.approval:
                payload["approval"] = redraw.approval
        self.store.append_event(s, actor, "candidates.freeze", payload)
        return candidates, row

    def _with_facts(
        self, s: Session, task: str, cutoff: date, exclusions: Sequence[Exclusion]
    ) -> tuple[Exclusion, ...]:
        """Each exclusion with the fact that decided it, per entity (published in the bundle's
        ``excluded`` so that an auditor can check each one against the public registry and
        the other tasks' bundles): the status, the registration date, or the other task."""
        out = []
        for e in exclusions:
            if e.reason == "inspected_within_window":
                other = draws_sql.selected_elsewhere(s, task, cutoff, e.ids)
                facts = [{"task": other[i][0], "end": other[i][1].isoformat()} for i in e.ids]
            else:
                stored = draws_sql.entity_facts(s, e.ids)
                if e.reason == "deregistered_or_revoked":
                    facts = [{"status": stored[i][0]} for i in e.ids]
                else:
                    facts = [{"registered": stored[i][1].isoformat()} for i in e.ids]
            out.append(attrs.evolve(e, facts=tuple(facts)))
        return tuple(out)

    def _candidates(
        self, s: Session, task: Task, policy: Policy, cut: date
    ) -> CandidateSet | DatabaseCandidateSet:
        """The task's candidate set, frozen in Python or (large PostgreSQL pools) in SQL."""
        items = self.store.items(session=s)
        last = self._last_inspected(s, task.code, cut)
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
        draws_sql.put_candidates(
            s,
            row.id,
            [i.decode() for i in candidates.ids.tolist()],
            [labels[c] for c in candidates.strata.codes.tolist()],
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
                "announce the commitments first (shuangsuiji seed announce)"
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
                    "(shuangsuiji seed commit) or declare public values first"
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

    def abandon(
        self,
        task: str,
        *,
        reason: str,
        text: str,
        actor: str,
        approved_by: str = "",
        approval: str = "",
    ) -> None:
        """Abandon the frozen attempt of ``task`` (e.g. a party never revealed).

        A visible act with a listed reason, a text and a second person; it counts as an
        attempt, so the next draw of the task is a re-draw under ``[draw] max_redraws``.
        """
        with self.store.transaction() as s:
            row = self._frozen(s, task)
            redraw = self._approved(
                s, task, "abandon", _Redraw(reason, text, approved_by, approval), actor
            )
            approved_by = redraw.approved_by
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
                }
                | ({"approval": approval} if approval else {}),
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
        approval: str = "",
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
            redraw = _Redraw(reason, text, approved_by, approval)
            _, row = self._freeze(s, task, actor=actor, cutoff=cutoff, redraw=redraw)
            value = random_seed()
            digest = party_commitment(task, row.pool_digest, SYSTEM_PARTY, value)
            self._commit(s, row, SYSTEM_PARTY, digest, actor)
            self._announce(s, row, actor)
            self._reveal(s, row, SYSTEM_PARTY, value, actor)
            return self._select(s, row, actor=actor)

        return self._logged_errors(task, None, actor, work)

    def _candidates_of(self, s: Session, row: DrawRow) -> tuple[list[str], Strata]:
        rows = draws_sql.candidates_of(s, row.id)
        return [r[0] for r in rows], Strata.from_labels([r[1] for r in rows])

    def _rebuild(self, s: Session, row: DrawRow) -> tuple[Draw, list[str], Strata]:
        ids, strata = self._candidates_of(s, row)
        rules = {k: SizeRule.from_json(v) for k, v in json.loads(row.strata).items()}
        draw = draw_entities(
            ids, strata, rules, task_label=row.task, seed=row.seed or "", scheme=row.ticket_scheme
        )
        for rep in draws_sql.replacements_of(s, row.id):
            skip = skip_map(json.loads(rep.skipped or "[]"))
            draw = draw.replace(rep.entity_id, ReplacementReason(rep.reason), rep.note, skip=skip)
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
        draws_sql.add_picks(s, picks)
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
        teams: dict[str, list[str]] = {}
        for entity, inspector in draws_sql.team_members(s, row.id):
            teams.setdefault(entity, []).append(inspector)
        return [{"entity": e, "inspectors": i} for e, i in teams.items()]

    def _bundle(
        self, s: Session, row: DrawRow, draw: Draw, ids: Sequence[str], strata: Strata
    ) -> dict[str, Any]:
        stored = json.loads(row.exclusions)
        exclusions = [{"reason": e["reason"], "count": e["count"]} for e in stored]
        assignment = json.loads(row.assignment) if row.assignment else None
        frozen_team = json.loads(row.team_seed) if row.team_seed else None
        sealable = bool(assignment and frozen_team and "salts" in frozen_team)
        bundle = make_bundle(
            draw,
            ids,
            strata,
            seed_provenance=json.loads(row.seed_record),
            teams=self._teams_of(s, row),
            policy_hash=row.policy_hash,
            exclusions=exclusions,
            assignment=public_assignment(assignment["assignment"]) if assignment else None,
            process={
                "attempt": row.attempt,
                "attempts": self._attempts(s, row),
                "cutoff": row.cutoff.isoformat(),
                "announcement": json.loads(row.announcement) if row.announcement else None,
                "excluded": [
                    {"reason": e["reason"], "ids": e.get("ids", [])}
                    | ({"facts": e["facts"]} if e.get("facts") else {})
                    for e in stored
                ],
                "team_seed": _public_team_seed(frozen_team) if frozen_team else None,
                "sealed_staffing": _sealed(frozen_team).section() if sealable else None,
            },
        )
        row.bundle = _json(bundle)
        return bundle

    def replace(
        self,
        task: str,
        entity_id: str,
        reason: ReplacementReason | str,
        *,
        actor: str,
        note: str = "",
    ) -> str:
        """Replace a selected entity by its stratum's next alternate; returns the alternate.

        After the team draw the alternate also needs a team: it is drawn as a change of the
        teams (SSJ-CHANGE-1, fresh randomness; with witnesses when the policy wants them, the
        replacement then waits for them and lands with the team)."""
        with self.store.transaction() as s:
            row = self._current(s, task)
            why = self._replacement_claim(s, row, entity_id, reason, note)
            if row.assignment:
                return self._replace_after_teams(s, row, entity_id, why.value, note, actor)
            draw, ids, strata = self._rebuild(s, row)
            skip = self._taken_alternates(s, row, draw, entity_id)
            after = draw.replace(entity_id, why, note, skip=skip)
            rep = after.replacements[-1]
            self._add_replacement(s, row, rep, note, actor)
            bundle = self._bundle(s, row, after, ids, strata)
            self._log_replacement(s, row, rep, note, actor, bundle["record_digest"])
            return rep.by

    def _replace_after_teams(
        self, s: Session, row: DrawRow, entity_id: str, reason: str, note: str, actor: str
    ) -> str:
        raise DrawRefused(f"task {row.task}: teams are already assigned")

    def _replacement_claim(
        self, s: Session, row: DrawRow, entity_id: str, reason: ReplacementReason | str, note: str
    ) -> ReplacementReason:
        """The reason, once the claims the store can check hold and the rest has evidence.

        Every replacement needs a note with the evidence (who found what, where, when): the
        reason alone would let anyone drop any entity. "Deregistered before the draw" is also
        checked against the entity pool: the pool must record a status the policy excludes
        (注销, 吊销, 撤销), imported as a logged pool change with its before and after values.
        """
        try:
            why = ReplacementReason(reason)
        except ValueError:
            known = ", ".join(r.value for r in ReplacementReason)
            raise DrawRefused(f"replacement reason {reason!r} is not one of: {known}") from None
        if not note.strip():
            raise DrawRefused(
                f"task {row.task}: replacing {entity_id} ({why.value}) needs the evidence as "
                "a note (command line: --text '2026-09-03 实地核查：登记住所已无该企业'); "
                "it is published with the replacement"
            )
        if why is ReplacementReason.DEREGISTERED_BEFORE_DRAW:
            status = draws_sql.entity_status(s, entity_id)
            excluded = self.store.policy(row.policy_hash, session=s).exclusions.statuses
            if status not in excluded:
                raise DrawRefused(
                    f"task {row.task}: {entity_id} is recorded as {status or 'not in the pool'} "
                    f"in the entity pool, not as one of {'/'.join(excluded)}; import the "
                    "registry's current status first (a pool import, shuangsuiji import "
                    "entities --upsert: the change is logged with its before and after "
                    "values), or, if the registry is not "
                    "updated yet, use reason 'other' with the evidence in the note"
                )
        return why

    def _taken_alternates(
        self, s: Session, row: DrawRow, draw: Draw, entity_id: str
    ) -> dict[str, str]:
        """The unused alternates of ``entity_id``'s stratum that another task has selected
        inside the policy's exclusion window (they would have been excluded had that draw come
        first), each with that task: a replacement passes over them."""
        stratum = next((p.stratum for p in draw.active if p.id == entity_id), None)
        window = self.store.policy(row.policy_hash, session=s).exclusions.recently_inspected_days
        if stratum is None or not window:
            return {}
        ids = [p.id for p in draw.alternates if p.stratum == stratum]
        since = row.cutoff - timedelta(days=window)
        taken = draws_sql.selected_elsewhere(s, row.task, row.cutoff, ids)
        return {e: other for e, (other, end) in taken.items() if end > since}

    def _add_replacement(
        self, s: Session, row: DrawRow, rep: Replacement, note: str, actor: str
    ) -> None:
        draws_sql.add_replacement(
            s,
            ReplacementRow(
                draw_id=row.id,
                entity_id=rep.replaced,
                replaced_by=rep.by,
                reason=rep.reason.value,
                note=note,
                actor=actor,
                time=self._now.isoformat(),
                skipped=_json([dict(x) for x in rep.skipped]),
            ),
        )

    def _log_replacement(
        self, s: Session, row: DrawRow, rep: Replacement, note: str, actor: str, digest: str
    ) -> None:
        self.store.append_event(
            s,
            actor,
            "replacement",
            {
                "task": row.task,
                "attempt": row.attempt,
                "entity": rep.replaced,
                "by": rep.by,
                "stratum": rep.stratum,
                "reason": rep.reason.value,
                "note": note,
                "record_digest": digest,
            }
            | ({"skipped": [dict(x) for x in rep.skipped]} if rep.skipped else {}),
        )

    def current_draw(self, task: str) -> DrawResult:
        """The task's latest draw, rebuilt from its record (with replacements applied)."""
        with self.store.reading() as s:
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
        with self.store.reading() as s:
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
        with self.store.reading() as s:
            result: dict[str, Any] = json.loads(self._drawn_attempt(s, task, attempt).bundle or "")
            return result

    def _drawn_attempt(self, s: Session, task: str, attempt: int | None) -> DrawRow:
        rows = [r for r in self._draw_rows(s, task) if r.state == "drawn"]
        chosen = rows if attempt is None else [r for r in rows if r.attempt == attempt]
        if not chosen or chosen[-1].bundle is None:
            raise DrawRefused(f"task {task} has no drawn attempt {attempt or ''}".strip())
        return chosen[-1]

    def export_bundle(self, task: str, path: str | Path, *, columnar: bool | None = None) -> Path:
        """Write the task's draw bundle as UTF-8 JSON; returns the path. A draw of more than
        :data:`~shuangsuiji.bundle.COLUMNAR_THRESHOLD` candidates (or any, with
        ``columnar=True``) is written columnar: the head at ``path`` (``.json`` added when
        missing), its Parquet files beside it (:func:`shuangsuiji.columnar.write_columnar`;
        needs the ``columnar`` extra)."""
        out = Path(path)
        bundle = self.bundle(task)
        large = len(bundle.get("candidates", [])) > COLUMNAR_THRESHOLD
        if columnar or (columnar is None and large):
            from shuangsuiji.columnar import write_columnar

            return write_columnar(bundle, out.parent, out.name.removesuffix(".json"))
        out.write_text(json.dumps(bundle, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
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
        events = self.store.task_events(task)
        picked = [p["id"] for p in (*bundle["selected"], *bundle["alternates"])]
        members = [i for t in bundle.get("teams") or [] for i in t.get("inspectors", [])]
        with self.store.reading() as s:
            head = self.store.log_head(s)
            names = results_sql.entity_names(s, picked)
            names |= results_sql.inspector_names(s, members)
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
            "audit_head": {"seq": head["seq"], "hash": head["hash"]},
            "names": names,
            "regions": self.store.regions(),
        }
        return render_draw_record(
            bundle, extras=extras, printed_at=format_utc(self._now), agency=agency
        )

    def selected_ids(self, task: str) -> list[str]:
        """The task's current selection (replacements applied), in order."""
        return [p.id for p in self.current_draw(task).draw.active]
