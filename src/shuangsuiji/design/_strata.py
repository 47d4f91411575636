"""Strata for design work: labels, population sizes, credit-risk tier and jurisdiction.

A :class:`Strata` is the summary a design needs: one row per stratum with its size ``N_h``,
its credit-risk tier (A–D, when the strata are split by tier) and its jurisdiction (a division
code prefix, when split by region). Built from an :class:`~shuangsuiji.pools.EntityPool` it
also keeps the stratum of every pool row, so simulations can draw from the real pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.errors import InvalidInputError
from shuangsuiji.model import TIERS

if TYPE_CHECKING:
    import pandas as pd

    from shuangsuiji.pools import EntityPool

__all__ = ["STRATUM_SEPARATOR", "DesignError", "Strata", "per_stratum"]

STRATUM_SEPARATOR = "|"
"""Joins the parts of a stratum label: ``"A|350102"`` is tier A in county 350102."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
PerStratum = float | Mapping[str, float] | Sequence[float] | npt.NDArray[Any]
"""A value given per stratum: one number for all, a mapping keyed by stratum label or by
tier letter (``{"A": 0.02, "D": 0.3}``), or a sequence in stratum order."""


def _int64(values: npt.ArrayLike) -> IntArray:
    return np.asarray(values, dtype=np.int64)


def _int8(values: npt.ArrayLike) -> npt.NDArray[np.int8]:
    return np.asarray(values, dtype=np.int8)


class DesignError(InvalidInputError):
    """A design input that cannot be used; the message says which input, where, and the fix."""


@attrs.frozen(eq=False)
class Strata:
    """Strata of a population: ``labels``, sizes ``N_h``, tier code (0–3, −1 if not split by
    tier) and jurisdiction (division-code prefix, ``""`` if not split by region).

    ``codes`` (when built from a pool) gives the stratum index of every pool row.

    >>> s = Strata.from_sizes({"A": 580, "B": 300, "C": 90, "D": 30})
    >>> s.total, s.tier.tolist()
    (1000, [0, 1, 2, 3])
    >>> s.weights.round(2).tolist()
    [0.58, 0.3, 0.09, 0.03]
    """

    labels: tuple[str, ...]
    sizes: IntArray = attrs.field(converter=_int64)
    tier: npt.NDArray[np.int8] = attrs.field(converter=_int8)
    jurisdiction: tuple[str, ...]
    codes: npt.NDArray[np.intp] | None = None

    def __attrs_post_init__(self) -> None:
        h = len(self.labels)
        if h == 0:
            raise DesignError("Strata: give at least one stratum")
        if len(set(self.labels)) != h:
            raise DesignError(f"Strata: stratum labels repeat: {sorted(self.labels)}")
        if self.sizes.shape != (h,) or self.tier.shape != (h,) or len(self.jurisdiction) != h:
            raise DesignError("Strata: labels, sizes, tier and jurisdiction differ in length")
        if (self.sizes < 0).any():
            bad = self.labels[int(np.argmin(self.sizes))]
            raise DesignError(f"Strata: stratum {bad!r} has a negative size")
        if ((self.tier < -1) | (self.tier >= len(TIERS))).any():
            raise DesignError("Strata: tier codes must be 0-3 (A-D) or -1 (not split by tier)")

    @classmethod
    def from_sizes(
        cls,
        sizes: Mapping[str, int],
        *,
        tiers: Mapping[str, str] | None = None,
        jurisdictions: Mapping[str, str] | None = None,
    ) -> Strata:
        """Strata from ``{label: N_h}``, in the mapping's order.

        A label's tier is taken from ``tiers`` or, failing that, from a label that is a tier
        letter or starts with one followed by ``|`` (``"C|350104"``); its jurisdiction from
        ``jurisdictions`` or from the label part after ``|``.
        """
        labels = tuple(sizes)
        tier_codes = [_tier_of(label, (tiers or {}).get(label)) for label in labels]
        juris = tuple((jurisdictions or {}).get(label, _jurisdiction_of(label)) for label in labels)
        return cls(labels, [int(sizes[k]) for k in labels], tier_codes, juris)

    @classmethod
    def from_pool(
        cls,
        pool: EntityPool,
        *,
        by_tier: bool = True,
        region_digits: int = 6,
    ) -> Strata:
        """Strata of a pool: tier × jurisdiction (the first ``region_digits`` of the region code;
        6 = county, 0 = not split by region). Labels are ``"A|350102"``, sorted."""
        n = len(pool)
        if n == 0:
            raise DesignError("Strata.from_pool: the pool is empty")
        if region_digits:
            region_labels, region_idx = np.unique(
                pool.region_at(region_digits), return_inverse=True
            )
        else:
            region_labels, region_idx = np.asarray([""]), np.zeros(n, dtype=np.intp)
        tier = pool.tier.astype(np.int64) if by_tier else np.zeros(n, dtype=np.int64)
        key = tier * len(region_labels) + region_idx.reshape(-1)
        keys, codes = np.unique(key, return_inverse=True)
        sizes = np.bincount(codes, minlength=len(keys))
        tier_of = keys // len(region_labels)
        region_of = region_labels[keys % len(region_labels)]
        labels = tuple(
            STRATUM_SEPARATOR.join(
                part for part in ((TIERS[int(t)] if by_tier else ""), str(r)) if part
            )
            or "all"
            for t, r in zip(tier_of.tolist(), region_of.tolist(), strict=True)
        )
        return cls(
            labels,
            sizes,
            tier_of if by_tier else np.full(len(keys), -1),
            tuple(str(r) for r in region_of),
            codes.astype(np.intp).reshape(-1),
        )

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def total(self) -> int:
        """The population size ``N``."""
        return int(self.sizes.sum())

    @property
    def weights(self) -> FloatArray:
        """Stratum weights ``W_h = N_h / N``."""
        return self.sizes / max(self.total, 1)

    def index(self, label: str) -> int:
        """Position of a stratum; ``DesignError`` names the known labels when it is missing."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise DesignError(
                f"unknown stratum {label!r}; known strata: {list(self.labels)[:12]}"
            ) from None

    def tier_letters(self) -> tuple[str, ...]:
        """The tier letter of each stratum (``""`` when not split by tier)."""
        return tuple(TIERS[t] if t >= 0 else "" for t in self.tier.tolist())

    def to_frame(self) -> pd.DataFrame:
        """One row per stratum (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "stratum": self.labels,
                "tier": self.tier_letters(),
                "jurisdiction": self.jurisdiction,
                "N": self.sizes,
            }
        ).set_index("stratum")


def _tier_of(label: str, given: str | None) -> int:
    letter = given if given is not None else label.split(STRATUM_SEPARATOR, 1)[0]
    if letter in TIERS:
        return TIERS.index(letter)
    if given is not None:
        raise DesignError(f"stratum {label!r}: unknown tier {given!r}; tiers are A, B, C, D")
    return -1


def _jurisdiction_of(label: str) -> str:
    parts = label.split(STRATUM_SEPARATOR)
    digits = [p for p in parts if p.isdigit()]
    return digits[0] if digits else ""


def per_stratum(value: PerStratum, strata: Strata, name: str) -> FloatArray:
    """Broadcast a per-stratum input to an array in stratum order.

    Mapping keys may be stratum labels or tier letters (a label wins over its tier).

    >>> s = Strata.from_sizes({"A|1": 10, "D|1": 5})
    >>> per_stratum({"A": 0.1, "D|1": 0.5}, s, "p").tolist()
    [0.1, 0.5]
    """
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(strata.labels) - set(TIERS))
        if unknown:
            raise DesignError(
                f"{name}: unknown key(s) {unknown}; use stratum labels or tier letters A-D"
            )
        letters = strata.tier_letters()
        out = np.empty(len(strata))
        for i, label in enumerate(strata.labels):
            if label in value:
                out[i] = float(value[label])
            elif letters[i] in value:
                out[i] = float(value[letters[i]])
            else:
                raise DesignError(
                    f"{name}: no value for stratum {label!r}; give it by label or by tier letter"
                )
        return out
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(len(strata), float(arr))
    if arr.shape != (len(strata),):
        raise DesignError(
            f"{name}: {arr.shape[0] if arr.ndim else 0} values for {len(strata)} strata; "
            "give one value, one per stratum, or a mapping"
        )
    return arr
