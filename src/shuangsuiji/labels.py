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
>>> conduct_detail_label("reassigned", {"entity": "E1", "inspector": "ZF01", "reason": "illness"})
'E1：执法人员 ZF01 被调出（illness 因病）'
>>> health_subject_label("pairs (officer × county)")
'执法人员与县（区）组合'
>>> health_detail_label(("tickets",), {"tickets": 20, "strata": 14, "mean": 0.51})
'来自 14 层的 20 个签号；均值 0.510（应接近 0.5）'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from shuangsuiji.candidates import EXCLUSION_REASONS
from shuangsuiji.commitments import REDRAW_REASONS

__all__ = [
    "CONDUCT_DETAIL_LABELS",
    "CONDUCT_LABELS",
    "DIRECTION_LABELS",
    "HEALTH_DETAIL_LABELS",
    "HEALTH_SUBJECT_LABELS",
    "HEALTH_TEST_LABELS",
    "RECUSAL_LABELS",
    "REPLACEMENT_LABELS",
    "RISK_TIER_LABELS",
    "conduct_detail_label",
    "conduct_label",
    "direction_label",
    "due_basis_label",
    "exclusion_label",
    "health_detail_label",
    "health_subject_label",
    "health_test_label",
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

CONDUCT_DETAIL_LABELS: Final[Mapping[str, str]] = {
    "no_announcement": "记录中没有抽取前公告",
    "system_alone": "种子只来自系统（没有独立参与方或公开数值）",
    "abandoned": (
        "第 {attempt} 次抽取已放弃，原因：{reason}，说明：{reason_text}，批准人 {approved_by}"
    ),
    "redraw": "第 {attempt} 次抽取，原因：{reason}，说明：{reason_text}，批准人 {approved_by}",
    "reassigned": "{entity}：执法人员 {inspector} 被调出（{reason}）",
    "late_conflict": "执法人员 {inspector} 在名单抽出后申报与 {entity} 的利害关系：{relation}",
    "status_flip": "{entity} 因状态“{before}”被排除，现在的状态为“{now}”",
    "never_inspected": "{entity} 被抽中，任务已结束，没有检查结果",
}
"""The detail of each conduct finding in Chinese, by the key of its English wording
(:data:`shuangsuiji.conduct.DETAILS`), filled with the finding's facts; a ``reason`` is shown
as its code and label."""

HEALTH_TEST_LABELS: Final[Mapping[str, str]] = {
    "units": "逐个单位检验",
    "spread": "分布检验",
    "tickets": "签号检验",
}
"""The tests of ``shuangsuiji health`` (:mod:`shuangsuiji.health`)."""

DIRECTION_LABELS: Final[Mapping[str, str]] = {
    "too often": "抽中过多",
    "too rarely": "抽中过少",
}
"""Which way a flagged unit's count is implausible."""

HEALTH_SUBJECT_LABELS: Final[Mapping[str, str]] = {
    "entities": "检查对象",
    "inspectors": "执法检查人员",
    "entity": "检查对象",
    "township": "乡镇（街道）",
    "county": "县（区）",
    "industry": "行业",
}
"""What a health report counts: entities, inspectors, or pairs of an officer and a group
(``pairs (officer × county)``: the group's label is used)."""

HEALTH_DETAIL_LABELS: Final[Mapping[str, str]] = {
    "units": (
        "{units} 个单位；单侧精确尾概率，Tarone-Bonferroni 除数 {low}（抽中过少）和 "
        "{high}（抽中过多）；标记 {flagged} 个"
    ),
    "spread": (
        "{units} 个单位按 mid-p 分入 {bins} 组；最低组 {lowest:.0f} 个（期望 "
        "{lowest_expected:.1f}），最高组 {highest:.0f} 个（期望 {highest_expected:.1f}）"
    ),
    "spread_too_few": "单位太少，无法作直方图（每组至少需要 5 个单位）",
    "tickets": "来自 {strata} 层的 {tickets} 个签号；均值 {mean:.3f}（应接近 0.5）",
    "replay_units": (
        "{units} 个单位，最大 z {z_max:.2f}、最小 z {z_min:.2f}，与 {replays} 次重放比较 "
        "(max-T)；标记 {flagged} 个"
    ),
    "replay_spread": (
        "z² 之和 {total:.1f}，重放的中位数 {median:.1f}（{q_low:.1f}–{q_high:.1f}）；双侧检验"
    ),
    "too_few_replays": "；重放次数太少，在此检验水平上不能拒绝（需要 {need} 次零假设重放）",
}
"""The detail of each health test in Chinese, by the key of its English wording
(:data:`shuangsuiji.health.DETAILS`), filled with the test's facts."""

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


def _code_and_label(code: str, label: str) -> str:
    return code if label == code else f"{code} {label}"


def conduct_detail_label(key: str, facts: Mapping[str, str]) -> str:
    """The detail of a conduct finding in Chinese (:data:`CONDUCT_DETAIL_LABELS`); a re-draw's
    reason by :func:`redraw_label`, a reassignment's by :func:`recusal_label`. An unknown key
    lists the facts as they are."""
    template = CONDUCT_DETAIL_LABELS.get(key)
    if template is None:
        return "；".join(f"{k}：{v}" for k, v in facts.items()) or key
    values = dict(facts)
    if "reason" in values:
        code = values["reason"]
        label = recusal_label(code) if key == "reassigned" else redraw_label(code)
        values["reason"] = _code_and_label(code, label)
    return template.format_map(values)


def health_test_label(name: str) -> str:
    """The Chinese name of a health test (the name itself when unknown)."""
    return HEALTH_TEST_LABELS.get(name, name)


def direction_label(direction: str) -> str:
    """``too often`` / ``too rarely`` in Chinese."""
    return DIRECTION_LABELS.get(direction, direction)


_PAIRS = re.compile(r"^pairs \(officer × (\w+)\)$")


def health_subject_label(subject: str) -> str:
    """What a health report counts, in Chinese (the subject itself when unknown)."""
    pairs = _PAIRS.match(subject)
    if pairs:
        group = pairs.group(1)
        return f"执法人员与{HEALTH_SUBJECT_LABELS.get(group, group)}组合"
    return HEALTH_SUBJECT_LABELS.get(subject, subject)


def health_detail_label(keys: tuple[str, ...], facts: Mapping[str, Any], fallback: str = "") -> str:
    """The detail of a health test in Chinese (:data:`HEALTH_DETAIL_LABELS`), or ``fallback``
    (its English detail) when a key has no Chinese wording."""
    if not keys or any(k not in HEALTH_DETAIL_LABELS for k in keys):
        return fallback
    return "".join(HEALTH_DETAIL_LABELS[k].format_map(facts) for k in keys)


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
