"""The printable draw record (抽取记录): one self-contained HTML page per task.

The page an agency prints, signs and hands to the discipline-inspection office (纪检监察): the
task, the policy hash (一细则), the pool digest, the seed's commitment and reveal, the time line
of the draw's audit events, the strata, the selected entities with their teams, the
alternates, the replacements, and a signatures block (抽取人、监督人、记录人). Everything a
person reads is in Chinese — exclusion and replacement reasons, strata (risk tiers), audit
event kinds and their contents — through :mod:`shuangsuiji.labels`; ``bilingual=True`` adds
English subtitles. The CSS lays it out on A4 with sensible page breaks; there are no
external assets (fonts come from the system: Noto CJK, Source Han, SimSun, PingFang…), and
every value from the bundle is HTML-escaped.

The record binds the paper to the electronic bundle: it prints the bundle's **record
digest** (:func:`shuangsuiji.bundle.record_digest`: SHA-256 of the canonical JSON of every
field but ``candidates``, which ``pool_digest`` commits to), recomputed from the bundle and
marked as a mismatch if the bundle's own ``record_digest`` differs, and, when given, the head
of the audit log (``seq`` and ``hash``) as a checkpoint that
``verify_chain(..., checkpoints=[(seq, hash)])`` can later hold the log to.

The bundle is the draw bundle of the design contract (``spec``, ``task_label``, ``seed``,
``pool_digest``, ``candidates``, ``strata``, ``selected``, ``alternates``, ``teams``,
``policy_hash``, ``library_version``), optionally with these extra keys (also accepted through
``extras``):

- ``task``: ``{"code", "name", "departments", "items", "start", "end", "plan"}``;
- ``seed_provenance``: the seed record (:mod:`shuangsuiji.seeds` ``to_record()``: a ceremony
  with ``commitments`` and ``reveals``, or public values with ``sources`` and ``values``),
  or any mapping such as ``{"commitment", "committed_at", "revealed_at"}``;
- ``events``: the task's audit events (``seq``, ``time``, ``actor``, ``kind``, ``payload``,
  ``hash``), and ``audit_head``: ``{"seq", "hash"}`` of the log when the record was printed;
- ``replacements``: ``{"replaced", "by", "stratum", "reason", "note"}`` entries;
- ``names``: display names by entity or inspector ID;
- ``regions``: region names by administrative division code (strata are printed with them).

>>> page = render_draw_record({"spec": "SSJ-DRAW-1", "task_label": "SJ-2025-001",
...     "seed": "ab" * 32, "pool_digest": "cd" * 32, "policy_hash": "ef" * 32,
...     "candidates": [{"id": "E1", "stratum": "A"}, {"id": "E2", "stratum": "A"}],
...     "selected": [{"id": "E2", "stratum": "A", "ticket": "01" * 32}],
...     "alternates": [{"id": "E1", "stratum": "A", "ticket": "02" * 32}],
...     "teams": [{"entity": "E2", "inspectors": ["I1", "I2"]}],
...     "library_version": "0.1.0", "names": {"E2": "<script>"}})
>>> "抽取记录" in page and "&lt;script&gt;" in page and "<script>" not in page
True
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from shuangsuiji._html import Html as _Html
from shuangsuiji._html import escape as _e
from shuangsuiji._html import print_css
from shuangsuiji.audit import EVENT_KINDS, CanonicalJsonError
from shuangsuiji.bundle import record_digest
from shuangsuiji.errors import InvalidInputError
from shuangsuiji.labels import (
    exclusion_label,
    payload_summary,
    replacement_label,
    stratum_label,
)

__all__ = ["ReportInputError", "render_draw_record"]

_EN_SPAN = re.compile(r'<span class="en">[^<]*</span>')
"""An English subtitle: its text is escaped, so it holds no ``<``."""

_BEIJING = timezone(timedelta(hours=8))
_TICKET_DIGITS = 12
_EXTRA_KEYS = (
    "task",
    "seed_provenance",
    "events",
    "audit_head",
    "replacements",
    "names",
    "regions",
)


class ReportInputError(InvalidInputError):
    """The bundle cannot be rendered (e.g. it is not JSON data); the message says why."""


def _label(zh: str, en: str) -> _Html:
    return _Html(f'{html.escape(zh)}<span class="en">{html.escape(en)}</span>')


def _hex(value: Any, digits: int | None = None) -> _Html:
    """A hash in monospace; shortened to ``digits`` (kept on one line) when asked."""
    if value is None or value == "":
        return _e(None)
    text = str(value)
    if digits is None or len(text) <= digits:
        return _Html(f'<code class="hex">{_e(text)}</code>')
    return _Html(f'<code class="hex short" title="{_e(text)}">{_e(text[:digits])}…</code>')


def _time(value: Any, compact: bool = False) -> _Html:
    """An instant as Beijing time; in full form with the recorded text (usually UTC) below."""
    if value is None or value == "":
        return _e(None)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return _e(value)
    if moment.tzinfo is None:
        return _e(value)
    local = _e(moment.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M:%S"))
    if compact:
        return _Html(f'<span class="nowrap">{local}</span>')
    return _Html(f'{local} <span class="tz">北京时间</span><br><small>{_e(value)}</small>')


def _table(
    headers: Sequence[_Html], rows: Iterable[Sequence[Any]], cls: str = "", empty: Any = None
) -> _Html:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        shown = _label("无", "none") if empty is None else empty
        body = f'<tr><td colspan="{len(headers)}" class="empty">{_e(shown)}</td></tr>'
    return _Html(
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _fields(pairs: Iterable[tuple[_Html, Any]]) -> _Html:
    rows = "".join(f"<tr><th>{k}</th><td>{_e(v)}</td></tr>" for k, v in pairs)
    return _Html(f'<table class="fields"><tbody>{rows}</tbody></table>')


def _section(title: _Html, body: str, cls: str = "") -> str:
    return f'<section class="{cls}"><h2>{title}</h2>{body}</section>'


# -- sections -----------------------------------------------------------------------------------


def _digest_cell(b: Mapping[str, Any], digest: str) -> _Html:
    stated = b.get("record_digest")
    if stated is None or stated == digest:
        return _hex(digest)
    return _Html(
        f'{_hex(digest)}<br><strong class="alert">与电子记录所载摘要不符：电子记录载明 '
        f"{_hex(stated)}，记录在生成后被改动"
        '<span class="en">MISMATCH: the bundle was changed after it was made</span></strong>'
    )


def _task_section(b: Mapping[str, Any], digest: str) -> str:
    task = b.get("task") or {}
    departments = task.get("departments") or task.get("department")
    dates = " 至 ".join(str(d) for d in (task.get("start"), task.get("end")) if d) or None
    pairs = [
        (_label("任务编号", "Task label"), _hex(b.get("task_label"))),
        (_label("任务名称", "Task name"), task.get("name")),
        (_label("所属计划", "Plan"), task.get("plan")),
        (_label("实施部门", "Departments"), departments),
        (_label("抽查事项", "Inspection items"), task.get("items")),
        (_label("检查期间", "Inspection period"), dates),
        (_label("记录摘要", "Record digest (SHA-256)"), _digest_cell(b, digest)),
    ]
    return _section(_label("任务信息", "Task"), _fields(pairs))


def _basis_section(b: Mapping[str, Any], n_candidates: int) -> str:
    pairs = [
        (
            _label("抽取规范", "Specification"),
            f"{b.get('spec', '—')} ({b.get('ticket_scheme', 'ssj-draw-1')})",
        ),
        (_label("实施细则哈希", "Policy hash"), _hex(b.get("policy_hash"))),
        (_label("候选名录摘要", "Pool digest"), _hex(b.get("pool_digest"))),
        (_label("候选对象数", "Candidates"), f"{n_candidates:,}"),
        (_label("排除对象", "Excluded before the draw"), _exclusions_text(b.get("exclusions"))),
        (_label("随机种子", "Seed (revealed)"), _hex(b.get("seed"))),
        (_label("程序版本", "Library version"), b.get("library_version")),
    ]
    return _section(_label("抽取依据", "Basis of the draw"), _fields(pairs))


def _team_law_section(b: Mapping[str, Any]) -> str:
    """How the teams were drawn, and what the pair statement frozen before the team seed says
    (SSJ-PAIRS-1: the largest pair probability or bound, the cap, the pairs above it)."""
    stream = (b.get("assignment") or {}).get("stream") or {}
    stated = (b.get("team_seed") or {}).get("pairs")
    if not stream and not isinstance(stated, Mapping):
        return ""
    rows = [(_label("分组规则", "Team law"), stream.get("spec", "—"))]
    if isinstance(stated, Mapping):
        top = stated.get("max") or {}
        who = " · ".join(str(x) for x in (top.get("entity"), top.get("inspector")) if x)
        method = {"exact": "精确计算 exact", "monte_carlo": "重放估计 Monte Carlo"}.get(
            str(stated.get("method")), "上限 bound"
        )
        rows += [
            (_label("配对概率上限", "Pair cap"), stated.get("cap")),
            (_label("计算方法", "Method"), f"{method} (± {stated.get('error')})"),
            (_label("最大配对概率", "Largest pair probability"), f"{top.get('p')} ({who})"),
            (_label("超过上限的配对", "Pairs above the cap"), stated.get("above_count")),
        ]
    title = _label("检查组抽取规则与配对概率", "Team law and pair probabilities")
    return _section(title, _fields(rows))


def _exclusions_text(exclusions: Any) -> Any:
    if not exclusions:
        return _label("无", "none")
    if isinstance(exclusions, Mapping):
        exclusions = [{"reason": k, "count": v} for k, v in exclusions.items()]
    return "；".join(
        f"{exclusion_label(str(e.get('reason')))} {e.get('count')} 户"
        for e in exclusions
        if isinstance(e, Mapping)
    )


def _provenance_section(record: Any) -> str:
    if not isinstance(record, Mapping) or not record:
        return ""
    title = _label("种子来源", "Seed provenance (commitment and reveal)")
    kind = record.get("kind")
    common = [
        (_label("规范", "Specification"), record.get("spec")),
        (_label("名录冻结时间", "Pool frozen at"), _time(record.get("frozen_at"))),
    ]
    if kind == "ceremony":
        reveals = {r.get("party"): r for r in record.get("reveals", [])}
        rows = [
            [
                c.get("party"),
                _hex(c.get("commitment"), 24),
                _time(c.get("at"), compact=True),
                _hex(reveals.get(c.get("party"), {}).get("contribution"), 24),
                _time(reveals.get(c.get("party"), {}).get("at"), compact=True),
            ]
            for c in record.get("commitments", [])
        ]
        headers = [
            _label("参与方", "Party"),
            _label("承诺值", "Commitment"),
            _label("承诺时间（北京时间）", "Committed at (UTC+8)"),
            _label("公开值", "Revealed contribution"),
            _label("公开时间（北京时间）", "Revealed at (UTC+8)"),
        ]
        body = _fields(common) + _table(headers, rows, "provenance")
    elif kind == "public":
        rows = [
            [s.get("label"), s.get("reference"), s.get("expected")]
            for s in record.get("sources", [])
        ]
        headers = [
            _label("公开来源", "Public source"),
            _label("出处", "Reference"),
            _label("预定日期", "Expected"),
        ]
        extra = [
            (_label("预告时间", "Announced at"), _time(record.get("announced_at"))),
            (_label("预告摘要", "Announcement digest"), _hex(record.get("announcement_digest"))),
            (_label("公布数值", "Published values"), record.get("values")),
            (_label("公开时间", "Revealed at"), _time(record.get("revealed_at"))),
        ]
        body = _fields(common) + _table(headers, rows, "provenance") + _fields(extra)
    else:
        pairs = [
            (_Html(html.escape(str(k))), _time(v) if str(k).endswith("_at") else v)
            for k, v in record.items()
        ]
        body = _fields(pairs)
    return _section(title, body)


def _strata_rows(b: Mapping[str, Any]) -> list[list[Any]]:
    strata = b.get("strata")
    items: list[Mapping[str, Any]]
    if isinstance(strata, Mapping):
        items = [{"stratum": k, **(v if isinstance(v, Mapping) else {})} for k, v in strata.items()]
    elif isinstance(strata, list):
        items = [s for s in strata if isinstance(s, Mapping)]
    else:
        items = []
    if not items:  # derive sizes from the candidates and picks
        counts: dict[str, list[int]] = {}
        for c in b.get("candidates", []):
            counts.setdefault(str(c.get("stratum")), [0, 0, 0])[0] += 1
        for key, column in (("selected", 1), ("alternates", 2)):
            for p in b.get(key, []):
                counts.setdefault(str(p.get("stratum")), [0, 0, 0])[column] += 1
        items = [
            {"stratum": s, "size": v[0], "sample": v[1], "alternates": v[2]}
            for s, v in sorted(counts.items())
        ]
    rows = []
    for s in items:
        rule = s.get("rule")
        if not isinstance(rule, Mapping):
            rule = s
        rows.append(
            [
                stratum_label(str(s.get("stratum", s.get("label"))), _regions(b)),
                s.get("size"),
                s.get("sample"),
                s.get("alternates"),
                _rule_text(rule),
            ]
        )
    return rows


def _rule_text(rule: Mapping[str, Any]) -> str:
    parts = []
    if rule.get("count") is not None:
        parts.append(f"定额 {rule['count']} 户")
    if rule.get("ratio") is not None:
        parts.append(f"比例 {rule['ratio']}")
    if rule.get("minimum"):
        parts.append(f"至少 {rule['minimum']} 户")
    if rule.get("maximum") is not None:
        parts.append(f"至多 {rule['maximum']} 户")
    return "；".join(parts) or "—"


def _strata_section(b: Mapping[str, Any]) -> str:
    headers = [
        _label("分层", "Stratum"),
        _label("候选数 N", "Candidates"),
        _label("抽取数 n", "Selected"),
        _label("备选数 m", "Alternates"),
        _label("规则", "Size rule"),
    ]
    return _section(_label("分层情况", "Strata"), _table(headers, _strata_rows(b), "strata"))


def _team_text(team: Any, names: Mapping[str, str]) -> Any:
    members = team.get("inspectors", []) if isinstance(team, Mapping) else []
    shown = []
    for m in members:
        ident = m.get("id") if isinstance(m, Mapping) else m
        name = (m.get("name") if isinstance(m, Mapping) else None) or names.get(str(ident))
        shown.append(f"{name}（{ident}）" if name else str(ident))
    return shown


def _selected_section(b: Mapping[str, Any], names: Mapping[str, str]) -> str:
    teams = {str(t.get("entity")): t for t in b.get("teams", []) if isinstance(t, Mapping)}
    replaced = {str(r.get("replaced")): str(r.get("by")) for r in b.get("replacements", [])}
    alternates = {str(p.get("id")): p for p in b.get("alternates", [])}
    rank: dict[str, int] = {}
    rows = []

    def row(number: Any, pick: Mapping[str, Any], place: Any, note: str) -> list[Any]:
        ident = str(pick.get("id"))
        return [
            number,
            ident,
            names.get(ident),
            stratum_label(str(pick.get("stratum")), _regions(b)),
            place,
            _hex(pick.get("ticket"), _TICKET_DIGITS),
            _team_text(teams.get(ident), names),
            note,
        ]

    for i, pick in enumerate(b.get("selected", []), start=1):
        ident, stratum = str(pick.get("id")), str(pick.get("stratum"))
        rank[stratum] = rank.get(stratum, 0) + 1
        note = f"已由 {replaced[ident]} 替补" if ident in replaced else ""
        rows.append(row(i, pick, rank[stratum], note))
    for old, new in replaced.items():
        pick = alternates.get(new, {"id": new})
        rows.append(row("替补", pick, "—", f"替补 {old}"))
    headers = [
        _label("序号", "No."),
        _label("对象标识", "Entity ID"),
        _label("名称", "Name"),
        _label("分层", "Stratum"),
        _label("层内名次", "Rank"),
        _label("签号前12位", "Ticket (first 12 hex)"),
        _label("检查组", "Inspection team"),
        _label("备注", "Note"),
    ]
    if not replaced:
        headers.pop()
        rows = [r[:-1] for r in rows]
    return _section(
        _label("抽中对象及检查组", "Selected entities and their teams"),
        _table(headers, rows, "selected"),
    )


def _alternates_section(b: Mapping[str, Any], names: Mapping[str, str]) -> str:
    used = {str(r.get("by")) for r in b.get("replacements", [])}
    rank: dict[str, int] = {}
    rows = []
    for p in b.get("alternates", []):
        ident, stratum = str(p.get("id")), str(p.get("stratum"))
        rank[stratum] = rank.get(stratum, 0) + 1
        rows.append(
            [
                stratum_label(stratum, _regions(b)),
                rank[stratum],
                ident,
                names.get(ident),
                _hex(p.get("ticket"), _TICKET_DIGITS),
                "已递补" if ident in used else "",
            ]
        )
    headers = [
        _label("分层", "Stratum"),
        _label("备选顺序", "Order"),
        _label("对象标识", "Entity ID"),
        _label("名称", "Name"),
        _label("签号前12位", "Ticket (first 12 hex)"),
        _label("状态", "Status"),
    ]
    return _section(
        _label("备选对象", "Alternates (in order)"), _table(headers, rows, "alternates")
    )


def _regions(b: Mapping[str, Any]) -> Mapping[str, str]:
    regions = b.get("regions")
    return {str(k): str(v) for k, v in regions.items()} if isinstance(regions, Mapping) else {}


def _replacement_note(r: Mapping[str, Any]) -> str:
    """The note, and the alternates passed over because another task had selected them."""
    skipped = [s for s in r.get("skipped") or [] if isinstance(s, Mapping)]
    passed = "；".join(f"跳过 {s.get('id')}（已被任务 {s.get('task')} 抽中）" for s in skipped)
    return "；".join(x for x in (str(r.get("note") or ""), passed) if x)


def _replacements_section(b: Mapping[str, Any]) -> str:
    rows = [
        [
            stratum_label(str(r.get("stratum")), _regions(b)),
            r.get("replaced"),
            r.get("by"),
            replacement_label(str(r.get("reason"))),
            _replacement_note(r),
        ]
        for r in b.get("replacements", [])
    ]
    headers = [
        _label("分层", "Stratum"),
        _label("被替换对象", "Replaced"),
        _label("替补对象", "Replaced by"),
        _label("原因", "Reason"),
        _label("说明", "Note"),
    ]
    return _section(_label("替补记录", "Replacements"), _table(headers, rows, "replacements"))


def _payload_text(payload: Any) -> str:
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return str(payload)[:120]
    return payload_summary(payload) if isinstance(payload, Mapping) else ""


def _kind_text(kind: Any) -> Any:
    description = EVENT_KINDS.get(str(kind))
    if not description:
        return str(kind)
    zh, _, en = description.partition(" ")
    return _label(zh, en)


def _timeline_section(b: Mapping[str, Any]) -> str:
    events = [e for e in b.get("events", []) if isinstance(e, Mapping)]
    rows = [
        [
            e.get("seq"),
            _time(e.get("time"), compact=True),
            e.get("actor"),
            _kind_text(e.get("kind")),
            _payload_text(e.get("payload")),
            _hex(e.get("hash"), 12),
        ]
        for e in events
    ]
    headers = [
        _label("序号", "Seq"),
        _label("时间（北京时间）", "Time (UTC+8)"),
        _label("操作人", "Actor"),
        _label("事项", "Event"),
        _label("内容摘要", "Payload (summary)"),
        _label("事件哈希", "Hash"),
    ]
    body = str(_table(headers, rows, "timeline", _label("未附过程记录", "no events attached")))
    head = b.get("audit_head")
    if isinstance(head, Mapping):
        body += _fields(
            [
                (
                    _label("日志锚点", "Audit log head when printed"),
                    _Html(f"seq {_e(head.get('seq'))} · {_hex(head.get('hash'))}"),
                )
            ]
        )
    return _section(_label("过程记录", "Time line (audit events)"), body)


def _verify_section(b: Mapping[str, Any]) -> str:
    label = _e(b.get("task_label"))
    text = (
        "<p>任何人可凭电子记录独立复核本次抽取："
        '<code>key = SHA-256("SSJ-DRAW-1" ‖ 0x00 ‖ task_label ‖ 0x00 ‖ seed)</code>，'
        "<code>ticket(id) = SHA-256(key ‖ id)</code>；各层内签号最小者中选。运行 "
        f"<code>shuangsuiji verify draw-{label}.json</code>，仅当电子记录与本次抽取一致时返回 0；"
        "上方的记录摘要标识该电子记录文件。"
        '<span class="en">Anyone can re-derive this draw from the electronic bundle; in each '
        "stratum the smallest tickets are selected.</span></p>"
    )
    return _section(_label("复核方法", "How to verify"), text)


def _signatures_section(footer: str) -> str:
    roles = [("抽取人", "Drawn by"), ("监督人", "Supervised by"), ("记录人", "Recorded by")]
    cells = "".join(
        f'<div class="sign"><div class="role">{_label(zh, en)}</div>'
        f'<div class="line">{_label("签名", "Signature")}</div>'
        '<div class="line">日期：&emsp;&emsp;年&emsp;&emsp;月&emsp;&emsp;日</div></div>'
        for zh, en in roles
    )
    body = f'<div class="signatures">{cells}</div><footer>{footer}</footer>'
    return _section(_label("签字确认", "Signatures"), body, "keep")


_CSS = print_css(
    margin="16mm 14mm 18mm 14mm",
    padding="16mm 14mm",
    rules="""
header { text-align: center; border-bottom: 2px solid #111; padding-bottom: 4mm;
  margin-bottom: 4mm; }
header h1 { font-size: 20pt; letter-spacing: 0.3em; margin: 0; }
header .sub { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
  "Microsoft YaHei", sans-serif; }
header .en { display: block; font-size: 10pt; letter-spacing: 0; font-weight: normal; color: #444; }
h2 { font-size: 12pt; margin: 5mm 0 2mm; padding: 1mm 2mm; background: #f0f0f0;
  border-left: 3px solid #8b0000; page-break-after: avoid; break-after: avoid; }
.en { font-size: 0.75em; color: #555; font-weight: normal; margin-left: 0.6em;
  font-family: "Noto Sans", "Helvetica Neue", Arial, sans-serif; }
th .en, td .en { display: block; margin-left: 0; }
thead th { background: #f6f6f6; font-size: 9pt; }
tr { page-break-inside: avoid; break-inside: avoid; }
table.fields th { width: 32%; background: #fafafa; font-weight: normal; }
td.empty { text-align: center; color: #666; }
code.hex { font-family: "Noto Sans Mono", "DejaVu Sans Mono", Consolas, monospace; font-size: 8pt;
  word-break: break-all; }
code.short, .nowrap { white-space: nowrap; word-break: normal; }
table.timeline td:nth-child(3) { min-width: 5.5em; }
table.selected td:nth-child(3), table.alternates td:nth-child(4) { min-width: 9em; }
table.selected td:nth-child(7) { min-width: 10em; }
small, .tz { font-size: 7.5pt; color: #555; }
.alert { color: #b00000; }
table.selected td, table.alternates td, table.timeline td { font-size: 8.5pt; }
section.keep { page-break-inside: avoid; break-inside: avoid; }
.signatures { display: flex; gap: 6mm; margin-top: 4mm; }
.sign { flex: 1; border: 0.6pt solid #888; padding: 3mm; min-height: 38mm; }
.sign .role { font-weight: bold; margin-bottom: 10mm; }
.sign .line { border-top: 0.6pt solid #111; margin-top: 9mm; padding-top: 1mm; font-size: 8pt;
  color: #333; }
""",
)


def _digest(bundle: Mapping[str, Any]) -> str:
    try:
        return record_digest(bundle)
    except CanonicalJsonError as exc:
        raise ReportInputError(
            f"the draw bundle is not JSON data ({exc}); pass the bundle as read from its JSON file"
        ) from None


def render_draw_record(
    bundle: Mapping[str, Any],
    *,
    extras: Mapping[str, Any] | None = None,
    printed_at: str | None = None,
    agency: str = "",
    bilingual: bool = False,
) -> str:
    """The printable HTML draw record (抽取记录) of one task's draw bundle.

    ``extras`` supplies the optional keys (``task``, ``seed_provenance``, ``events``,
    ``audit_head``, ``replacements``, ``names``, ``regions``) when they are not in the bundle
    itself; the record digest is computed over ``bundle`` alone. ``printed_at`` (an ISO-8601
    time the caller passes; nothing here reads a clock) and ``agency`` (the issuing
    authority's name) appear in the header and under the signatures; ``bilingual`` adds
    English subtitles to the Chinese labels. Raises :class:`ReportInputError` if the bundle
    is not JSON data.
    """
    if not isinstance(bundle, Mapping):
        raise ReportInputError(f"the draw bundle must be a mapping, got {type(bundle).__name__}")
    digest = _digest(bundle)
    b: dict[str, Any] = {**bundle, **{k: v for k, v in (extras or {}).items() if k in _EXTRA_KEYS}}
    unknown = sorted(set(extras or {}) - set(_EXTRA_KEYS))
    if unknown:
        raise ReportInputError(f"unknown extras {unknown}; the record reads {list(_EXTRA_KEYS)}")
    names = {str(k): str(v) for k, v in (b.get("names") or {}).items()}
    task_name = (b.get("task") or {}).get("name") or ""
    title = f"抽取记录 · {b.get('task_label', '')}"
    summary = (
        f"候选 {len(b.get('candidates', [])):,} · 抽中 {len(b.get('selected', []))} · "
        f"备选 {len(b.get('alternates', []))} · 检查组 {len(b.get('teams', []))}"
    )
    footer = (
        f"打印时间：{_time(printed_at, compact=True) if printed_at else '—'} 北京时间 · "
        f"shuangsuiji {_e(b.get('library_version'))} · 记录摘要 {_hex(digest, 16)}"
    )
    parts = [
        _task_section(b, digest),
        _basis_section(b, len(b.get("candidates", []))),
        _provenance_section(b.get("seed_provenance")),
        _strata_section(b),
        _team_law_section(b),
        _selected_section(b, names),
        _alternates_section(b, names),
        _replacements_section(b) if b.get("replacements") else "",
        _timeline_section(b),
        _verify_section(b),
        _signatures_section(footer),
    ]
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{_e(title)}</title><style>{_CSS}</style></head><body><div class="page">'
        f'<header><div class="sub">{_e(agency) if agency else ""}</div>'
        f'<h1>双随机抽查抽取记录<span class="en">Random inspection draw record</span></h1>'
        f'<div class="sub">{_e(task_name) if task_name else ""} {_hex(b.get("task_label"))}</div>'
        f'<div class="sub"><small>{_e(summary)}</small></div></header>'
        + "".join(parts)
        + "</div></body></html>\n"
    )
    return page if bilingual else _EN_SPAN.sub("", page)
