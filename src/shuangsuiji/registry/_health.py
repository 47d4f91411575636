"""Health: the lottery replayed, conduct findings, inspector load over a period."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from fractions import Fraction
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from shuangsuiji.assign import ALGORITHM, Staffing, sample_loads, sample_teams
from shuangsuiji.assign.capped import GRID
from shuangsuiji.assign.record import staffing_from_record, team_staffing
from shuangsuiji.candidates import freeze_candidates
from shuangsuiji.conduct import Finding, conduct_findings
from shuangsuiji.health import HealthReport, Lottery, StratumTickets, draw_health
from shuangsuiji.health_replays import ReplayedTask, pair_task, replay_health
from shuangsuiji.pools import EntityPool
from shuangsuiji.registry._base import DrawRefused
from shuangsuiji.registry._publish import _Publish
from shuangsuiji.store import draws as draws_sql
from shuangsuiji.store.schema import (
    DrawRow,
)

_PAIR_GROUPS = ("entity", "township", "county", "industry")


def _groups(staffing: Staffing, group: str) -> list[str]:
    """The group of each entity of ``staffing`` for :meth:`_Health.pair_health`."""
    ents = staffing.entities
    if group == "entity":
        return ents.id_list()
    if group == "industry":
        return [v.decode() for v in ents.industry.tolist()]
    digits = 9 if group == "township" else 6
    return [v.decode()[:digits] for v in ents.region.tolist()]


def _before(order: dict[tuple[str, str, int], int], earlier: DrawRow, row: DrawRow) -> bool:
    """Was ``earlier`` drawn before ``row`` was frozen? By the audit order, or (for records
    without those events) by their times."""
    drawn = order.get(("draw", earlier.task, earlier.attempt))
    frozen = order.get(("freeze", row.task, row.attempt))
    if drawn is not None and frozen is not None:
        return drawn < frozen
    return str(earlier.drawn_time) <= row.frozen_time


class _Health(_Publish):
    """Health: the lottery replayed, conduct findings, inspector load over a period."""

    def _step_order(self, s: Session) -> dict[tuple[str, str, int], int]:
        """The audit sequence number of each draw's freeze and selection: which draws were
        already made when another was frozen (timestamps can tie; the chain cannot)."""
        steps = {"candidates.freeze": "freeze", "draw": "draw", "redraw": "draw"}
        out: dict[tuple[str, str, int], int] = {}
        for seq, kind, payload in draws_sql.step_events(s, steps):
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
        for row in draws_sql.drawn_rows(s):
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

    def _replayed(
        self, plan: str | None, tasks: Sequence[str] | None, replays: int
    ) -> list[tuple[str, Staffing, list[bytes], dict[str, Any]]]:
        """Each staffed task of the period: its label, the staffing its team draw covered
        (rebuilt from the record), its keys — the draw's first, then ``replays`` replay keys
        ``SHA-256("SSJ-HEALTH-REPLAY" 0x00 T 0x00 seed 0x00 r)`` (simulations, not draws) —
        and the law it was drawn by (``spec`` and ``pair_cap`` for
        :func:`~shuangsuiji.assign.sample_teams`)."""
        with self.store.reading() as s:
            staffed = [r for r in self._period_draws(s, plan, tasks) if r.assignment]
            drawn_with = {r.id: self._team_key(s, r) for r in staffed}
        if not staffed:
            raise DrawRefused("no task of that period has teams: nothing to check")
        out = []
        for row in staffed:
            task = row.task
            saved = json.loads(row.assignment or "{}")
            record = saved["staffing"]
            stream = saved["assignment"]["stream"]
            law = {
                "spec": stream.get("spec", ALGORITHM),
                "pair_cap": Fraction(stream.get("pair_cap", 0), GRID),
            }
            staffing = team_staffing(record, staffing_from_record(record))
            seed = row.seed or ""
            prefix = b"SSJ-HEALTH-REPLAY\x00" + task.encode() + b"\x00" + seed.encode() + b"\x00"
            keys = [drawn_with[row.id]]
            keys += [hashlib.sha256(prefix + str(r).encode()).digest() for r in range(replays)]
            out.append((task, staffing, keys, law))
        return out

    def inspector_health(
        self,
        plan: str | None = None,
        *,
        tasks: Sequence[str] | None = None,
        replays: int = 800,
        alpha: float = 0.01,
    ) -> HealthReport:
        """The health of a period's team draws: each inspector's load against ``replays``
        replays of the team draw on the same staffing records with other keys.

        The observed teams are the draws as made (replayed from the recorded staffing and the
        task's seed, before any re-assignment). Replay ``r`` of task ``T`` uses the key
        ``SHA-256("SSJ-HEALTH-REPLAY" 0x00 T 0x00 seed 0x00 r)`` — simulations, not draws.
        See :func:`~shuangsuiji.health_replays.replay_health` for the tests.
        """
        out: list[ReplayedTask] = []
        for task, staffing, keys, law in self._replayed(plan, tasks, replays):
            units = [i.decode() for i in staffing.inspectors.ids.tolist()]
            loads = sample_loads(staffing, keys, **law)
            out.append(ReplayedTask(task, units, loads[0], loads[1:]))
        return replay_health(out, subject="inspectors", alpha=alpha)

    def pair_health(
        self,
        plan: str | None = None,
        *,
        tasks: Sequence[str] | None = None,
        replays: int = 800,
        alpha: float = 0.01,
        group: str = "entity",
    ) -> HealthReport:
        """Pair concentration over a period: does one officer land on the same entity — or the
        same small group of entities — again and again, more than the lottery makes likely?

        ``group`` is ``"entity"``, ``"township"`` (the entity's 9-digit region), ``"county"``
        (6 digits) or ``"industry"``. Each unit is ``officer × group``; its count over the
        period's team draws (as made) is compared with the same ``replays`` replays as
        :meth:`inspector_health` (:func:`~shuangsuiji.health_replays.pair_task`,
        :func:`~shuangsuiji.health_replays.replay_health`: max-T p-values, ``too often`` flags).
        Only groups with two or more entities over the period are units (an entity in one
        task only can meet an officer once). Rotation (``[recusal] rotation_days``) already
        keeps the same pair apart within its window, so across a year the entity-level test
        mostly guards a short rotation; the group levels catch an officer kept on one
        township or trade.
        """
        if group not in _PAIR_GROUPS:
            raise DrawRefused(f"group {group!r}: choose one of {list(_PAIR_GROUPS)}")
        replayed = self._replayed(plan, tasks, replays)
        groups = [_groups(staffing, group) for _, staffing, _, _ in replayed]
        size = Counter(g for labels in groups for g in labels)
        repeated = {g for g, n in size.items() if n >= 2}  # units that can reach 2
        out: list[ReplayedTask] = []
        for (task, staffing, keys, law), labels in zip(replayed, groups, strict=True):
            officers = [i.decode() for i in staffing.inspectors.ids.tolist()]
            teams = sample_teams(staffing, keys, **law)
            observed = next(teams)
            out.append(pair_task(task, officers, labels, observed, teams, only=repeated))
        if not any(t.units for t in out):
            what = (
                "entity is in two or more of the period's team draws"
                if group == "entity"
                else f"{group} has two or more entities in the period's team draws"
            )
            raise DrawRefused(
                f"no {what}, so no officer can meet one again: nothing to test; choose a "
                "wider group (township, county, industry) or a longer period"
            )
        return replay_health(out, subject=f"pairs (officer × {group})", alpha=alpha)
