"""Chinese labels for the machine codes that official pages and exports show (中文标签).

The library keeps stable ASCII codes in its records and bundles (``inspected_within_window``,
``illness``, ``deregistered_before_draw`` …) because auditors' programs read them. People read
the printed draw record, the public results page and the CSV exports, so those show the label
of every code, in Chinese; an unknown code (an agency's own) is shown as it is. One table per
kind of code, here, so that every page says the same thing.

>>> recusal_label("illness")
'因病'
>>> recusal_label("other", "出差")
'其他：出差'
>>> replacement_label("not_found_at_address")
'通过登记的住所无法联系'
>>> stratum_label("A|350102|经营异常名录", {"350102": "鼓楼区"})
'A类（信用风险低）｜鼓楼区｜经营异常名录'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from shuangsuiji.candidates import EXCLUSION_REASONS

__all__ = [
    "RECUSAL_LABELS",
    "REPLACEMENT_LABELS",
    "RISK_TIER_LABELS",
    "exclusion_label",
    "recusal_label",
    "replacement_label",
    "stratum_label",
]

RECUSAL_LABELS: Final[Mapping[str, str]] = {
    "conflict_declared": "新申报利害关系",
    "illness": "因病",
    "leave": "休假或公出",
    "certificate": "执法证失效",
    "reassigned": "岗位调整",
    "other": "其他",
}
"""Why an officer left a team after the draw (回避或调整)."""

REPLACEMENT_LABELS: Final[Mapping[str, str]] = {
    "deregistered_before_draw": "抽取前已注销",
    "not_found_at_address": "通过登记的住所无法联系",
    "duplicate_record": "重复记录",
    "outside_jurisdiction": "不属本辖区",
    "other": "其他",
}
"""Why a selected entity was replaced by an alternate."""

RISK_TIER_LABELS: Final[Mapping[str, str]] = {
    "A": "A类（信用风险低）",
    "B": "B类（信用风险一般）",
    "C": "C类（信用风险较高）",
    "D": "D类（信用风险高）",
}
"""The credit-risk tiers (国发〔2019〕5号)."""


def _with_text(label: str, text: str) -> str:
    return f"{label}：{text}" if text.strip() else label


def exclusion_label(code: str) -> str:
    """The Chinese label of an exclusion reason (the code itself when unknown)."""
    return EXCLUSION_REASONS.get(code, code)


def recusal_label(code: str, text: str = "") -> str:
    """The Chinese label of a recusal reason, with its explanation when there is one."""
    return _with_text(RECUSAL_LABELS.get(str(code), str(code)), text)


def replacement_label(code: str, note: str = "") -> str:
    """The Chinese label of a replacement reason, with its note when there is one."""
    return _with_text(REPLACEMENT_LABELS.get(str(code), str(code)), note)


def stratum_label(stratum: str, regions: Mapping[str, str] | None = None) -> str:
    """A stratum key such as ``A|350102|经营异常名录`` in words: the risk tier's label, the
    region's name where ``regions`` (code → name) has it, the rest as it is, joined by ``｜``.
    The whole population (an empty key) is ``全部``."""
    if not stratum:
        return "全部"
    names = regions or {}
    parts = []
    for part in stratum.split("|"):
        parts.append(RISK_TIER_LABELS.get(part) or names.get(part) or part)
    return "｜".join(parts)
