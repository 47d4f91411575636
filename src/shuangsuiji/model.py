"""Frozen, validated value classes for the regime's records.

An invalid object cannot exist: every class checks its fields at construction and raises
``ValueError`` saying which field is wrong and why.

- :class:`Department` — a regulatory department taking part in random inspections.
- :class:`Entity` — a market entity in the entity pool (检查对象名录库).
- :class:`Inspector` — a law-enforcement officer in the inspector pool (执法检查人员名录库).
- :class:`InspectionItem` — one line of the inspection item list (一单, 抽查事项清单).
- :class:`PopulationFilter` — a structured population for directed draws (定向抽查).
- :class:`Task` — one inspection task (抽查任务); several departments make it joint (联合抽查).
- :class:`Plan` — the annual sampling plan table (一表, 抽查工作计划表).

>>> Entity(id="91350100M000100Y43", name="福州某某贸易有限公司", entity_type="有限责任公司",
...        industry="F5191", region="350102001", registered=date(2019, 3, 1), tier="B").status
'存续'
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import attrs

from shuangsuiji.errors import InvalidInputError
from shuangsuiji.ids import canonical_id

__all__ = [
    "CODE_RE",
    "DEREGISTERED_STATUSES",
    "METHODS",
    "STATUSES",
    "TIERS",
    "Conflict",
    "Department",
    "Entity",
    "InspectionItem",
    "Inspector",
    "Plan",
    "PopulationFilter",
    "Task",
]

TIERS = ("A", "B", "C", "D")
"""Credit-risk tiers: A low risk … D high risk (国市监信发〔2022〕6号)."""

STATUSES = ("存续", "在业", "停业", "迁出", "注销", "吊销", "撤销")
"""Registration statuses. 存续/在业 are operating; 注销 deregistered; 吊销 licence revoked."""

DEREGISTERED_STATUSES = frozenset({"注销", "吊销", "撤销"})

METHODS = ("现场检查", "书面检查", "网络监测", "抽样检验")
"""Inspection methods: on site, documents, online monitoring, product sampling."""

CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._\-]{0,63}$")
"""A code (department, plan, task, item, category): 1-64 ASCII letters, digits, ``._-``."""
_REGION_RE = re.compile(r"^[0-9]{2,12}$")
_INDUSTRY_RE = re.compile(r"^[A-T]([0-9]{0,4})$")


def _code(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not CODE_RE.match(value):
        raise InvalidInputError(
            f"{attribute.name} {value!r} is not a valid code: use 1-64 ASCII letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )


def _nonempty(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{attribute.name} must be a non-empty text")


def _region(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _REGION_RE.match(value):
        raise InvalidInputError(
            f"{attribute.name} {value!r} is not an administrative division code: use 2-12 digits "
            "(6 for a county, 9 for a township)"
        )


def _ratio(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise InvalidInputError(f"{attribute.name} must be a ratio between 0 and 1, got {value!r}")


def _labels(values: Any) -> frozenset[str]:
    if isinstance(values, str):
        values = [v for v in re.split(r"[|;,]", values) if v.strip()]
    return frozenset(v.strip() for v in values)


def _codes(values: Any) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    return tuple(values)


@attrs.frozen
class Department:
    """A department that runs random inspections, e.g. ``Department("SCJG", "市场监督管理局")``."""

    code: str = attrs.field(validator=_code)
    name: str = attrs.field(validator=_nonempty)


@attrs.frozen
class Entity:
    """A market entity (市场主体) in the entity pool.

    ``region`` is the administrative division code of its registered address (6 digits for a
    county, 9 for a township); ``industry`` a GB/T 4754 code such as ``"C1310"``; ``tier`` the
    credit-risk tier A–D; ``tags`` labels such as ``经营异常名录`` (abnormal-operations list).
    """

    id: str = attrs.field(converter=canonical_id)
    name: str = attrs.field(validator=_nonempty)
    entity_type: str = attrs.field(validator=_nonempty)
    industry: str = attrs.field(validator=attrs.validators.matches_re(_INDUSTRY_RE))
    region: str = attrs.field(validator=_region)
    registered: date = attrs.field(validator=attrs.validators.instance_of(date))
    tier: str = attrs.field(validator=attrs.validators.in_(TIERS))
    status: str = attrs.field(default="存续", validator=attrs.validators.in_(STATUSES))
    tags: frozenset[str] = attrs.field(factory=frozenset, converter=_labels)


@attrs.frozen
class Inspector:
    """A law-enforcement officer in the inspector pool.

    ``region`` is the jurisdiction the officer works in; ``home_region`` (optional) the township
    the officer lives in, used by attribute recusal rules. The law-enforcement certificate
    (执法证) must be valid on the inspection date for the officer to be drawn.
    """

    id: str = attrs.field(converter=canonical_id)
    name: str = attrs.field(validator=_nonempty)
    department: str = attrs.field(validator=_code)
    region: str = attrs.field(validator=_region)
    certificate_no: str = attrs.field(validator=_nonempty)
    certificate_expiry: date = attrs.field(validator=attrs.validators.instance_of(date))
    qualifications: frozenset[str] = attrs.field(factory=frozenset, converter=_labels)
    active: bool = True
    home_region: str = ""

    def __attrs_post_init__(self) -> None:
        if self.home_region and not _REGION_RE.match(self.home_region):
            raise InvalidInputError(f"home_region {self.home_region!r} is not a division code")

    def certified_on(self, day: date) -> bool:
        """True when the officer is active and the certificate is valid on ``day``."""
        return self.active and day <= self.certificate_expiry


@attrs.frozen
class Conflict:
    """A declared conflict of interest (回避): the inspector must not inspect the entity.

    ``relation`` says what the conflict is (近亲属任职, 曾任职, 持有股份 …) and ``source`` who
    declared or found it (本人申报, 举报核实 …).
    """

    inspector_id: str = attrs.field(converter=canonical_id)
    entity_id: str = attrs.field(converter=canonical_id)
    relation: str = attrs.field(validator=_nonempty)
    source: str = attrs.field(validator=_nonempty)


@attrs.frozen
class InspectionItem:
    """One line of the inspection item list (一单).

    ``key`` items (重点检查事项) have no ratio cap; general items are capped by the policy.
    ``default_ratio`` and ``frequency_per_year`` are the list's defaults for tasks using the item.
    """

    code: str = attrs.field(validator=_code)
    department: str = attrs.field(validator=_code)
    name: str = attrs.field(validator=_nonempty)
    legal_basis: str = attrs.field(validator=_nonempty)
    target: str = attrs.field(validator=_nonempty)
    method: str = attrs.field(default="现场检查", validator=attrs.validators.in_(METHODS))
    key: bool = False
    default_ratio: float | None = attrs.field(default=None, validator=_ratio)
    frequency_per_year: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    required_qualifications: frozenset[str] = attrs.field(factory=frozenset, converter=_labels)


@attrs.frozen
class PopulationFilter:
    """A structured population (定向 when any field is set, 不定向 when none is).

    Fields are combined with AND; values within a field with OR. Never an SQL string.

    >>> PopulationFilter(industry_prefixes=("C13", "C14")).directed
    True
    >>> PopulationFilter().directed
    False
    """

    entity_types: tuple[str, ...] = attrs.field(default=(), converter=_codes)
    industry_prefixes: tuple[str, ...] = attrs.field(default=(), converter=_codes)
    region_prefixes: tuple[str, ...] = attrs.field(default=(), converter=_codes)
    tiers: tuple[str, ...] = attrs.field(
        default=(),
        converter=_codes,
        validator=attrs.validators.deep_iterable(attrs.validators.in_(TIERS)),
    )
    statuses: tuple[str, ...] = attrs.field(
        default=(),
        converter=_codes,
        validator=attrs.validators.deep_iterable(attrs.validators.in_(STATUSES)),
    )
    tags_any: tuple[str, ...] = attrs.field(default=(), converter=_codes)
    registered_before: date | None = None
    registered_after: date | None = None

    def __attrs_post_init__(self) -> None:
        for prefix in self.region_prefixes:
            if not prefix.isdigit():
                raise InvalidInputError(
                    f"region prefix {prefix!r} must be digits of a division code"
                )
        if (
            self.registered_before is not None
            and self.registered_after is not None
            and self.registered_after >= self.registered_before
        ):
            raise InvalidInputError(
                f"registered_after {self.registered_after} is not before registered_before "
                f"{self.registered_before}: the population would be empty"
            )

    @property
    def directed(self) -> bool:
        """True for a directed (定向) population, False for the whole pool (不定向)."""
        return any(
            (
                self.entity_types,
                self.industry_prefixes,
                self.region_prefixes,
                self.tiers,
                self.statuses,
                self.tags_any,
                self.registered_before,
                self.registered_after,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (dates as ISO strings), the form stored and hashed in records."""
        out: dict[str, Any] = {}
        for field in attrs.fields(PopulationFilter):
            value = getattr(self, field.name)
            if value:
                out[field.name] = value.isoformat() if isinstance(value, date) else list(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PopulationFilter:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in attrs.fields(PopulationFilter)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(
                f"unknown population filter field(s) {unknown}; known: {sorted(known)}"
            )
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key.startswith("registered_"):
                kwargs[key] = date.fromisoformat(value) if value else None
            else:
                kwargs[key] = tuple(value)
        return cls(**kwargs)


@attrs.frozen
class Task:
    """One inspection task (抽查任务) of a plan.

    Several ``departments`` make a joint task (联合抽查): one draw, one visit, and every team
    holds at least one inspector of each department. ``ratio`` overrides the policy's tier
    ratios with one ratio for the whole population; ``None`` uses the policy.
    """

    code: str = attrs.field(validator=_code)
    plan: str = attrs.field(validator=_code)
    name: str = attrs.field(validator=_nonempty)
    departments: tuple[str, ...] = attrs.field(converter=_codes)
    items: tuple[str, ...] = attrs.field(converter=_codes)
    start: date
    end: date
    population: PopulationFilter = attrs.field(factory=PopulationFilter)
    ratio: float | None = attrs.field(default=None, validator=_ratio)

    def __attrs_post_init__(self) -> None:
        if not self.departments:
            raise InvalidInputError(f"task {self.code}: name at least one department")
        if len(set(self.departments)) != len(self.departments):
            raise InvalidInputError(f"task {self.code}: a department is listed twice")
        if not self.items:
            raise InvalidInputError(f"task {self.code}: name at least one inspection item (一单)")
        if self.end < self.start:
            raise InvalidInputError(
                f"task {self.code}: end {self.end} is before start {self.start}"
            )

    @property
    def joint(self) -> bool:
        """True for a joint inspection by several departments (联合抽查)."""
        return len(self.departments) > 1

    @property
    def directed(self) -> bool:
        """True for a directed draw (定向抽查)."""
        return self.population.directed


@attrs.frozen
class Plan:
    """The annual sampling plan table (一表): the year's tasks, published in advance."""

    code: str = attrs.field(validator=_code)
    year: int = attrs.field(validator=[attrs.validators.ge(2015), attrs.validators.le(2100)])
    name: str = attrs.field(validator=_nonempty)
    departments: tuple[str, ...] = attrs.field(converter=_codes)
