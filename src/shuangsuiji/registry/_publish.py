"""Publication: the 20-working-day records, publishing, announcements, exports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from shuangsuiji.canonical import canonical_text as _json
from shuangsuiji.exports import (
    internal_publication_html,
    plan_csv,
    publication_html,
    records_csv,
    to_json,
    write_text,
)
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
from shuangsuiji.registry._results import _Results
from shuangsuiji.results import (
    CHINA_STANDARD_TIME,
)
from shuangsuiji.store import StoreError
from shuangsuiji.store import draws as draws_sql
from shuangsuiji.store import paging as paging_sql
from shuangsuiji.store import results as results_sql
from shuangsuiji.store.paging import Page
from shuangsuiji.store.schema import (
    PublicationRow,
)


class _Publish(_Results):
    """Publication: the 20-working-day records, publishing, announcements, exports."""

    def _published(
        self, s: Session, task: str | None = None, entity: str | None = None
    ) -> dict[tuple[str, str], tuple[date, str]]:
        return results_sql.published(s, task, entity)

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
            return self._records(s, plan, estimate=estimate, task=task, entity=entity)

    def _records(
        self,
        s: Session,
        plan: str | None = None,
        *,
        estimate: bool = False,
        task: str | None = None,
        entity: str | None = None,
    ) -> list[PublicationRecord]:
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
        return results_sql.entity_names(s, ids)

    def publish(
        self,
        task: str,
        entity: str,
        *,
        actor: str,
        on: date | None = None,
        reason: str = "",
        approved_by: str = "",
        approval: str = "",
    ) -> PublicationRecord:
        """Record the publication (公示) of one entity's results in one task; the snapshot is kept.

        The publication date is a fact: the day (China time) this call runs on the store's
        clock. ``on`` may name that day, or an earlier one only as a recorded correction (the
        publication happened but was not entered): then ``reason`` says why, and a second person,
        ``approved_by`` (not ``actor``), approves it, or ``approval`` names a ``backdate``
        request of this task with this reason that someone else granted (:meth:`approve`); both
        go into the audit event. A date after today is refused.
        """
        done = self.publish_many(
            [(task, entity)],
            actor=actor,
            on=on,
            reason=reason,
            approved_by=approved_by,
            approval=approval,
        )
        return done[0]

    def publish_many(
        self,
        keys: Sequence[tuple[str, str]],
        *,
        actor: str,
        on: date | None = None,
        reason: str = "",
        approved_by: str = "",
        approval: str = "",
    ) -> list[PublicationRecord]:
        """Publish several ``(task, entity)`` results at once, all or nothing, as
        :meth:`publish` does one: one transaction, one ``publication`` event each.

        Every problem is listed in the refusal (nothing is then stored): a result not recorded,
        one already published, a key given twice, or the date rules of :meth:`publish`.
        """
        today = self._now.astimezone(CHINA_STANDARD_TIME).date()
        day = today if on is None else on
        wanted = list(dict.fromkeys(keys))
        tasks = {t for t, _ in wanted}
        if approval and (day == today or len(tasks) != 1):
            raise StoreError(
                f"approval {approval} backs a back-dated publication of one task; this one is "
                + (
                    "dated today: publish it without an approval"
                    if day == today
                    else f"of {len(tasks)} tasks: publish each task's results with its own approval"
                )
            )
        if not approval:
            self._check_backdate(day, today, actor, reason, approved_by)
        with self.store.transaction() as s:
            if approval:
                approved_by = self._backdate_approver(
                    s, approval, next(iter(tasks)), reason, approved_by, actor
                )
                self._check_backdate(day, today, actor, reason, approved_by)
            records = self._records_to_publish(s, tasks, wanted)
            done = [records[k].publish(day, by=actor) for k in wanted]
            for record in done:
                self._store_publication(
                    s, record, day, today, actor, (reason, approved_by, approval)
                )
        return done

    @staticmethod
    def _check_backdate(day: date, today: date, actor: str, reason: str, approver: str) -> None:
        backdated = backdate_problems(day, today, actor=actor, reason=reason, approver=approver)
        if backdated:
            raise StoreError("; ".join(backdated))

    def _backdate_approver(
        self, s: Session, approval: str, task: str, reason: str, approved_by: str, actor: str
    ) -> str:
        """Who granted ``approval`` for this back-dated publication (marked used here)."""
        granted_by = self._use_approval(
            s, approval, kind="backdate", task=task, reason=reason.strip(), actor=actor
        )
        if approved_by.strip() and approved_by.strip() != granted_by:
            raise StoreError(
                f"approved_by {approved_by!r} is not who granted approval {approval} "
                f"({granted_by!r}); give only the approval"
            )
        return granted_by

    def _records_to_publish(
        self, s: Session, tasks: set[str], wanted: list[tuple[str, str]]
    ) -> dict[tuple[str, str], PublicationRecord]:
        """The publication records of ``wanted``, or a refusal listing every key that cannot
        be published (not recorded, already published)."""
        records: dict[tuple[str, str], PublicationRecord] = {}
        for task in sorted(tasks):
            records |= {r.key: r for r in self._records(s, task=task)}
        problems = []
        for task, entity in wanted:
            record = records.get((task, entity))
            if record is None:
                problems.append(f"no results recorded for {entity} in task {task}")
            elif record.published is not None:
                problems.append(f"{entity} in task {task} is already published")
        if problems:
            raise StoreError("nothing published: " + "; ".join(problems))
        return records

    def _store_publication(
        self,
        s: Session,
        done: PublicationRecord,
        day: date,
        today: date,
        actor: str,
        correction: tuple[str, str, str],
    ) -> None:
        """One publication row with its snapshot, and its ``publication`` event."""
        snapshot = done.to_dict()
        results_sql.add_publication(
            s,
            PublicationRow(
                task=done.task,
                entity_id=done.entity,
                published=day,
                published_by=actor,
                snapshot=_json(snapshot),
                time=self._now.isoformat(),
            ),
        )
        event = {
            "task": done.task,
            "entity": done.entity,
            "published": day.isoformat(),
            "due": snapshot.get("due"),
            "status": done.status(day).value,
        }
        if day != today:
            reason, approved_by, approval = correction
            said = {"reason": reason.strip(), "approved_by": approved_by.strip()}
            event |= {
                "entered_on": today.isoformat(),
                "correction": said | ({"approval": approval} if approval else {}),
            }
        self.store.append_event(s, actor, "publication", event)

    def uninspected(self, plan: str | None = None) -> list[Uninspected]:
        """The entities that the current draws (of ``plan``'s tasks) selected and that have no
        result recorded: still to be inspected, or never inspected once the task has ended."""
        with self.store.reading() as s:
            recorded = results_sql.recorded_pairs(s)
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

    # -- paged reads: one page and the total, the same order as the unpaged lists ----------

    def publications_page(
        self,
        plan: str | None = None,
        *,
        estimate: bool = False,
        task: str | None = None,
        entity: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[PublicationRecord]:
        """One page of :meth:`publications` (same records, same order) and the total: the
        page's ``(task, entity)`` keys come from the database, and only their results are read."""
        with self.store.reading() as s:
            keys = results_sql.publication_keys(
                s, offset, limit, plan=plan, task=task, entity=entity
            )
            pairs = [(t, e) for _, t, e in keys.items]
            results = results_sql.results_of(s, pairs)
            plans = {p.code: p for p in self.store.plans(session=s)}
            records = partial(
                build_records,
                items=self.store.items(session=s),
                departments=self.store.departments(session=s),
                entity_names=self._entity_names(s, {e for _, e in pairs}),
                policy=self.store.policy(session=s),
                estimate=estimate,
                published=results_sql.published_of(s, pairs),
            )
            out: list[PublicationRecord] = []
            for code in dict.fromkeys(p for p, _, _ in keys.items):
                tasks = self.store.tasks(code, session=s)
                codes = {t.code for t in tasks}
                mine = [r for r in results if r.task in codes]
                out += records(mine, plan=plans[code], tasks=tasks)
            return Page(out, keys.total, offset, limit)

    def uninspected_page(
        self, plan: str | None = None, *, offset: int = 0, limit: int = 100
    ) -> Page[Uninspected]:
        """One page of :meth:`uninspected` (same order) and the total, from the stored picks
        and replacements (the draws are not re-derived)."""
        with self.store.reading() as s:
            rows = paging_sql.uninspected_page(s, plan, offset, limit)
            names = self._entity_names(s, {r[3] for r in rows.items})
            return rows.map(lambda r: Uninspected(r[0], r[1], r[2], r[3], names.get(r[3], "")))

    def selection_page(self, task: str, *, offset: int = 0, limit: int = 100) -> Page[str]:
        """One page of :meth:`selected_ids` (same order) and the total, from the stored picks
        and replacements (the draw is not re-derived)."""
        with self.store.reading() as s:
            self._current(s, task)
            return paging_sql.selection_page(s, task, offset, limit)

    def teams_page(
        self, task: str, *, offset: int = 0, limit: int = 100
    ) -> Page[tuple[str, tuple[str, ...]]]:
        """One page of :meth:`teams` as ``(entity, inspector ids)`` (same order) and the total."""
        with self.store.reading() as s:
            row = self._current(s, task)
            return paging_sql.team_page(s, row.id, offset, limit)

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
            drawn = draws_sql.drawn_tasks(s)
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
