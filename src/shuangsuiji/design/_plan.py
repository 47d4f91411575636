"""Simulate a year's plan (一表) with the real pipeline: candidates, draw and teams.

Each replicate runs the year's tasks in order of start date exactly as the registry would:
:func:`shuangsuiji.candidates.freeze_candidates` (population, exclusions — including the
policy's window for entities inspected earlier in the simulated year — strata and size
rules), :func:`shuangsuiji.draw.draw_entities` with a derived seed (see
:func:`replicate_seed`), then, when an inspector pool is given,
:func:`shuangsuiji.assign.assign_teams` from the draw's key with the policy's team rules,
declared conflicts, the year's workload so far and the year's earlier pairings (rotation).

It reports what an analyst must see before publishing the plan: how many times an entity is
inspected in the year (多头、重复检查), the load per inspector, and the recusal pressure — the
selected entities with few eligible inspectors left after recusal (回避), and the tasks whose
teams could not be staffed at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from shuangsuiji.design._simulate import replicate_seed
from shuangsuiji.design._strata import DesignError, FloatArray, IntArray
from shuangsuiji.design._table import Table, Tabular
from shuangsuiji.draw import draw_entities

if TYPE_CHECKING:
    from shuangsuiji.model import InspectionItem, Task
    from shuangsuiji.policy import Policy
    from shuangsuiji.pools import EntityPool, InspectorPool

__all__ = ["PlanSimulation", "simulate_plan"]


@attrs.frozen(eq=False, repr=False)
class PlanSimulation(Tabular):
    """What ``replicates`` simulated years of a plan produced.

    ``selected`` (R, T): entities drawn per replicate and task; ``inspections`` (R, N): times
    each pool entity was inspected in the year; ``loads`` (R, I): teams per inspector in the
    year (empty without inspectors); ``eligible[t]``: eligible inspectors of every entity
    selected by task ``t`` over all replicates; ``infeasible[t]``: replicates in which task
    ``t`` could not be staffed, with the first ``failures`` messages.
    """

    task_codes: tuple[str, ...]
    selected: IntArray
    inspections: IntArray
    loads: IntArray
    eligible: tuple[IntArray, ...]
    infeasible: IntArray
    failures: tuple[str, ...]
    few: int

    @property
    def replicates(self) -> int:
        """Simulated years."""
        return int(self.selected.shape[0])

    @property
    def inspections_pmf(self) -> FloatArray:
        """Share of the pool inspected 0, 1, 2, … times in the year (mean over replicates)."""
        top = int(self.inspections.max()) if self.inspections.size else 0
        counts = np.stack([np.bincount(row, minlength=top + 1) for row in self.inspections])
        return np.asarray(counts.mean(axis=0) / self.inspections.shape[1], dtype=np.float64)

    @property
    def repeat_share(self) -> float:
        """Share of inspected entities inspected more than once in the year."""
        inspected = (self.inspections > 0).sum()
        return float((self.inspections > 1).sum() / inspected) if inspected else 0.0

    def load_summary(self) -> dict[str, float]:
        """Teams per inspector over the year: mean, median, 95th percentile and maximum,
        over inspectors who can be drawn at all and over replicates."""
        if self.loads.size == 0:
            return {}
        active = self.loads[:, self.loads.sum(axis=0) > 0]
        return {
            "mean": float(active.mean()),
            "median": float(np.median(active)),
            "p95": float(np.percentile(active, 95)),
            "max": float(active.max()),
        }

    def pressure(self) -> FloatArray:
        """Per task, the share of selected entities with fewer than ``few`` eligible inspectors."""
        return np.asarray([float((e < self.few).mean()) if e.size else 0.0 for e in self.eligible])

    def _table(self) -> Table:
        """One row per task (index ``task``): mean selected, eligible inspectors (min,
        median), pressure, and replicates that could not be staffed."""
        return Table(
            f"plan simulation: {len(self.task_codes)} tasks, {self.replicates} replicates",
            ("task",),
            [(code,) for code in self.task_codes],
            {
                "selected_mean": self.selected.mean(axis=0),
                "eligible_min": np.asarray(
                    [int(e.min()) if e.size else -1 for e in self.eligible], dtype=np.int64
                ),
                "eligible_median": np.asarray(
                    [float(np.median(e)) if e.size else np.nan for e in self.eligible]
                ),
                f"share_below_{self.few}": self.pressure(),
                "infeasible_runs": self.infeasible,
            },
            {"replicates": self.replicates, "repeat_share": self.repeat_share},
        )


class _Teams:
    """The team side of a simulated year: SSJ-ASSIGN-1 with the policy's rules, the declared
    conflicts, the year's workload so far and its earlier pairings (for rotation)."""

    def __init__(self, inspectors: InspectorPool, policy: Policy, conflicts: Iterable[Any]) -> None:
        from shuangsuiji.assign import ConflictTable
        from shuangsuiji.assign.rules import team_config

        self.inspectors = inspectors
        self.order = np.argsort(inspectors.ids)
        self.table = ConflictTable.from_rows(conflicts)
        self.config = team_config(policy)

    def staff(
        self,
        entities: EntityPool,
        task: Task,
        items: Sequence[InspectionItem],
        key: bytes,
        loads: IntArray,
        history: list[tuple[str, str, date]],
    ) -> tuple[IntArray, str]:
        """Assign teams; add their load to ``loads`` and pairs to ``history``. Returns the
        eligible-inspector counts and, when no assignment exists, the reason."""
        from shuangsuiji.assign import (
            InfeasibleAssignment,
            PastAssignments,
            Staffing,
            TaskNeeds,
            assign_teams,
        )

        needs = TaskNeeds.from_task(task, items)
        ids = self.inspectors.ids
        busy = np.flatnonzero(loads)
        prior = dict(
            zip(np.strings.decode(ids[busy], "utf-8").tolist(), loads[busy].tolist(), strict=True)
        )
        staffing = Staffing(
            entities,
            self.inspectors,
            needs,
            self.config,
            conflicts=self.table,
            history=PastAssignments.from_rows(history),
            prior_load=prior,
        )
        try:
            assignment = assign_teams(staffing, key)
        except InfeasibleAssignment as exc:
            return staffing.eligibility().eligible_counts(), str(exc)
        team_load = assignment.load()
        who = np.asarray([i.encode() for i in team_load], dtype=ids.dtype)
        rows = self.order[np.searchsorted(ids, who, sorter=self.order)]
        loads[rows] += np.fromiter(team_load.values(), np.int64, len(team_load))
        history.extend(
            (i, team.entity_id, needs.on) for team in assignment.teams for i in team.inspector_ids
        )
        return np.asarray(list(assignment.eligible_counts.values()), dtype=np.int64), ""


def simulate_plan(
    pool: EntityPool,
    tasks: Sequence[Task],
    policy: Policy,
    items: Sequence[InspectionItem],
    *,
    inspectors: InspectorPool | None = None,
    conflicts: Iterable[Any] = (),
    last_inspected: Mapping[str, date] | None = None,
    replicates: int = 20,
    label: str = "plan",
    few: int = 4,
) -> PlanSimulation:
    """Run the year's ``tasks`` ``replicates`` times with the real candidates, draw and teams.

    ``conflicts`` are declared conflicts (objects with ``inspector_id, entity_id, relation,
    source`` or 4-tuples, e.g. ``city.conflicts``); ``last_inspected`` the inspections before
    the year (ID → date) for the exclusion window. Without ``inspectors`` only entities are
    drawn. ``few`` is the eligible-inspector count below which an entity counts as under
    recusal pressure. Seeds: ``replicate_seed(label, r, task.code)``.
    """
    from shuangsuiji.candidates import freeze_candidates

    if replicates < 1:
        raise DesignError(f"replicates = {replicates} must be at least 1")
    if not tasks:
        raise DesignError("give at least one task to simulate")
    ordered = sorted(tasks, key=lambda t: (t.start, t.code))
    codes = tuple(t.code for t in ordered)
    if len(set(codes)) != len(codes):
        raise DesignError(f"task codes repeat: {sorted(codes)}; each task needs its own code")
    teams = None if inspectors is None else _Teams(inspectors, policy, conflicts)
    selected = np.zeros((replicates, len(ordered)), dtype=np.int64)
    inspections = np.zeros((replicates, len(pool)), dtype=np.int64)
    loads = np.zeros((replicates, 0 if inspectors is None else len(inspectors)), dtype=np.int64)
    eligible: list[list[IntArray]] = [[] for _ in ordered]
    infeasible = np.zeros(len(ordered), dtype=np.int64)
    failures: list[str] = []
    for rep in range(replicates):
        last = dict(last_inspected or {})
        history: list[tuple[str, str, date]] = []
        for t, task in enumerate(ordered):
            cs = freeze_candidates(
                pool, task, policy, items, cutoff=task.start, last_inspected=last
            )
            draw = draw_entities(
                cs.ids,
                cs.strata,
                cs.rules,
                task_label=f"{label}/{task.code}",
                seed=replicate_seed(label, rep, task.code),
            )
            ids = [p.id for p in draw.selected]
            rows = pool.index_of(ids) if ids else np.zeros(0, dtype=np.intp)
            selected[rep, t] = len(ids)
            inspections[rep, rows] += 1
            last.update(dict.fromkeys(ids, task.start))
            if teams is None or not ids:
                continue
            counts, failure = teams.staff(
                pool.take(rows), task, items, draw.key, loads[rep], history
            )
            eligible[t].append(counts)
            if failure:
                infeasible[t] += 1
                if len(failures) < 5:
                    failures.append(f"replicate {rep}, task {task.code}: {failure}")
    return PlanSimulation(
        codes,
        selected,
        inspections,
        loads,
        tuple(
            np.concatenate(e).astype(np.int64) if e else np.zeros(0, dtype=np.int64)
            for e in eligible
        ),
        infeasible,
        tuple(failures),
        few,
    )
