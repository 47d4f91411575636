"""Who may go where: a task's needs, its staffing, and the eligibility they lead to.

:class:`Staffing` gathers the selected entities, the inspector pool, the rules and the workload;
:meth:`Staffing.eligibility` applies every rule and keeps, for each exclusion, the rule that
made it and why, so that an infeasible draw can be explained.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

import attrs
import numpy as np

from shuangsuiji.assign._stream import BoolArray, IntArray
from shuangsuiji.assign.rules import (
    ConflictTable,
    DeclaredConflicts,
    Exclusions,
    PastAssignments,
    RecusalRule,
    Rotation,
    RuleContext,
    TeamConfig,
    ids_bytes,
    lookup_rows,
    normalise_exclusions,
)
from shuangsuiji.errors import InvalidInputError
from shuangsuiji.model import InspectionItem, Task
from shuangsuiji.pools import EntityPool, InspectorPool


def _qualification_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(str(v) for v in values)


def str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


@attrs.frozen
class TaskNeeds:
    """What one task asks of its teams: departments, qualifications, inspection date.

    ``label`` is the task label of the draw. Several departments make a joint task (联合抽查).
    Build it from a :class:`~shuangsuiji.model.Task` and the item list with :meth:`from_task`.
    """

    label: str
    departments: tuple[str, ...] = attrs.field(converter=str_tuple)
    on: date
    qualifications: frozenset[str] = attrs.field(factory=frozenset, converter=_qualification_set)

    def __attrs_post_init__(self) -> None:
        if not self.departments:
            raise InvalidInputError(f"task {self.label}: name at least one department")
        if len(set(self.departments)) != len(self.departments):
            raise InvalidInputError(f"task {self.label}: a department is listed twice")

    @property
    def joint(self) -> bool:
        """True when several departments take part (联合抽查)."""
        return len(self.departments) > 1

    @classmethod
    def from_task(
        cls, task: Task, items: Iterable[InspectionItem], on: date | None = None
    ) -> TaskNeeds:
        """The needs of ``task``: its departments and its items' required qualifications.

        ``on`` (the inspection date, for certificate validity) defaults to the task's start.
        """
        by_code = {item.code: item for item in items}
        missing = [code for code in task.items if code not in by_code]
        if missing:
            raise InvalidInputError(
                f"task {task.code}: item(s) {missing} are not in the item list (一单); "
                "pass the list that defines them"
            )
        quals: set[str] = set()
        for code in task.items:
            quals |= by_code[code].required_qualifications
        return cls(task.code, task.departments, on or task.start, frozenset(quals))


@attrs.frozen(eq=False)
class RuleOutcome:
    """What one rule removed: inspectors (inspector-level rules) or pairs (recusal rules)."""

    name: str
    reason: str
    inspectors: BoolArray | None = None
    pairs: Exclusions | None = None
    first_pairs: int = 0
    """Pairs this rule removed that no earlier rule had removed (they add up over rules)."""


def _rules(values: Iterable[RecusalRule]) -> tuple[RecusalRule, ...]:
    return tuple(values)


@attrs.frozen(eq=False)
class Staffing:
    """Everything a team draw depends on except the key.

    ``entities`` are the selected entities; ``inspectors`` the inspector pool; ``needs`` the
    task's departments, qualifications and date; ``config`` the policy's team rules;
    ``conflicts``, ``history`` and ``prior_load`` the data for declared conflicts, rotation
    and the period workload cap; ``extra_rules`` the agency's own :class:`RecusalRule` values.
    """

    entities: EntityPool
    inspectors: InspectorPool
    needs: TaskNeeds
    config: TeamConfig = attrs.field(factory=TeamConfig)
    conflicts: ConflictTable = attrs.field(factory=lambda: ConflictTable.from_rows(()))
    history: PastAssignments = attrs.field(factory=lambda: PastAssignments.from_rows(()))
    prior_load: Mapping[str, int] = attrs.field(factory=dict)
    extra_rules: tuple[RecusalRule, ...] = attrs.field(factory=tuple, converter=_rules)

    def recusal_rules(self) -> tuple[RecusalRule, ...]:
        """The pair rules in the order they are applied."""
        rules: list[RecusalRule] = []
        if self.config.declared_conflicts:
            rules.append(DeclaredConflicts(self.conflicts))
        rules.extend(self.config.attribute_rules)
        if self.config.rotation_days:
            rules.append(Rotation(self.config.rotation_days, self.history))
        rules.extend(self.extra_rules)
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"recusal rule names must be unique, got {names}")
        return tuple(rules)

    def canonical(self) -> Staffing:
        """The same staffing with both pools sorted by ID bytes (results never depend on order)."""
        return attrs.evolve(
            self,
            entities=self.entities.take(np.argsort(self.entities.ids, kind="stable")),
            inspectors=self.inspectors.take(np.argsort(self.inspectors.ids, kind="stable")),
        )

    def restrict(self, entity_ids: Sequence[str]) -> Staffing:
        """The same staffing for the entities ``entity_ids`` only, in that order."""
        return attrs.evolve(self, entities=self.entities.take(self.entities.index_of(entity_ids)))

    def capacity(self) -> IntArray:
        """Teams each inspector may still join in this task (workload caps)."""
        cfg = self.config
        n_e = len(self.entities)
        cap = np.full(len(self.inspectors), n_e, dtype=np.int64)
        if cfg.max_per_task:
            cap = np.minimum(cap, cfg.max_per_task)
        if cfg.max_per_period:
            cap = np.minimum(cap, cfg.max_per_period - self._prior())
        return np.maximum(cap, 0)

    def _prior(self) -> IntArray:
        prior = np.zeros(len(self.inspectors), dtype=np.int64)
        if self.prior_load:
            rows = lookup_rows(self.inspectors.ids, ids_bytes(list(self.prior_load)))
            counts = np.asarray(list(self.prior_load.values()), dtype=np.int64)
            prior[rows[rows >= 0]] = counts[rows >= 0]
        return prior

    def eligibility(self) -> Eligibility:
        """Who may inspect whom, with the reason for every exclusion."""
        return _eligibility(self)


@attrs.frozen(eq=False)
class Eligibility:
    """The (entity × inspector) eligibility of a staffing, with every exclusion's reason.

    ``candidates`` are the inspector rows that pass the inspector-level rules (department,
    active, certificate, qualification in ``every_member`` mode, period workload); ``matrix``
    has one row per entity and one column per candidate (True = may inspect); ``capacity``
    the teams each candidate may still join; ``outcomes`` what each rule removed, in order.
    """

    staffing: Staffing
    candidates: IntArray
    matrix: BoolArray
    capacity: IntArray
    outcomes: tuple[RuleOutcome, ...]

    def eligible_counts(self) -> IntArray:
        """Eligible inspectors per entity."""
        return np.asarray(self.matrix.sum(axis=1), dtype=np.int64)

    def exclusion_counts(self) -> dict[str, int]:
        """(entity, inspector) pairs removed per rule, each pair counted under its first rule."""
        return {o.name: o.first_pairs for o in self.outcomes}

    def explain(self, row: int, limit: int = 5) -> str:
        """Which rules removed which inspectors for entity ``row``, in words.

        >>> from shuangsuiji.synth import make_city
        >>> city = make_city(200, seed=2)
        >>> s = Staffing(city.entities.take([0]), city.inspectors,
        ...              TaskNeeds("T", ("WJW",), date(2026, 6, 30)))
        >>> print(s.eligibility().explain(0))  # doctest: +NORMALIZE_WHITESPACE
        2 of the 4 inspectors of WJW are eligible [ZF350100028, ZF350100031]; removed —
        law-enforcement certificate (执法证) not valid on 2026-06-30: 2 (ZF350100006, ZF350100039)
        """
        s = self.staffing
        ins = s.inspectors
        in_dept = ins.in_departments(s.needs.departments)
        parts = []
        for o in self.outcomes:
            if o.name == "department":
                continue
            sel = np.zeros(0, dtype=np.int64)
            if o.inspectors is not None:
                hit = np.flatnonzero(o.inspectors & in_dept)
            else:
                assert o.pairs is not None
                sel = np.flatnonzero(o.pairs.entity_rows == row)
                hit = np.unique(o.pairs.inspector_rows[sel])
                hit = hit[in_dept[hit]]
            if len(hit) == 0:
                continue
            names = []
            for i in hit[:limit].tolist():
                text = ins.ids[i].decode()
                if o.pairs is not None and o.pairs.details is not None:
                    j = sel[np.flatnonzero(o.pairs.inspector_rows[sel] == i)[0]]
                    text += f" {o.pairs.details[int(j)]}"
                names.append(text)
            more = ", …" if len(hit) > limit else ""
            parts.append(f"{o.reason}: {len(hit)} ({', '.join(names)}{more})")
        eligible = self.candidates[self.matrix[row]]
        depts = s.needs.departments
        text = (
            f"{len(eligible)} of the {int(in_dept.sum())} inspectors of {'/'.join(depts)} "
            "are eligible"
        )
        if len(depts) > 1:
            per = [f"{d} {int(ins.in_departments([d])[eligible].sum())}" for d in depts]
            text += f" ({', '.join(per)})"
        if 0 < len(eligible) <= limit:
            text += f" [{', '.join(ins.ids[i].decode() for i in eligible.tolist())}]"
        return text + ("; removed — " + "; ".join(parts) if parts else "; no rule removed any")


def _eligibility(s: Staffing) -> Eligibility:
    ents, ins, needs, cfg = s.entities, s.inspectors, s.needs, s.config
    n_e, n_i = len(ents), len(ins)
    on = needs.on
    cap = s.capacity()
    level: list[tuple[str, str, BoolArray]] = [
        (
            "department",
            f"not in the task's department(s) {'/'.join(needs.departments)}",
            ~ins.in_departments(needs.departments),
        ),
        ("inactive", "not active (停用/离岗)", ~ins.active),
        (
            "certificate",
            f"law-enforcement certificate (执法证) not valid on {on}",
            ins.certificate_expiry < np.datetime64(on, "D"),
        ),
    ]
    if cfg.qualification_mode == "every_member" and needs.qualifications:
        level.append(
            (
                "qualification",
                f"lacks a required qualification ({'/'.join(sorted(needs.qualifications))})",
                ~ins.qualifications.all_of(needs.qualifications),
            )
        )
    if cfg.max_per_period:
        level.append(
            (
                "workload",
                f"period workload cap reached (max {cfg.max_per_period} teams per period)",
                (cap <= 0) & (s._prior() > 0),
            )
        )
    outcomes: list[RuleOutcome] = []
    out = np.zeros(n_i, dtype=bool)
    for name, reason, mask in level:
        first = int((mask & ~out).sum()) * n_e
        out |= mask
        outcomes.append(RuleOutcome(name, reason, inspectors=mask, first_pairs=first))
    out |= cap <= 0
    candidates = np.flatnonzero(~out).astype(np.int64)
    col_of = np.full(n_i, -1, dtype=np.int64)
    col_of[candidates] = np.arange(len(candidates))
    matrix = np.ones((n_e, len(candidates)), dtype=bool)
    context = RuleContext(on, needs.label, needs.departments)
    for rule in s.recusal_rules():
        ex = normalise_exclusions(rule.exclude(ents, ins, context), n_e, n_i, rule.name)
        cols = col_of[ex.inspector_rows]
        ok = cols >= 0
        before = np.count_nonzero(matrix)
        matrix[ex.entity_rows[ok], cols[ok]] = False
        first = int(before - np.count_nonzero(matrix))
        outcomes.append(RuleOutcome(rule.name, rule.reason, pairs=ex, first_pairs=first))
    return Eligibility(s, candidates, matrix, cap[candidates], tuple(outcomes))
