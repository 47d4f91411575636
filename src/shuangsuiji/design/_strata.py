"""Strata for design work: labels, population sizes, credit-risk tier and region.

A :class:`Strata` is the summary a design needs: one row per stratum with its size ``N_h``,
its credit-risk tier (A–D, when the strata are split by tier) and its region (a division
code prefix, when split by region). Built from an :class:`~shuangsuiji.pools.EntityPool` it
also keeps the stratum of every pool row, so simulations can draw from the real pool.

**Labels and levels.** The draw engine names a stratum by one string, its *label*: the tier
letter and the region joined by ``|`` (``"A|350102"``), the tier or the region alone, or
``"all"``. Frames do not use labels: they are indexed by the strata's *levels*
(:attr:`Strata.levels`), ``("tier", "region")`` as a ``MultiIndex``, ``("tier",)`` or
``("region",)``, whenever every label is made of them, and by ``("stratum",)`` (the label)
for free labels such as ``"north"``. Inputs per stratum (a mapping or a pandas Series) may be
keyed by label, by tier letter or by the ``(tier, region)`` tuple of a ``MultiIndex``.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard, Union

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.design._table import Table, Tabular
from shuangsuiji.errors import InvalidInputError
from shuangsuiji.model import TIERS

if TYPE_CHECKING:
    import pandas as pd

    from shuangsuiji.pools import EntityPool

__all__ = ["LEVELS", "STRATUM_SEPARATOR", "DesignError", "Strata", "per_stratum", "stratum_label"]

STRATUM_SEPARATOR = "|"
"""Joins the parts of a stratum label: ``"A|350102"`` is tier A in county 350102."""

LEVELS = ("tier", "region")
"""The index levels of a frame of strata split by tier and region (in this order)."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
PerStratum = Union[  # a forward reference: pandas is imported for type checks only
    float, Mapping[Any, float], Sequence[float], npt.NDArray[Any], "pd.Series[Any]"
]
"""A value given per stratum: one number for all, a mapping or pandas Series keyed by stratum
label, by tier letter (``{"A": 0.02, "D": 0.3}``) or by ``(tier, region)``, or a sequence in
stratum order."""


def _int64(values: npt.ArrayLike) -> IntArray:
    return np.asarray(values, dtype=np.int64)


def _int8(values: npt.ArrayLike) -> npt.NDArray[np.int8]:
    return np.asarray(values, dtype=np.int8)


class DesignError(InvalidInputError):
    """A design input that cannot be used; the message says which input, where, and the fix."""


def stratum_label(tier: str, region: str) -> str:
    """The engine's label of the stratum of ``tier`` (a letter or ``""``) in ``region``.

    >>> stratum_label("A", "350102"), stratum_label("D", ""), stratum_label("", "")
    ('A|350102', 'D', 'all')
    """
    return STRATUM_SEPARATOR.join(part for part in (tier, region) if part) or "all"


def _key_label(key: Hashable) -> str:
    """A mapping or Series key as a label: a ``(tier, region)`` tuple is joined."""
    if isinstance(key, tuple):
        if len(key) != 2:
            raise DesignError(f"stratum key {key!r}: a tuple key is (tier, region); give two parts")
        return stratum_label(str(key[0]), str(key[1]))
    return str(key)


@attrs.frozen(eq=False, repr=False)
class Strata(Tabular):
    """Strata of a population: ``labels``, sizes ``N_h``, tier code (0–3, −1 if not split by
    tier) and region (division-code prefix, ``""`` if not split by region).

    ``codes`` (when built from a pool) gives the stratum index of every pool row.

    >>> s = Strata.from_sizes({"A": 580, "B": 300, "C": 90, "D": 30})
    >>> s.total, s.tier.tolist(), s.levels
    (1000, [0, 1, 2, 3], ('tier',))
    >>> s.weights.round(2).tolist()
    [0.58, 0.3, 0.09, 0.03]
    >>> Strata.from_sizes({("A", "350102"): 50, ("D", "350102"): 5}).keys
    (('A', '350102'), ('D', '350102'))
    """

    labels: tuple[str, ...]
    sizes: IntArray = attrs.field(converter=_int64)
    tier: npt.NDArray[np.int8] = attrs.field(converter=_int8)
    region: tuple[str, ...]
    codes: npt.NDArray[np.intp] | None = None

    def __attrs_post_init__(self) -> None:
        h = len(self.labels)
        if h == 0:
            raise DesignError("Strata: give at least one stratum")
        if len(set(self.labels)) != h:
            raise DesignError(f"Strata: stratum labels repeat: {sorted(self.labels)}")
        if self.sizes.shape != (h,) or self.tier.shape != (h,) or len(self.region) != h:
            raise DesignError("Strata: labels, sizes, tier and region differ in length")
        if (self.sizes < 0).any():
            bad = self.labels[int(np.argmin(self.sizes))]
            raise DesignError(f"Strata: stratum {bad!r} has a negative size")
        if ((self.tier < -1) | (self.tier >= len(TIERS))).any():
            raise DesignError("Strata: tier codes must be 0-3 (A-D) or -1 (not split by tier)")

    @classmethod
    def from_sizes(
        cls,
        sizes: Mapping[Any, int] | pd.Series,
        *,
        tiers: Mapping[str, str] | None = None,
        regions: Mapping[str, str] | None = None,
    ) -> Strata:
        """Strata from sizes per stratum, in their order: a mapping or a pandas Series.

        Keys are labels or ``(tier, region)`` tuples. A Series may be indexed by a
        ``(tier, region)`` ``MultiIndex`` (levels named so, or two unnamed levels), by a
        single level named ``tier`` or ``region``, or by labels. For a label, the tier is
        taken from ``tiers`` or from a label that is a tier letter or starts with one
        followed by ``|`` (``"C|350104"``); the region from ``regions`` or from the first
        all-digit part of the label.

        >>> import pandas as pd
        >>> idx = pd.MultiIndex.from_tuples([("A", 350102), ("D", 350102)],
        ...                                 names=["tier", "region"])
        >>> s = Strata.from_sizes(pd.Series([580, 30], index=idx))
        >>> s.labels, s.levels
        (('A|350102', 'D|350102'), ('tier', 'region'))
        """
        if _is_frame(sizes):
            raise DesignError(
                "Strata.from_sizes takes a Series of sizes; for a DataFrame use "
                "Strata.from_frame(frame, size='N') (or size=None to count its rows)"
            )
        pairs = _series_items(sizes) if is_series(sizes) else list(sizes.items())
        labels = tuple(_key_label(k) for k, _ in pairs)
        tier_codes = [
            _tier_of(label, (tiers or {}).get(label), key)
            for label, (key, _) in zip(labels, pairs, strict=True)
        ]
        region = tuple(
            (regions or {}).get(label, _region_of(label, key))
            for label, (key, _) in zip(labels, pairs, strict=True)
        )
        return cls(labels, [int(v) for _, v in pairs], tier_codes, region)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, size: str | None = "N") -> Strata:
        """Strata from a DataFrame with ``tier`` and/or ``region`` columns (or index levels).

        ``size`` names the column of the stratum sizes; with ``size=None`` every row is one
        entity and the sizes are counted (e.g. the frame of an entity list).

        >>> import pandas as pd
        >>> sizes = pd.DataFrame({"tier": ["A", "A", "D"], "region": ["350102", "350104",
        ...                       "350102"], "N": [400, 250, 20]})
        >>> Strata.from_frame(sizes).labels
        ('A|350102', 'A|350104', 'D|350102')
        >>> entities = pd.DataFrame({"tier": list("AABAD")})
        >>> Strata.from_frame(entities, size=None).as_dict()
        {'A': 3, 'B': 1, 'D': 1}
        """
        keys = [c for c in LEVELS if c in frame.columns]
        indexed = frame.set_index(keys) if keys else frame
        if size is None:
            levels = list(range(indexed.index.nlevels))
            return cls.from_sizes(indexed.groupby(level=levels, sort=True).size())
        if size not in indexed.columns:
            raise DesignError(
                f"Strata.from_frame: no column {size!r} of stratum sizes (columns: "
                f"{list(frame.columns)}); name it with size=..., or pass size=None to count "
                "one entity per row"
            )
        return cls.from_sizes(indexed[size])

    @classmethod
    def from_pool(
        cls,
        pool: EntityPool,
        *,
        by_tier: bool = True,
        region_digits: int = 6,
    ) -> Strata:
        """Strata of a pool: tier × region (the first ``region_digits`` of the region code;
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
        region_of = [str(r) for r in region_labels[keys % len(region_labels)].tolist()]
        labels = tuple(
            stratum_label(TIERS[int(t)] if by_tier else "", r)
            for t, r in zip(tier_of.tolist(), region_of, strict=True)
        )
        return cls(
            labels,
            sizes,
            tier_of if by_tier else np.full(len(keys), -1),
            tuple(region_of),
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

    @property
    def levels(self) -> tuple[str, ...]:
        """The index levels of this strata's frames (see the module docstring)."""
        letters = self.tier_letters()
        split = tuple(
            name for name, parts in (("tier", letters), ("region", self.region)) if all(parts)
        )
        parts = [
            (t if "tier" in split else "", r if "region" in split else "")
            for t, r in zip(letters, self.region, strict=True)
        ]
        made_of_parts = all(
            stratum_label(*p) == label for p, label in zip(parts, self.labels, strict=True)
        )
        return split if split and made_of_parts else ("stratum",)

    @property
    def keys(self) -> tuple[tuple[str, ...], ...]:
        """The index key of each stratum: one part per level of :attr:`levels`."""
        levels = self.levels
        if levels == ("stratum",):
            return tuple((label,) for label in self.labels)
        by_level = {"tier": self.tier_letters(), "region": self.region}
        return tuple(zip(*(by_level[name] for name in levels), strict=True))

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

    def as_dict(self) -> dict[str, int]:
        """``{stratum label: N_h}``."""
        return dict(zip(self.labels, self.sizes.tolist(), strict=True))

    def table(self, title: str, columns: Mapping[str, npt.ArrayLike], **summary: Any) -> Table:
        """A per-stratum :class:`~shuangsuiji.design.Table` of a result on these strata: the
        strata's index, ``N``, then ``columns``, and the whole-table values ``summary``."""
        return Table(title, self.levels, self.keys, {"N": self.sizes, **columns}, summary)

    def _table(self) -> Table:
        return self.table(f"{len(self)} strata, N = {self.total:,}", {"weight": self.weights})


def is_series(value: object) -> TypeGuard[pd.Series[Any]]:
    """Whether ``value`` is a pandas Series (without importing pandas: a Series exists only
    once pandas has been imported)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.Series)


def _is_frame(value: object) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _series_items(series: pd.Series[Any]) -> list[tuple[Hashable, Any]]:
    """``(key, value)`` of a Series; a key is a label, a tier letter, a region code or a
    ``(tier, region)`` tuple, as its index's level names say."""
    names = [None if n is None else str(n) for n in series.index.names]
    values = series.tolist()
    if len(names) == 2:
        if names not in ([None, None], list(LEVELS)):
            raise DesignError(
                f"a Series indexed by levels {names}: name the levels ('tier', 'region')"
            )
        return [((str(t), str(r)), v) for (t, r), v in zip(series.index, values, strict=True)]
    if len(names) != 1:
        raise DesignError(
            f"a Series indexed by {len(names)} levels: index it by (tier, region), by one of "
            "them, or by stratum label"
        )
    if names[0] == "tier":
        return [((str(t), ""), v) for t, v in zip(series.index, values, strict=True)]
    if names[0] == "region":
        return [(("", str(r)), v) for r, v in zip(series.index, values, strict=True)]
    return [(str(k), v) for k, v in zip(series.index, values, strict=True)]


def _tier_of(label: str, given: str | None, key: Hashable = None) -> int:
    if isinstance(key, tuple) and given is None:
        given = str(key[0])
        if not given:
            return -1
    letter = given if given is not None else label.split(STRATUM_SEPARATOR, 1)[0]
    if letter in TIERS:
        return TIERS.index(letter)
    if given is not None:
        raise DesignError(f"stratum {label!r}: unknown tier {given!r}; tiers are A, B, C, D")
    return -1


def _region_of(label: str, key: Hashable = None) -> str:
    if isinstance(key, tuple):
        return str(key[1])
    parts = label.split(STRATUM_SEPARATOR)
    digits = [p for p in parts if p.isdigit()]
    return digits[0] if digits else ""


def per_stratum(value: PerStratum, strata: Strata, name: str) -> FloatArray:
    """Broadcast a per-stratum input to an array in stratum order.

    Mapping (or pandas Series) keys may be stratum labels, ``(tier, region)`` tuples or tier
    letters (a stratum's own key wins over its tier).

    >>> s = Strata.from_sizes({"A|1": 10, "D|1": 5})
    >>> per_stratum({"A": 0.1, ("D", "1"): 0.5}, s, "p").tolist()
    [0.1, 0.5]
    """
    if is_series(value):
        value = {_key_label(k): v for k, v in _series_items(value)}
    if isinstance(value, Mapping):
        value = {_key_label(k): v for k, v in value.items()}
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
