"""What every engine returns, and the few steps all engines share (none of them spec).

The engines rank rows by ``(ticket, utf8(id))`` inside their own query language; the rows
that come back are turned into a :class:`~shuangsuiji.draw.Draw` here, so that a draw from an
engine compares equal (``==``) to the in-memory draw of the same candidates.

**Pre-filter.** Tickets are uniform on ``[0, 2**256)``, so a stratum of ``N`` rows whose
``k`` best are wanted first keeps only the rows whose ticket lies below
``T = (k + 8·sqrt(k) + 16) · 2**256 / N``; about ``k + 8·sqrt(k) + 16`` rows pass and only
those are sorted. If fewer than ``k`` pass (probability below 1e-12) the engine ranks that
stratum again without a bound. The result is exact either way: when at least ``k`` tickets
lie below ``T``, the ``k`` smallest all do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import attrs
import numpy as np

from shuangsuiji.draw import Draw, StratumSummary, TicketScheme, seed_bytes
from shuangsuiji.errors import IntegrityFailure

__all__ = [
    "EngineDraw",
    "PoolChangedDuringDrawError",
    "RankedRow",
    "bound",
    "draw_from_ranked",
    "rank_strata",
]

RankedRow = tuple[str, str, bytes]
"""``(stratum, id, ticket)`` of one ranked row, as an engine returns it."""

_SPACE = 2**256


class PoolChangedDuringDrawError(IntegrityFailure):
    """A stratum returned fewer ranked rows than its counted size allows: the pool changed
    between counting and ranking. Draw from a frozen copy (a Parquet file, a table)."""


@attrs.frozen(eq=False)
class EngineDraw:
    """An engine's draw: the :class:`~shuangsuiji.draw.Draw`, the SSJ-DRAW-1 ``pool_digest``
    (lower-case hex) and ``counts``, ``N_s`` per stratum with candidates."""

    draw: Draw
    pool_digest: str
    counts: Mapping[str, int]


def bound(take: int, size: int) -> bytes | None:
    """The pre-filter bound of a stratum as 32 big-endian bytes, or ``None`` for no bound.

    >>> bound(10, 10) is None, bound(1, 1_000_000).hex()[:8]
    (True, '0001a36e')
    """
    want = take + 8 * math.isqrt(take) + 16
    if want >= size:
        return None
    return (want * _SPACE // size + 1).to_bytes(32, "big")


Ranker = Callable[[Sequence[StratumSummary], bool], list[RankedRow]]
"""An engine's ranking: the ``sample + alternates`` best rows of each given stratum, with
(``True``) or without (``False``) the pre-filter."""


def rank_strata(rank: Ranker, strata: Sequence[StratumSummary]) -> list[RankedRow]:
    """Rank every stratum with the pre-filter; a stratum it left short is ranked again
    without it."""
    wanted = [s for s in strata if s.sample + s.alternates > 0]
    if not wanted:
        return []
    rows = rank(wanted, True)
    got: dict[str, int] = {}
    for stratum, _, _ in rows:
        got[stratum] = got.get(stratum, 0) + 1
    short = [s for s in wanted if got.get(s.label, 0) < s.sample + s.alternates]
    if short:
        labels = {s.label for s in short}
        rows = [r for r in rows if r[0] not in labels]
        rows += rank(short, False)
    return rows


def draw_from_ranked(
    *,
    task_label: str,
    seed: bytes | str,
    strata: Sequence[StratumSummary],
    rows: Sequence[RankedRow],
) -> Draw:
    """The :class:`~shuangsuiji.draw.Draw` of ``rows`` (any order): per stratum, its
    ``sample + alternates`` rows ordered by ``(ticket, utf8(id))``.

    Raises :class:`PoolChangedDuringDrawError` if a stratum has too few rows.
    """
    by_stratum: dict[str, list[tuple[bytes, bytes]]] = {s.label: [] for s in strata}
    for stratum, entity, ticket in rows:
        by_stratum[stratum].append((bytes(ticket), entity.encode()))
    ids: list[bytes] = []
    tickets: list[bytes] = []
    for s in strata:
        ranked = sorted(by_stratum[s.label])[: s.sample + s.alternates]
        if len(ranked) < s.sample + s.alternates:
            raise PoolChangedDuringDrawError(
                f"stratum {s.label!r} returned {len(ranked)} ranked rows, its size allows "
                f"{s.sample + s.alternates}: the pool changed during the draw; draw from a "
                "frozen copy"
            )
        tickets += [t for t, _ in ranked]
        ids += [i for _, i in ranked]
    return Draw(
        task_label=task_label,
        seed=seed_bytes(seed).hex(),
        scheme=TicketScheme.SSJ_DRAW_1,
        strata=tuple(strata),
        ranked_ids=np.array(ids, dtype=bytes) if ids else np.zeros(0, dtype="S1"),
        ranked_tickets=np.frombuffer(b"".join(tickets), dtype=np.uint8).reshape(-1, 32),
    )
