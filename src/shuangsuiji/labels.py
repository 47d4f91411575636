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
>>> payload_summary({"task": "T1", "entity": "E1", "by": "E2", "reason": "not_found_at_address",
...                  "record_digest": "ab" * 32, "stream": {"k": 1}})
'任务：T1；对象：E1；替补：E2；原因：通过登记的住所无法联系；记录摘要：abababababab…'
>>> conduct_label("status_flip")
'排除后状态又变更'
>>> redraw_label("supervisor_order")
'上级机关或监督机关书面要求重新抽取'
>>> due_basis_label("official: State Council holiday notices 2004-2026", estimated=False)
'依据国务院办公厅2004—2026年节假日安排'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from shuangsuiji.candidates import EXCLUSION_REASONS
from shuangsuiji.commitments import REDRAW_REASONS

__all__ = [
    "CONDUCT_LABELS",
    "RECUSAL_LABELS",
    "REPLACEMENT_LABELS",
    "RISK_TIER_LABELS",
    "conduct_label",
    "due_basis_label",
    "exclusion_label",
    "payload_summary",
    "recusal_label",
    "redraw_label",
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

CONDUCT_LABELS: Final[Mapping[str, str]] = {
    "system_seed_only": "仅由系统产生随机数（无独立参与方或未事先公告）",
    "redraw": "重新抽取",
    "abandoned": "放弃的抽取",
    "reassigned": "抽取后调整检查组",
    "late_conflict": "抽取后申报利害关系",
    "status_flip": "排除后状态又变更",
    "never_inspected": "抽中但未检查",
}
"""The acts around a draw that ``shuangsuiji health`` lists for review (:mod:`shuangsuiji.conduct`
names them by these codes)."""

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


def redraw_label(code: str) -> str:
    """The Chinese label of a re-draw reason (:data:`shuangsuiji.commitments.REDRAW_REASONS`)."""
    return REDRAW_REASONS.get(str(code), str(code))


def conduct_label(code: str) -> str:
    """The Chinese label of a conduct finding's kind (the code itself when unknown)."""
    return CONDUCT_LABELS.get(str(code), str(code))


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


_PAYLOAD_FIELDS: Final = (
    ("task", "任务"),
    ("attempt", "抽取次序"),
    ("party", "参与方"),
    ("entity", "对象"),
    ("by", "替补"),
    ("inspector", "检查人员"),
    ("removed", "调出"),
    ("added", "调入"),
    ("stratum", "分层"),
    ("reason", "原因"),
    ("note", "说明"),
    ("text", "说明"),
    ("candidates", "候选数"),
    ("selected", "抽中数"),
    ("teams", "检查组数"),
    ("team_size", "每组人数"),
    ("cutoff", "截止日期"),
    ("published", "公示日期"),
    ("due", "公示截止"),
    ("step", "步骤"),
    ("error", "错误"),
    ("seed", "种子"),
    ("commitment", "承诺值"),
    ("pool_digest", "名录摘要"),
    ("policy_hash", "细则哈希"),
    ("record_digest", "记录摘要"),
)
"""The fields of an audit event's payload shown in a time line, in this order, by label."""

_HEX = re.compile(r"^[0-9a-f]{32,}$")


def _value_text(key: str, value: object) -> str:
    if key == "reason":
        code = str(value)
        return REPLACEMENT_LABELS.get(code) or RECUSAL_LABELS.get(code) or code
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value[:6]) + ("…" if len(value) > 6 else "")
    text = str(value)
    if _HEX.match(text):
        return text[:12] + "…"
    return text[:48] + ("…" if len(text) > 48 else "")


def payload_summary(payload: Mapping[str, object], limit: int = 6) -> str:
    """An audit event's payload in words: its known fields (:data:`_PAYLOAD_FIELDS`) with
    Chinese labels and reason codes as labels, hashes shortened; no JSON."""
    parts = [
        f"{label}：{_value_text(key, payload[key])}"
        for key, label in _PAYLOAD_FIELDS
        if key in payload
        and payload[key] not in (None, "", [], {})
        and not isinstance(payload[key], Mapping)
    ]
    return "；".join(parts[:limit])


def due_basis_label(basis: str, *, estimated: bool) -> str:
    """The basis of a due date in Chinese (a record's ``due_basis`` is the calendar's own text):
    the State Council notices it follows, or that it is an estimate and why."""
    if estimated:
        through = re.search(r"through (\d{4}-\d{2}-\d{2})", basis)
        known = f"{through.group(1)} 之后" if through else "超出已公布范围"
        return f"预计：{known}的节假日安排尚未公布，暂按周一至周五推算，公布后重新计算"
    years = re.search(r"(\d{4})-(\d{4})", basis)
    if years:
        return f"依据国务院办公厅{years.group(1)}—{years.group(2)}年节假日安排"
    return "依据国务院办公厅节假日安排"
