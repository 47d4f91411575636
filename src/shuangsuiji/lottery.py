"""The lotteries that draw health reads (:mod:`shuangsuiji.health` gives the tests): a
:class:`Lottery` is one random selection, candidates with their inclusion probabilities and
the selected ones, read from a bundle or built by the caller; :class:`StratumTickets` are the
recorded smallest tickets of one stratum.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.errors import InvalidInputError

__all__ = ["F64", "HealthInputError", "Lottery", "StratumTickets", "ids_of"]

F64 = npt.NDArray[np.float64]

_SUM_TOLERANCE = 1e-6


class HealthInputError(InvalidInputError):
    """The draws given to the health statistics are inconsistent; the message says where."""


def _probabilities(value: Any) -> F64:
    return np.asarray(value, dtype=np.float64).copy()


def ids_of(values: Iterable[Any]) -> tuple[str, ...]:
    """The IDs as a tuple of strings (the converter of every ID column here and in health)."""
    return tuple(str(v) for v in values)


def _id_set(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(str(v) for v in values)


@attrs.frozen(eq=False)
class Lottery:
    """One random selection: candidates with inclusion probabilities, and the selected ones.

    The probabilities must sum to the number selected (a fixed-size design), which catches
    ratios passed where ``n_s / N_s`` was meant. Build one with :meth:`stratified` (entity
    draws), :meth:`team` (one entity's team) or :meth:`from_bundle` (a draw bundle).

    **Exclusion windows.** When a draw leaves out the entities selected by earlier draws of
    the same period (the policy's ``recently_inspected_days``), its candidate set depends on
    their outcomes, and counts are no longer sums of independent trials: an entity cannot be
    drawn twice. Such a draw names those earlier draws' labels in ``blocked_by`` and lists the
    units it left out for that reason in ``blocked``, with the probability each would have
    had (``blocked_probabilities``); :func:`draw_health` then takes each unit's distribution
    from the exact sequence (a trial is skipped once an earlier linked trial hit).
    :meth:`Registry.draw_health <shuangsuiji.registry.Registry.draw_health>` builds them from
    the store.

    >>> lot = Lottery.team("91350100M000100Y43", ["I1", "I2", "I3", "I4"], ["I2", "I4"])
    >>> lot.probabilities.tolist()
    [0.5, 0.5, 0.5, 0.5]
    """

    label: str
    candidates: tuple[str, ...] = attrs.field(converter=ids_of)
    probabilities: F64 = attrs.field(converter=_probabilities)
    selected: frozenset[str] = attrs.field(converter=_id_set)
    blocked: tuple[str, ...] = attrs.field(default=(), converter=ids_of, kw_only=True)
    blocked_probabilities: F64 = attrs.field(
        factory=lambda: np.zeros(0), converter=_probabilities, kw_only=True
    )
    blocked_by: frozenset[str] = attrs.field(default=frozenset(), converter=_id_set, kw_only=True)

    def __attrs_post_init__(self) -> None:
        where = f"lottery {self.label!r}"
        if self.blocked_probabilities.shape != (len(self.blocked),):
            raise HealthInputError(
                f"{where}: {len(self.blocked)} blocked units but "
                f"{self.blocked_probabilities.size} blocked probabilities"
            )
        if self.blocked and not self.blocked_by:
            raise HealthInputError(
                f"{where}: blocked units need blocked_by, the earlier draws whose selections "
                "excluded them"
            )
        q = self.blocked_probabilities
        if not np.all(np.isfinite(q) & (q >= 0) & (q <= 1)):
            raise HealthInputError(f"{where}: blocked probabilities must lie in [0, 1]")
        both = set(self.blocked).intersection(self.candidates)
        if both or len(set(self.blocked)) != len(self.blocked):
            raise HealthInputError(
                f"{where}: a unit is both blocked and a candidate, or blocked twice "
                f"({sorted(both)[:5]})"
            )
        if self.probabilities.shape != (len(self.candidates),):
            raise HealthInputError(
                f"{where}: {len(self.candidates)} candidates but "
                f"{self.probabilities.size} probabilities; give one probability per candidate"
            )
        if len(set(self.candidates)) != len(self.candidates):
            raise HealthInputError(f"{where}: a candidate ID appears twice")
        p = self.probabilities
        if not np.all(np.isfinite(p) & (p >= 0) & (p <= 1)):
            raise HealthInputError(f"{where}: inclusion probabilities must lie in [0, 1]")
        unknown = self.selected.difference(self.candidates)
        if unknown:
            raise HealthInputError(
                f"{where}: selected {sorted(unknown)[:5]} are not among the candidates"
            )
        total = float(p.sum())
        if abs(total - len(self.selected)) > _SUM_TOLERANCE * max(1, len(self.selected)):
            raise HealthInputError(
                f"{where}: inclusion probabilities sum to {total:.6g} but {len(self.selected)} "
                "were selected; in a fixed-size draw π = n_s / N_s (not the ratio rule r_s)"
            )

    @property
    def hits(self) -> npt.NDArray[np.bool_]:
        """Which candidates were selected (one flag per candidate)."""
        out: npt.NDArray[np.bool_] = np.isin(
            np.asarray(self.candidates, dtype=str), np.asarray(sorted(self.selected), dtype=str)
        )
        return out

    @classmethod
    def stratified(
        cls,
        label: str,
        candidates: Sequence[str],
        strata: Sequence[str],
        selected: Iterable[str],
    ) -> Lottery:
        """A stratified draw: ``π = n_s / N_s`` with ``n_s`` the selected in stratum ``s``."""
        ids = np.asarray(candidates, dtype=str)
        groups = np.asarray(strata, dtype=str)
        if groups.shape != ids.shape:
            raise HealthInputError(
                f"lottery {label!r}: {ids.size} candidates but {groups.size} stratum labels"
            )
        chosen = frozenset(selected)
        hit = np.isin(ids, np.asarray(sorted(chosen), dtype=str))
        _, codes = np.unique(groups, return_inverse=True)
        sizes = np.bincount(codes)
        taken = np.bincount(codes, weights=hit)
        return cls(label, tuple(ids.tolist()), (taken / sizes)[codes], chosen)

    @classmethod
    def team(
        cls,
        entity: str,
        eligible: Sequence[str],
        chosen: Iterable[str],
        departments: Mapping[str, str] | None = None,
    ) -> Lottery:
        """One entity's team: ``k`` of its eligible inspectors, ``π = k / |eligible|``.

        With ``departments`` (inspector ID → department) a joint team is modelled as one
        draw per department: ``π`` = chosen from the department / eligible in it.
        """
        groups = [departments[i] if departments else "" for i in eligible]
        return cls.stratified(entity, eligible, groups, chosen)

    @classmethod
    def from_bundle(cls, bundle: Mapping[str, Any]) -> Lottery:
        """The entity lottery of a draw bundle (``candidates`` and ``selected`` as drawn)."""
        label = str(bundle.get("task_label", ""))
        try:
            ids = [c["id"] for c in bundle["candidates"]]
            strata = [c["stratum"] for c in bundle["candidates"]]
            selected = [s["id"] for s in bundle["selected"]]
        except (KeyError, TypeError) as exc:
            raise HealthInputError(
                f"bundle {label!r}: needs candidates [{{id, stratum}}] and selected [{{id}}] "
                f"({exc!r} missing)"
            ) from None
        return cls.stratified(label, ids, strata, selected)


@attrs.frozen(eq=False)
class StratumTickets:
    """The recorded smallest tickets of one stratum: ``size`` N and ``tickets`` ascending.

    ``tickets`` are the selected then alternate tickets (64 hex digits each) in ticket order.
    """

    label: str
    size: int
    tickets: tuple[str, ...] = attrs.field(converter=ids_of)

    def __attrs_post_init__(self) -> None:
        if not 0 < len(self.tickets) <= self.size:
            raise HealthInputError(
                f"stratum {self.label!r}: {len(self.tickets)} tickets for {self.size} candidates"
            )
        values = [int(t, 16) for t in self.tickets]
        if any(b < a for a, b in itertools.pairwise(values)):
            raise HealthInputError(
                f"stratum {self.label!r}: tickets are not in ascending order; give the "
                "selected then the alternates as the draw ranked them"
            )

    def uniforms(self) -> F64:
        """Rényi's transform of the order statistics into independent uniforms."""
        u = np.array([int(t, 16) / 2**256 for t in self.tickets])
        previous = np.concatenate(([0.0], u[:-1]))
        remaining = self.size - np.arange(len(u))
        out: F64 = -np.expm1(remaining * (np.log1p(-u) - np.log1p(-previous)))
        return out

    @classmethod
    def from_bundle(cls, bundle: Mapping[str, Any]) -> list[StratumTickets]:
        """One entry per stratum of an SSJ-DRAW-1 bundle (selected + alternates, ascending)."""
        label = str(bundle.get("task_label", ""))
        scheme = bundle.get("ticket_scheme", "ssj-draw-1")
        if scheme != "ssj-draw-1":
            raise HealthInputError(
                f"bundle {label!r}: the ticket test needs ticket_scheme 'ssj-draw-1', "
                f"not {scheme!r}"
            )
        sizes: dict[str, int] = {}
        for c in bundle["candidates"]:
            sizes[c["stratum"]] = sizes.get(c["stratum"], 0) + 1
        picks: dict[str, list[str]] = {}
        for pick in [*bundle["selected"], *bundle.get("alternates", [])]:
            picks.setdefault(pick["stratum"], []).append(pick["ticket"])
        return [
            cls(f"{label}/{s}", sizes[s], sorted(t, key=lambda h: int(h, 16)))
            for s, t in sorted(picks.items())
        ]
