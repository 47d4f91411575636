"""What a draw bundle says about *other* tasks, checked against those tasks' own bundles.

A bundle makes two kinds of claim about other tasks of the period, and neither can be checked
from the bundle alone:

- an entity left out before the draw as ``inspected_within_window`` names the task that
  inspected it (``excluded[].facts = {task, end}``);
- a replacement that passed over an alternate names the task that had selected it
  (``replacements[].skipped = [{id, task}]``).

A DBA who wants a friend out of the draw could forge either: an exclusion "because task T
inspected it", or a skip "because task T selected it". Both are caught by reading T's bundle:
T must have selected the entity, as drawn or as a replacement. :func:`cross_task_problems`
checks every such claim of one bundle against the other bundles of the period
(``shuangsuiji verify BUNDLE --others DIR``). What it cannot see: whether T's inspection
really fell inside the exclusion window (the result dates are not in a bundle), and claims of
a columnar bundle whose picks or exclusions are kept in Parquet files.

>>> mine = {"task_label": "T2", "excluded": [{"reason": "inspected_within_window",
...         "ids": ["E1"], "facts": [{"task": "T1", "end": "2026-05-01"}]}], "replacements": []}
>>> other = {"task_label": "T1", "selected": [{"id": "E9"}], "replacements": []}
>>> cross_task_problems(mine, [other])
['excluded E1: inspected_within_window by task T1, but the bundle of T1 never selected E1']
>>> cross_task_problems(mine, [dict(other, selected=[{"id": "E1"}])])
[]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

__all__ = ["Claim", "claims", "cross_task_problems", "selected_by"]


@attrs.frozen
class Claim:
    """``where`` says that ``task`` selected ``entity`` (``kind``: ``excluded`` or
    ``skipped``)."""

    kind: str
    entity: str
    task: str
    where: str


def claims(bundle: Mapping[str, Any]) -> Iterator[Claim]:
    """Every claim ``bundle`` makes about another task's selection."""
    for group in bundle.get("excluded") or []:
        if not isinstance(group, Mapping) or group.get("reason") != "inspected_within_window":
            continue
        for entity, fact in zip(group.get("ids") or [], group.get("facts") or [], strict=False):
            if isinstance(fact, Mapping) and isinstance(fact.get("task"), str):
                where = f"excluded {entity}: inspected_within_window"
                yield Claim("excluded", str(entity), fact["task"], where)
    for i, r in enumerate(bundle.get("replacements") or []):
        if not isinstance(r, Mapping):
            continue
        for skip in r.get("skipped") or []:
            if isinstance(skip, Mapping) and isinstance(skip.get("task"), str):
                where = f"replacement {i + 1} passed over {skip.get('id')}"
                yield Claim("skipped", str(skip.get("id")), skip["task"], where)


def selected_by(bundle: Mapping[str, Any]) -> set[str] | None:
    """Every entity ``bundle``'s task selected, as drawn or as a replacement; None when its
    picks are not in the JSON (a columnar head with ``picks_file``)."""
    if "picks_file" in bundle or not isinstance(bundle.get("selected"), list):
        return None
    ids = {str(p.get("id")) for p in bundle["selected"] if isinstance(p, Mapping)}
    for r in bundle.get("replacements") or []:
        if isinstance(r, Mapping) and r.get("by"):
            ids.add(str(r["by"]))
    return ids


def cross_task_problems(
    bundle: Mapping[str, Any], others: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Each claim of ``bundle`` about another task that the other task's bundle (among
    ``others``) does not bear out, in words that say which claim and what to look at."""
    by_task = {str(b.get("task_label")): b for b in others if isinstance(b, Mapping)}
    out = []
    for claim in claims(bundle):
        other = by_task.get(claim.task)
        if other is None:
            out.append(
                f"{claim.where} by task {claim.task}, but no bundle of {claim.task} was given "
                f"(add draw-{claim.task}.json to the folder)"
            )
            continue
        chosen = selected_by(other)
        if chosen is None:
            out.append(
                f"{claim.where} by task {claim.task}: its bundle keeps its picks in a Parquet "
                "file; check the claim with the columnar verifier"
            )
        elif claim.entity not in chosen:
            out.append(
                f"{claim.where} by task {claim.task}, but the bundle of {claim.task} never "
                f"selected {claim.entity}"
            )
    return out
