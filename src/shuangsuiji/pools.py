"""The two pools (两库) held column by column in numpy arrays.

:class:`EntityPool` is the entity pool (检查对象名录库) and :class:`InspectorPool` the inspector
pool (执法检查人员名录库). Each column is one numpy array, so population filters (定向),
strata and eligibility rules are vectorised. IDs are canonical UTF-8 bytes of fixed width
(``S<w>``), names use numpy's variable-width ``StringDType``, small vocabularies are
:class:`Categorical` codes and tags/qualifications are bit masks; a 10,000,000-entity pool
fits in about 1.2 GB.

>>> from shuangsuiji.synth import make_city
>>> city = make_city(1_000, seed=7)
>>> directed = city.entities.filter(PopulationFilter(industry_prefixes=("H",)))
>>> 0 < len(directed) < len(city.entities)
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

from shuangsuiji.errors import InvalidInputError, UnknownKeyError
from shuangsuiji.model import TIERS, Entity, Inspector, PopulationFilter

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Categorical", "EntityPool", "InspectorPool", "Labels"]

StrArray = npt.NDArray[Any]  # numpy StringDType arrays are not expressible in numpy.typing yet
BytesArray = npt.NDArray[np.bytes_]
Mask = npt.NDArray[np.bool_]
MAX_LABELS = 64
STRING = np.dtypes.StringDType()


def _as_bytes(values: Iterable[str] | npt.NDArray[Any], min_width: int = 1) -> BytesArray:
    arr = np.asarray(values)
    if arr.dtype.kind == "S":
        return arr
    if arr.size == 0:
        return np.zeros(0, dtype=f"S{min_width}")
    encoded = np.strings.encode(arr.astype(STRING), "utf-8")
    return np.asarray(encoded)


def _as_strings(values: Iterable[str] | npt.NDArray[Any]) -> StrArray:
    return np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=STRING)


def _to_days(values: Iterable[date] | npt.NDArray[Any]) -> npt.NDArray[np.datetime64]:
    return np.asarray(values, dtype="datetime64[D]")


@attrs.frozen(eq=False)
class Categorical:
    """A column of labels stored as small integer codes into ``labels``.

    >>> c = Categorical.from_values(["存续", "注销", "存续"])
    >>> c.labels, c.codes.tolist()
    (('存续', '注销'), [0, 1, 0])
    >>> c.isin(["注销"]).tolist()
    [False, True, False]
    """

    codes: npt.NDArray[np.uint16]
    labels: tuple[str, ...]

    @classmethod
    def from_values(cls, values: Iterable[str] | npt.NDArray[Any]) -> Categorical:
        arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
        if arr.size == 0:
            return cls(np.zeros(0, dtype=np.uint16), ())
        labels, inverse = np.unique(arr.astype(str), return_inverse=True)
        if len(labels) > np.iinfo(np.uint16).max:
            raise InvalidInputError(
                f"too many distinct labels ({len(labels)}) for a categorical column"
            )
        return cls(inverse.astype(np.uint16).reshape(-1), tuple(str(x) for x in labels))

    def __len__(self) -> int:
        return len(self.codes)

    def isin(self, wanted: Iterable[str]) -> Mask:
        """Mask of rows whose label is one of ``wanted`` (unknown labels match nothing)."""
        index = {label: i for i, label in enumerate(self.labels)}
        codes = [index[w] for w in wanted if w in index]
        return np.isin(self.codes, np.asarray(codes, dtype=np.uint16))

    def take(self, rows: npt.NDArray[np.intp] | Mask) -> Categorical:
        return Categorical(self.codes[rows], self.labels)

    def values(self) -> StrArray:
        """The labels row by row."""
        return np.asarray(self.labels or ("",), dtype=STRING)[self.codes]

    def __getitem__(self, row: int) -> str:
        return self.labels[int(self.codes[row])]


@attrs.frozen(eq=False)
class Labels:
    """A set-valued column (tags, qualifications) as a bit mask over at most 64 ``labels``.

    >>> t = Labels.from_sets([{"经营异常名录"}, set(), {"经营异常名录", "投诉多"}])
    >>> t.any_of(["投诉多"]).tolist()
    [False, False, True]
    """

    bits: npt.NDArray[np.uint64]
    labels: tuple[str, ...]

    @classmethod
    def from_sets(cls, sets: Iterable[Iterable[str]]) -> Labels:
        rows = [frozenset(s) for s in sets]
        labels = tuple(sorted(set().union(*rows))) if rows else ()
        for label in labels:
            if not label.strip() or any(sep in label for sep in "|;"):
                raise InvalidInputError(
                    f"label {label!r} is empty or contains '|' or ';', which separate labels in "
                    "files and in the store; rename it"
                )
        if len(labels) > MAX_LABELS:
            raise InvalidInputError(
                f"at most {MAX_LABELS} distinct labels per column, got {len(labels)}"
            )
        index = {label: np.uint64(1) << np.uint64(i) for i, label in enumerate(labels)}
        bits = np.zeros(len(rows), dtype=np.uint64)
        for i, row in enumerate(rows):
            for label in row:
                bits[i] |= index[label]
        return cls(bits, labels)

    def __len__(self) -> int:
        return len(self.bits)

    def mask_of(self, wanted: Iterable[str]) -> np.uint64:
        """The bit mask of the known labels among ``wanted``."""
        out = np.uint64(0)
        for i, label in enumerate(self.labels):
            if label in set(wanted):
                out |= np.uint64(1) << np.uint64(i)
        return out

    def any_of(self, wanted: Iterable[str]) -> Mask:
        """Rows holding at least one of ``wanted``."""
        hits: Mask = (self.bits & self.mask_of(wanted)) != 0
        return hits

    def all_of(self, wanted: Iterable[str]) -> Mask:
        """Rows holding every one of ``wanted`` (an unknown label matches no row)."""
        wanted = set(wanted)
        if not wanted <= set(self.labels):
            return np.zeros(len(self.bits), dtype=bool)
        mask = self.mask_of(wanted)
        hits: Mask = (self.bits & mask) == mask
        return hits

    def take(self, rows: npt.NDArray[np.intp] | Mask) -> Labels:
        return Labels(self.bits[rows], self.labels)

    def __getitem__(self, row: int) -> frozenset[str]:
        value = int(self.bits[row])
        return frozenset(label for i, label in enumerate(self.labels) if value >> i & 1)


def _check_lengths(name: str, columns: Mapping[str, Any]) -> None:
    lengths = {key: len(col) for key, col in columns.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidInputError(f"{name}: columns differ in length: {lengths}")


def _check_unique(name: str, ids: BytesArray) -> None:
    if len(ids) == 0:
        return
    ordered = np.sort(ids)
    dup = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(dup):
        raise InvalidInputError(
            f"{name}: ID {dup[0].decode()!r} occurs more than once; IDs must be unique in a pool"
        )


def _prefix_mask(column: BytesArray, prefixes: Sequence[str]) -> Mask:
    mask = np.zeros(len(column), dtype=bool)
    for prefix in prefixes:
        mask |= np.strings.startswith(column, prefix.encode())
    return mask


def _rows(pool_len: int, selector: Mask | npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    sel = np.asarray(selector)
    if sel.dtype == bool:
        if len(sel) != pool_len:
            raise InvalidInputError(f"mask has {len(sel)} rows, pool has {pool_len}")
        return np.flatnonzero(sel)
    return sel.astype(np.intp)


@attrs.frozen(eq=False)
class EntityPool:
    """The entity pool, column by column.

    Build it with :meth:`from_entities`, :meth:`from_columns`,
    :func:`shuangsuiji.io.entities_from_dataframe`,
    :func:`shuangsuiji.io.read_entities_csv` or from the store. ``tier`` holds codes 0–3 for
    A–D. Filters return new pools; :meth:`mask` returns the boolean row mask.
    """

    ids: BytesArray
    names: StrArray
    entity_type: Categorical
    industry: BytesArray
    region: BytesArray
    registered: npt.NDArray[np.datetime64]
    tier: npt.NDArray[np.uint8]
    status: Categorical
    tags: Labels
    id_scheme: str = "uscc"

    def __attrs_post_init__(self) -> None:
        _check_lengths("EntityPool", attrs.asdict(self, recurse=False, filter=_is_column))
        _check_unique("EntityPool", self.ids)
        if len(self.tier) and int(self.tier.max()) >= len(TIERS):
            raise InvalidInputError("EntityPool: tier codes must be 0-3 (A-D)")

    @classmethod
    def from_columns(
        cls,
        *,
        ids: Iterable[str] | BytesArray,
        names: Iterable[str],
        entity_type: Iterable[str],
        industry: Iterable[str],
        region: Iterable[str],
        registered: Iterable[date] | npt.NDArray[np.datetime64],
        tier: Iterable[str] | npt.NDArray[np.uint8],
        status: Iterable[str],
        tags: Iterable[Iterable[str]] | Labels,
        id_scheme: str = "uscc",
    ) -> EntityPool:
        """Build a pool from already validated columns (canonical IDs, known tiers)."""
        tier_arr = np.asarray(tier if isinstance(tier, np.ndarray) else list(tier))
        if tier_arr.dtype.kind in "US":
            lookup = {t: i for i, t in enumerate(TIERS)}
            bad = sorted({str(t) for t in tier_arr.astype(str)} - set(lookup))
            if bad:
                raise InvalidInputError(f"unknown credit-risk tier(s) {bad}; use A, B, C or D")
            tier_codes = np.searchsorted(np.asarray(TIERS), tier_arr.astype(str)).astype(np.uint8)
        else:
            tier_codes = tier_arr.astype(np.uint8)
        return cls(
            ids=_as_bytes(ids),
            names=_as_strings(names),
            entity_type=Categorical.from_values(entity_type),
            industry=_as_bytes(industry),
            region=_as_bytes(region),
            registered=_to_days(registered),
            tier=tier_codes,
            status=Categorical.from_values(status),
            tags=tags if isinstance(tags, Labels) else Labels.from_sets(tags),
            id_scheme=id_scheme,
        )

    @classmethod
    def from_entities(cls, entities: Iterable[Entity], id_scheme: str = "uscc") -> EntityPool:
        """Build a pool from validated :class:`~shuangsuiji.model.Entity` values."""
        rows = list(entities)
        return cls.from_columns(
            ids=[e.id for e in rows],
            names=[e.name for e in rows],
            entity_type=[e.entity_type for e in rows],
            industry=[e.industry for e in rows],
            region=[e.region for e in rows],
            registered=[e.registered for e in rows],
            tier=[e.tier for e in rows],
            status=[e.status for e in rows],
            tags=[e.tags for e in rows],
            id_scheme=id_scheme,
        )

    def to_dataframe(self) -> pd.DataFrame:
        """The pool as a pandas DataFrame (needs the ``pandas`` extra)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "id": np.strings.decode(self.ids, "utf-8"),
                "name": self.names,
                "entity_type": self.entity_type.values(),
                "industry": np.strings.decode(self.industry, "utf-8"),
                "region": np.strings.decode(self.region, "utf-8"),
                "registered": self.registered,
                "tier": np.asarray(TIERS)[self.tier],
                "status": self.status.values(),
                "tags": ["|".join(sorted(self.tags[i])) for i in range(len(self))],
            }
        )

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Entity]:
        return (self.entity(i) for i in range(len(self)))

    def entity(self, row: int) -> Entity:
        """Row ``row`` as an :class:`~shuangsuiji.model.Entity` value."""
        return Entity(
            id=self.ids[row].decode(),
            name=str(self.names[row]),
            entity_type=self.entity_type[row],
            industry=self.industry[row].decode(),
            region=self.region[row].decode(),
            registered=self.registered[row].astype(object),
            tier=TIERS[int(self.tier[row])],
            status=self.status[row],
            tags=self.tags[row],
        )

    def id_list(self) -> list[str]:
        """The IDs as Python strings, in pool order."""
        return [i.decode() for i in self.ids.tolist()]

    def take(self, rows: Mask | npt.NDArray[np.intp]) -> EntityPool:
        """The sub-pool of the given rows (a boolean mask or row indices)."""
        idx = _rows(len(self), rows)
        return attrs.evolve(
            self,
            ids=self.ids[idx],
            names=self.names[idx],
            entity_type=self.entity_type.take(idx),
            industry=self.industry[idx],
            region=self.region[idx],
            registered=self.registered[idx],
            tier=self.tier[idx],
            status=self.status.take(idx),
            tags=self.tags.take(idx),
        )

    def mask(self, population: PopulationFilter) -> Mask:
        """Rows inside a structured population; fields AND together, values within a field OR."""
        m = np.ones(len(self), dtype=bool)
        p = population
        if p.entity_types:
            m &= self.entity_type.isin(p.entity_types)
        if p.industry_prefixes:
            m &= _prefix_mask(self.industry, p.industry_prefixes)
        if p.region_prefixes:
            m &= _prefix_mask(self.region, p.region_prefixes)
        if p.tiers:
            m &= np.isin(self.tier, [TIERS.index(t) for t in p.tiers])
        if p.statuses:
            m &= self.status.isin(p.statuses)
        if p.tags_any:
            m &= self.tags.any_of(p.tags_any)
        if p.registered_before is not None:
            m &= self.registered < np.datetime64(p.registered_before, "D")
        if p.registered_after is not None:
            m &= self.registered > np.datetime64(p.registered_after, "D")
        return m

    def filter(self, population: PopulationFilter) -> EntityPool:
        """The sub-pool inside ``population``."""
        return self.take(self.mask(population))

    def tier_labels(self) -> StrArray:
        """The tier letter of every row."""
        return np.asarray(TIERS, dtype=STRING)[self.tier]

    def region_at(self, digits: int) -> StrArray:
        """The first ``digits`` digits of each region code (6 = county, 9 = township)."""
        return np.strings.decode(np.strings.slice(self.region, 0, digits), "utf-8").astype(STRING)

    def index_of(self, ids: Iterable[str]) -> npt.NDArray[np.intp]:
        """Row of each ID; raises ``KeyError`` naming the first ID not in the pool."""
        wanted = _as_bytes(list(ids))
        order = np.argsort(self.ids, kind="stable")
        pos = np.searchsorted(self.ids, wanted, sorter=order)
        pos = np.minimum(pos, len(order) - 1) if len(order) else pos
        rows = order[pos] if len(order) else pos
        missing = ~(self.ids[rows] == wanted) if len(order) else np.ones(len(wanted), dtype=bool)
        if missing.any():
            raise UnknownKeyError(f"entity {wanted[missing][0].decode()!r} is not in the pool")
        return rows.astype(np.intp)

    @property
    def nbytes(self) -> int:
        """Bytes held by the columns (numpy StringDType heap included)."""
        return _nbytes(self)


@attrs.frozen(eq=False)
class InspectorPool:
    """The inspector pool, column by column.

    ``qualifications`` is a :class:`Labels` bit mask; ``certificate_expiry`` the last day the
    law-enforcement certificate (执法证) is valid.
    """

    ids: BytesArray
    names: StrArray
    department: Categorical
    region: BytesArray
    home_region: BytesArray
    certificate_no: StrArray
    certificate_expiry: npt.NDArray[np.datetime64]
    qualifications: Labels
    active: npt.NDArray[np.bool_]

    def __attrs_post_init__(self) -> None:
        _check_lengths("InspectorPool", attrs.asdict(self, recurse=False, filter=_is_column))
        _check_unique("InspectorPool", self.ids)

    @classmethod
    def from_inspectors(cls, inspectors: Iterable[Inspector]) -> InspectorPool:
        """Build a pool from validated :class:`~shuangsuiji.model.Inspector` values."""
        rows = list(inspectors)
        return cls.from_columns(
            ids=[r.id for r in rows],
            names=[r.name for r in rows],
            department=[r.department for r in rows],
            region=[r.region for r in rows],
            home_region=[r.home_region for r in rows],
            certificate_no=[r.certificate_no for r in rows],
            certificate_expiry=[r.certificate_expiry for r in rows],
            qualifications=[r.qualifications for r in rows],
            active=[r.active for r in rows],
        )

    @classmethod
    def from_columns(
        cls,
        *,
        ids: Iterable[str] | BytesArray,
        names: Iterable[str],
        department: Iterable[str],
        region: Iterable[str],
        home_region: Iterable[str],
        certificate_no: Iterable[str],
        certificate_expiry: Iterable[date] | npt.NDArray[np.datetime64],
        qualifications: Iterable[Iterable[str]] | Labels,
        active: Iterable[bool] | npt.NDArray[np.bool_],
    ) -> InspectorPool:
        """Build a pool from already validated columns."""
        quals = (
            qualifications
            if isinstance(qualifications, Labels)
            else Labels.from_sets(qualifications)
        )
        return cls(
            ids=_as_bytes(ids),
            names=_as_strings(names),
            department=Categorical.from_values(department),
            region=_as_bytes(region),
            home_region=_as_bytes(home_region),
            certificate_no=_as_strings(certificate_no),
            certificate_expiry=_to_days(certificate_expiry),
            qualifications=quals,
            active=np.asarray(active if isinstance(active, np.ndarray) else list(active), bool),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Inspector]:
        return (self.inspector(i) for i in range(len(self)))

    def inspector(self, row: int) -> Inspector:
        """Row ``row`` as an :class:`~shuangsuiji.model.Inspector` value."""
        return Inspector(
            id=self.ids[row].decode(),
            name=str(self.names[row]),
            department=self.department[row],
            region=self.region[row].decode(),
            home_region=self.home_region[row].decode(),
            certificate_no=str(self.certificate_no[row]),
            certificate_expiry=self.certificate_expiry[row].astype(object),
            qualifications=self.qualifications[row],
            active=bool(self.active[row]),
        )

    def id_list(self) -> list[str]:
        """The IDs as Python strings, in pool order."""
        return [i.decode() for i in self.ids.tolist()]

    def take(self, rows: Mask | npt.NDArray[np.intp]) -> InspectorPool:
        """The sub-pool of the given rows (a boolean mask or row indices)."""
        idx = _rows(len(self), rows)
        return attrs.evolve(
            self,
            ids=self.ids[idx],
            names=self.names[idx],
            department=self.department.take(idx),
            region=self.region[idx],
            home_region=self.home_region[idx],
            certificate_no=self.certificate_no[idx],
            certificate_expiry=self.certificate_expiry[idx],
            qualifications=self.qualifications.take(idx),
            active=self.active[idx],
        )

    def certified_on(self, day: date) -> Mask:
        """Active officers whose certificate is valid on ``day``."""
        return self.active & (self.certificate_expiry >= np.datetime64(day, "D"))

    def in_departments(self, departments: Iterable[str]) -> Mask:
        """Officers of any of ``departments``."""
        return self.department.isin(departments)

    def holding(self, qualification: str) -> Mask:
        """Officers holding ``qualification``."""
        return self.qualifications.all_of([qualification])

    @property
    def nbytes(self) -> int:
        """Bytes held by the columns."""
        return _nbytes(self)


def _is_column(attribute: attrs.Attribute[Any], value: Any) -> bool:
    return attribute.name not in {"id_scheme"}


def _nbytes(pool: EntityPool | InspectorPool) -> int:
    total = 0
    for value in attrs.asdict(pool, recurse=False).values():
        if isinstance(value, Categorical):
            total += value.codes.nbytes
        elif isinstance(value, Labels):
            total += value.bits.nbytes
        elif isinstance(value, np.ndarray):
            total += value.nbytes
            if value.dtype == STRING:
                # StringDType keeps strings longer than 15 bytes on a heap beside the array.
                lengths = np.strings.str_len(np.strings.encode(value, "utf-8"))
                total += int(lengths[lengths > 15].sum())
    return total
