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
from shuangsuiji.errors import InvalidInputError
from shuangsuiji.model import InspectionItem, Task
from shuangsuiji.policy import Policy
from shuangsuiji.pools import STRING, EntityPool

__all__ = [
    "EXCLUSION_FACTS",
    "EXCLUSION_REASONS",
    "CandidateSet",
    "Exclusion",
    "UnknownTierError",
    "freeze_candidates",
    "freeze_summary",
    "stratum_rules",
    "stratum_tag_order",
]

EXCLUSION_REASONS = {
    "deregistered_or_revoked": "已注销、吊销或撤销",
    "registered_after_cutoff": "抽取截止日后登记",
    "inspected_within_window": "检查间隔期内已被检查",
}
"""Why an entity in the task's population is not a candidate (code → Chinese label)."""

EXCLUSION_FACTS = {
    "deregistered_or_revoked": ("status",),
    "registered_after_cutoff": ("registered",),
    "inspected_within_window": ("task", "end"),
}
"""The keys of the fact recorded for each excluded entity, by reason (``Exclusion.facts``)."""


@attrs.frozen
class Exclusion:
    """Entities of the population left out of the draw, and why."""

    reason: str
    label: str
    count: int
    ids: tuple[str, ...]
    #: The fact that decided each exclusion, aligned with ``ids``: ``{"status"}`` (deregistered
    #: or revoked), ``{"registered"}`` (after the cut-off) or ``{"task", "end"}`` (the other
    #: task that inspects it inside the window). Empty when not recorded (older draws).
    facts: tuple[Mapping[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "reason": self.reason,
            "label": self.label,
            "count": self.count,
            "ids": list(self.ids),
        }
        if self.facts:
            out["facts"] = [dict(f) for f in self.facts]
        return out


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
        return freeze_summary(self)


def freeze_summary(frozen: Any) -> dict[str, Any]:
    """The audit-log summary of a frozen candidate set, in memory or in the database.

    ``frozen`` has ``task_code``, ``digest``, ``size``, ``rules``, ``population``, ``cutoff``
    and ``exclusions`` (:class:`CandidateSet` or ``pushdown.DatabaseCandidateSet``).
    """
    return {
        "task": frozen.task_code,
        "pool_digest": frozen.digest,
        "candidates": frozen.size,
        "strata": {label: rule.to_json() for label, rule in frozen.rules.items()},
        "population": dict(frozen.population),
        "cutoff": frozen.cutoff.isoformat(),
        "exclusions": [
            {"reason": e.reason, "label": e.label, "count": e.count} for e in frozen.exclusions
        ],
    }


class UnknownTierError(InvalidInputError):
    """A stratum names a credit-risk tier the policy has no ratio for."""


def _fraction(value: float) -> Fraction:
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def stratum_tag_order(policy: Policy) -> tuple[str, ...]:
    """The policy's tags in the order they name a stratum: the first one an entity has wins.

    :mod:`shuangsuiji.candidates` names a tagged stratum after the tag with the largest ratio
    (on a tie, the tag listed later in the policy), so this is that order reversed.

    >>> import attrs
    >>> p = Policy.default()
    >>> p = attrs.evolve(p, ratios=attrs.evolve(p.ratios, tags={"x": 0.5, "y": 0.9, "z": 0.5}))
    >>> stratum_tag_order(p)
    ('y', 'z', 'x')
    """
    ascending = sorted(policy.ratios.tags.items(), key=lambda kv: kv[1])
    return tuple(tag for tag, _ in reversed(ascending))


def stratum_rules(
    counts: Mapping[str, int],
    task: Task,
    policy: Policy,
    items: Sequence[InspectionItem],
) -> dict[str, SizeRule]:
    """The :class:`~shuangsuiji.draw.SizeRule` of every stratum ``TIER|region[|tag]``.

    ``counts`` maps each stratum label to its number of candidates ``N_s``; ``items`` are the
    task's inspection items. The rule is that of :mod:`shuangsuiji.candidates`: the task's
    ratio or the tier's, raised to the stratum tag's ratio, capped for general items, raised
    to the floor; ``alternates = max(1, ceil(alternates share × n))``. Labels come back in
    UTF-8 byte order.

    >>> from datetime import date
    >>> from shuangsuiji.synth import ITEMS
    >>> task = Task("T1", "P1", "公示信息抽查", ("SCJG",), ("SCJG-01",),
    ...             date(2026, 7, 1), date(2026, 9, 30))
    >>> general = [i for i in ITEMS if i.code == "SCJG-01"]   # a general item: capped at 10%
    >>> rules = stratum_rules({"A|350102": 1000, "D|350102|经营异常名录": 40}, task,
    ...                       Policy.default(), general)
    >>> {k: (str(r.ratio), r.size(1000 if k[0] == "A" else 40), r.alternates)
    ...  for k, r in rules.items()}
    {'A|350102': ('3/100', 30, 6), 'D|350102|经营异常名录': ('1/10', 4, 1)}
    """
    r = policy.ratios
    key_task = any(item.key for item in items)
    rules: dict[str, SizeRule] = {}
    for label in sorted(counts, key=str.encode):
        tier = label.split("|", 1)[0]
        if task.ratio is not None:
            ratio = _fraction(task.ratio)
        elif tier in r.tier:
            ratio = _fraction(r.tier[tier])
        else:
            raise UnknownTierError(
                f"stratum {label!r}: tier {tier!r} has no ratio in policy {policy.name!r}; "
                "tiers are A, B, C, D — fix the entity's tier in the pool"
            )
        tag = label.split("|")[2] if label.count("|") >= 2 else ""
        if tag:
            ratio = max(ratio, _fraction(r.tags[tag]))
        if not key_task:
            ratio = min(ratio, _fraction(r.general_item_cap))
        ratio = max(ratio, _fraction(r.floor))
        n = SizeRule(ratio=ratio).size(int(counts[label]))
        alternates = max(1, math.ceil(_fraction(r.alternates) * n)) if n else 0
        rules[label] = SizeRule(ratio=ratio, alternates=alternates)
    return rules


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
        raise InvalidInputError(f"task {task.code}: unknown inspection item(s) {missing}")
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
    labels = np.strings.add(pool.tier_labels(), "|")
    labels = np.strings.add(labels, pool.region_at(policy.ratios.floor_region_digits))
    # The first tag of stratum_tag_order an entity carries names its stratum (one tag per
    # stratum keeps strata few): assign in reverse so that earlier tags overwrite later ones.
    tag_name: npt.NDArray[Any] = np.full(len(pool), "", dtype=STRING)
    for tag in reversed(stratum_tag_order(policy)):
        if tag in pool.tags.labels:
            tag_name = np.where(pool.tags.any_of([tag]), np.strings.add("|", tag), tag_name)
    strata = Strata.from_labels(np.strings.add(labels, tag_name))
    counts = np.bincount(strata.codes, minlength=len(strata.labels))
    rules = stratum_rules(
        dict(zip(strata.labels, counts.tolist(), strict=True)), task, policy, items
    )
    return strata, rules
