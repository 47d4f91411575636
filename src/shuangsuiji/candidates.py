"""Freezing a task's candidate set: population, exclusions, strata and size rules.

Before any seed exists, a task's candidates are fixed: the task's population (定向 filter or
the whole pool, 不定向), minus the entities the policy excludes — each exclusion recorded with
its reason, count and IDs:

- ``deregistered_or_revoked``: status in the policy's excluded statuses (注销/吊销/撤销);
- ``registered_after_cutoff``: registered after the draw's cut-off date;
- ``inspected_within_window``: inspected within the policy's exclusion window (避免重复检查).

The remaining candidates are stratified by credit-risk tier × jurisdiction (the first
``floor_region_digits`` digits of the division code) and, for tags with a ratio of their own
(e.g. 经营异常名录), by that tag. Each stratum gets an SSJ-DRAW-1
:class:`~shuangsuiji.draw.SizeRule`:

    ratio = task ratio, or the tier's ratio
    ratio = max(ratio, the largest ratio of a tag the stratum carries)
    ratio = min(ratio, general_item_cap)      if the task has no key item (重点事项 are uncapped)
    ratio = max(ratio, floor)                 the floor per jurisdiction (e.g. 3%)
    alternates = max(1, ceil(alternates share × n))

Because every stratum lies inside one jurisdiction and meets the floor, so does every
jurisdiction. Pure: no clock, no database.

>>> from datetime import date
>>> from shuangsuiji.synth import make_city
>>> from shuangsuiji.model import Task
>>> from shuangsuiji.policy import Policy
>>> city = make_city(2_000, seed=3)
>>> task = Task("T1", "P1", "公示信息抽查", ("SCJG",), ("SCJG-01",),
...             date(2026, 7, 1), date(2026, 9, 30))
>>> cs = freeze_candidates(city.entities, task, Policy.default(), city.items,
...                        cutoff=date(2026, 6, 30))
>>> cs.size + sum(e.count for e in cs.exclusions) == len(city.entities)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.draw import SizeRule, Strata, pool_digest
from shuangsuiji.model import InspectionItem, Task
from shuangsuiji.policy import Policy
from shuangsuiji.pools import STRING, EntityPool

__all__ = ["EXCLUSION_REASONS", "CandidateSet", "Exclusion", "freeze_candidates"]

EXCLUSION_REASONS = {
    "deregistered_or_revoked": "已注销、吊销或撤销",
    "registered_after_cutoff": "抽取截止日后登记",
    "inspected_within_window": "检查间隔期内已被检查",
}
"""Why an entity in the task's population is not a candidate (code → Chinese label)."""


@attrs.frozen
class Exclusion:
    """Entities of the population left out of the draw, and why."""

    reason: str
    label: str
    count: int
    ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "label": self.label,
            "count": self.count,
            "ids": list(self.ids),
        }


@attrs.frozen(eq=False)
class CandidateSet:
    """The frozen candidates of a task: IDs, strata, per-stratum rules and exclusions."""

    task_code: str
    ids: npt.NDArray[np.bytes_]
    strata: Strata
    rules: Mapping[str, SizeRule]
    exclusions: tuple[Exclusion, ...]
    population: Mapping[str, Any]
    cutoff: date

    @property
    def size(self) -> int:
        """The number of candidates."""
        return len(self.ids)

    @property
    def digest(self) -> str:
        """The SSJ-DRAW-1 pool digest of the candidates and their strata."""
        return pool_digest(self.ids, self.strata)

    def to_json(self) -> dict[str, Any]:
        """A summary for the audit log (the full list goes into the draw bundle)."""
        return {
            "task": self.task_code,
            "pool_digest": self.digest,
            "candidates": self.size,
            "strata": {label: rule.to_json() for label, rule in self.rules.items()},
            "population": dict(self.population),
            "cutoff": self.cutoff.isoformat(),
            "exclusions": [
                {"reason": e.reason, "label": e.label, "count": e.count} for e in self.exclusions
            ],
        }


def _fraction(value: float) -> Fraction:
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def _exclude(
    reason: str, mask: npt.NDArray[np.bool_], pool: EntityPool, keep: npt.NDArray[np.bool_]
) -> Exclusion:
    hit = mask & keep
    keep &= ~hit
    ids = tuple(i.decode() for i in np.sort(pool.ids[hit]).tolist())
    return Exclusion(reason, EXCLUSION_REASONS[reason], len(ids), ids)


def freeze_candidates(
    pool: EntityPool,
    task: Task,
    policy: Policy,
    items: Sequence[InspectionItem],
    *,
    cutoff: date,
    last_inspected: Mapping[str, date] | None = None,
) -> CandidateSet:
    """Apply the task's population and the policy's exclusions; stratify; size each stratum.

    ``items`` is the item list (一单) the task's item codes refer to; ``last_inspected`` maps
    entity IDs to the date of their last inspection (for the exclusion window); ``cutoff`` is
    the draw's cut-off date (entities registered after it are not yet in scope).
    """
    by_code = {i.code: i for i in items}
    missing = [code for code in task.items if code not in by_code]
    if missing:
        raise ValueError(f"task {task.code}: unknown inspection item(s) {missing}")
    population = pool.take(pool.mask(task.population))
    keep = np.ones(len(population), dtype=bool)
    exclusions = []
    if policy.exclusions.statuses:
        exclusions.append(
            _exclude(
                "deregistered_or_revoked",
                population.status.isin(policy.exclusions.statuses),
                population,
                keep,
            )
        )
    if policy.exclusions.registered_after_cutoff:
        late = population.registered > np.datetime64(cutoff, "D")
        exclusions.append(_exclude("registered_after_cutoff", late, population, keep))
    window = policy.exclusions.recently_inspected_days
    if window and last_inspected:
        since = cutoff - timedelta(days=window)
        recent_ids = [i for i, d in last_inspected.items() if d > since]
        recent = np.isin(population.ids, np.asarray([r.encode() for r in recent_ids], dtype="S"))
        exclusions.append(_exclude("inspected_within_window", recent, population, keep))
    candidates = population.take(keep)
    strata, rules = _strata_and_rules(candidates, task, policy, [by_code[c] for c in task.items])
    return CandidateSet(
        task_code=task.code,
        ids=candidates.ids,
        strata=strata,
        rules=rules,
        exclusions=tuple(exclusions),
        population=task.population.to_dict(),
        cutoff=cutoff,
    )


def _strata_and_rules(
    pool: EntityPool, task: Task, policy: Policy, items: Sequence[InspectionItem]
) -> tuple[Strata, dict[str, SizeRule]]:
    r = policy.ratios
    digits = r.floor_region_digits
    labels = np.strings.add(pool.tier_labels(), "|")
    labels = np.strings.add(labels, pool.region_at(digits))
    # The tag with the largest ratio names the stratum (one tag per stratum keeps strata few).
    tag_name: npt.NDArray[Any] = np.full(len(pool), "", dtype=STRING)
    for tag, _ratio in sorted(r.tags.items(), key=lambda kv: kv[1]):
        if tag in pool.tags.labels:
            tag_name = np.where(pool.tags.any_of([tag]), np.strings.add("|", tag), tag_name)
    labels = np.strings.add(labels, tag_name)
    strata = Strata.from_labels(labels)
    key_task = any(item.key for item in items)
    rules: dict[str, SizeRule] = {}
    counts = np.bincount(strata.codes, minlength=len(strata.labels))
    for code, label in enumerate(strata.labels):
        tier = label.split("|", 1)[0]
        ratio = _fraction(task.ratio) if task.ratio is not None else _fraction(r.tier[tier])
        tag = label.split("|")[2] if label.count("|") >= 2 else ""
        if tag:
            ratio = max(ratio, _fraction(r.tags[tag]))
        if not key_task:
            ratio = min(ratio, _fraction(r.general_item_cap))
        ratio = max(ratio, _fraction(r.floor))
        n = SizeRule(ratio=ratio).size(int(counts[code]))
        alternates = max(1, math.ceil(_fraction(r.alternates) * n)) if n else 0
        rules[label] = SizeRule(ratio=ratio, alternates=alternates)
    return strata, rules
