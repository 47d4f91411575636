"""The check of one excluded entity's recorded fact, shared by every bundle form.

A draw bundle lists the entities left out before the draw, each with the fact that decided
it (``docs/ssj-draw-1.md``, section 11, ``excluded[].facts``): ``{status}`` for
``deregistered_or_revoked``, ``{registered}`` for ``registered_after_cutoff`` and
``{task, end}`` for ``inspected_within_window`` (:data:`shuangsuiji.candidates.EXCLUSION_FACTS`).
A fact is well formed when it is an object with exactly its reason's keys, and a
registration "after the cut-off" is after the bundle's ``cutoff`` (ISO dates compare as
text). The JSON bundle (:mod:`shuangsuiji.bundle`) and the columnar one's excluded file
(:mod:`shuangsuiji.columnar`) both check each fact with :func:`fact_problem`, so both say
the same thing about the same fact.

>>> fact_problem("registered_after_cutoff", {"registered": "2026-07-01"}, "2026-06-30") is None
True
>>> fact_problem("registered_after_cutoff", {"registered": "2026-06-01"}, "2026-06-30")
FactProblem(kind='cutoff', message='registered 2026-06-01, not after the cut-off 2026-06-30')
>>> fact_problem("deregistered_or_revoked", {"task": "T1"}, None).message
"must have exactly ['status'], got {'task': 'T1'}"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

from shuangsuiji.candidates import EXCLUSION_FACTS

__all__ = ["FactProblem", "fact_problem"]


@attrs.frozen
class FactProblem:
    """What is wrong with one fact: ``keys`` (not an object with exactly its reason's keys)
    or ``cutoff`` (a registration "after the cut-off" that is not after it), and the words
    that complete "the fact of ID …"."""

    kind: Literal["keys", "cutoff"]
    message: str


def fact_problem(reason: str, fact: object, cutoff: object) -> FactProblem | None:
    """The problem with ``fact``, recorded for an entity excluded for ``reason`` (one of
    :data:`~shuangsuiji.candidates.EXCLUSION_FACTS`) in a bundle whose ``cutoff`` is given
    (a ``YYYY-MM-DD`` text, or anything else when the bundle has none); ``None`` if it fits."""
    keys = EXCLUSION_FACTS[reason]
    if not isinstance(fact, Mapping) or sorted(fact) != sorted(keys):
        return FactProblem("keys", f"must have exactly {list(keys)}, got {fact!r}")
    day = fact.get("registered")
    if isinstance(cutoff, str) and isinstance(day, str) and not day > cutoff:
        return FactProblem("cutoff", f"registered {day}, not after the cut-off {cutoff}")
    return None
