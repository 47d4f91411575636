"""How the publicity system (国家企业信用信息公示系统) writes what is published: the inspection
type (定向/不定向) and joint tasks, departments and items, a directed population in words, and
a record's status on a given day (待公示 … 已公示). Records and announcements are built in
:mod:`shuangsuiji.publication`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, Final

from shuangsuiji.model import Department, InspectionItem, PopulationFilter

__all__ = [
    "INSPECTION_TYPES",
    "STATUS_ORDER",
    "InspectionKind",
    "PublicationStatus",
    "department_dict",
    "departments_from",
    "describe_population",
    "item_dict",
]

INSPECTION_TYPES: Final = {True: "定向", False: "不定向"}
"""Inspection type by ``directed``: 定向 (within a filtered population) or 不定向 (whole pool)."""


class PublicationStatus(enum.StrEnum):
    """Where a record stands on a given day; ``label_zh`` is the Chinese label."""

    PENDING = "pending"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    PUBLISHED_LATE = "published_late"
    PUBLISHED = "published"

    @property
    def label_zh(self) -> str:
        """待公示, 即将到期, 逾期未公示, 逾期公示 or 已公示."""
        return _STATUS_ZH[self]


_STATUS_ZH: Final = {
    PublicationStatus.PENDING: "待公示",
    PublicationStatus.DUE_SOON: "即将到期",
    PublicationStatus.OVERDUE: "逾期未公示",
    PublicationStatus.PUBLISHED_LATE: "逾期公示",
    PublicationStatus.PUBLISHED: "已公示",
}
STATUS_ORDER: Final = tuple(PublicationStatus)
"""The statuses by the code :func:`~shuangsuiji.publication.statuses` computes (0 pending …
4 published)."""


class InspectionKind:
    """``inspection_type`` and ``joint`` of a task as published (records and announcements)."""

    directed: bool
    departments: tuple[Department, ...]

    @property
    def inspection_type(self) -> str:
        """定向 (directed) or 不定向 (undirected)."""
        return INSPECTION_TYPES[self.directed]

    @property
    def joint(self) -> bool:
        """Whether several departments take part (联合抽查)."""
        return len(self.departments) > 1


def department_dict(d: Department) -> dict[str, str]:
    """A department as published: ``{code, name}``."""
    return {"code": d.code, "name": d.name}


def departments_from(data: Iterable[Mapping[str, str]]) -> tuple[Department, ...]:
    """The departments of published ``{code, name}`` objects."""
    return tuple(Department(d["code"], d["name"]) for d in data)


def item_dict(item: InspectionItem) -> dict[str, Any]:
    """An inspection item as announced (一单): code, name, department, basis, method, key."""
    return {
        "code": item.code,
        "name": item.name,
        "department": item.department,
        "legal_basis": item.legal_basis,
        "method": item.method,
        "key": item.key,
    }


def describe_population(population: PopulationFilter) -> str:
    """The population of a draw in words, as an announcement states it.

    >>> describe_population(PopulationFilter())
    '不定向：检查对象名录库内全部检查对象'
    >>> describe_population(PopulationFilter(industry_prefixes=("F52",), tiers=("C", "D")))
    '定向：行业代码以 F52 开头；信用风险分类为 C、D 类'
    """
    if not population.directed:
        return "不定向：检查对象名录库内全部检查对象"
    p = population
    parts = []
    if p.entity_types:
        parts.append(f"主体类型为{'、'.join(p.entity_types)}")
    if p.industry_prefixes:
        parts.append(f"行业代码以 {'、'.join(p.industry_prefixes)} 开头")
    if p.region_prefixes:
        parts.append(f"行政区划代码以 {'、'.join(p.region_prefixes)} 开头")
    if p.tiers:
        parts.append(f"信用风险分类为 {'、'.join(p.tiers)} 类")
    if p.statuses:
        parts.append(f"登记状态为{'、'.join(p.statuses)}")
    if p.tags_any:
        parts.append(f"标注{'或'.join(p.tags_any)}")
    if p.registered_after is not None:
        parts.append(f"成立日期晚于 {p.registered_after.isoformat()}")
    if p.registered_before is not None:
        parts.append(f"成立日期早于 {p.registered_before.isoformat()}")
    return "定向：" + "；".join(parts)
