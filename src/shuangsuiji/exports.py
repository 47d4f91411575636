"""Exports of publication records and announcements: CSV for Excel, JSON, and an HTML page.

- **CSV** (:func:`records_csv`, :func:`plan_csv`): UTF-8 *with* a byte-order mark, so that
  Excel opens Chinese text correctly, Chinese column headers in a fixed order
  (:data:`RECORD_COLUMNS`, :data:`PLAN_COLUMNS`), one row per inspected item. A text cell
  that Excel would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return) gets a leading ``'``, the usual guard against CSV injection.
- **JSON** (:func:`to_json`): the values' ``to_dict()``, UTF-8 with Chinese as itself
  (``ensure_ascii=False``).
- **HTML** (:func:`publication_html`): a static, self-contained results notice (抽查结果公示):
  a header, one section per task with its facts and a table of entities, items, results,
  due dates and status badges, print CSS for A4, no scripts and no external assets; every
  value is HTML-escaped.

Standard library only; nothing here reads a clock (``today`` is passed in).

>>> text = records_csv([], today=date(2025, 1, 2))
>>> text.startswith("\\ufeff计划名称,")
True
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Final

import attrs

from shuangsuiji._html import Html as _Html
from shuangsuiji._html import escape as _e
from shuangsuiji._html import print_css
from shuangsuiji._version import __version__
from shuangsuiji.labels import due_basis_label
from shuangsuiji.publication import (
    PlanAnnouncement,
    PublicationRecord,
    PublicationStatus,
    TaskAnnouncement,
    Uninspected,
    result_announcements,
    statuses,
)

__all__ = [
    "PLAN_COLUMNS",
    "RECORD_COLUMNS",
    "internal_publication_html",
    "plan_csv",
    "publication_html",
    "records_csv",
    "to_json",
    "write_text",
]

RECORD_COLUMNS: Final = (
    "计划名称",
    "任务编号",
    "任务名称",
    "抽查类型",
    "抽查机关",
    "统一社会信用代码",
    "市场主体名称",
    "检查事项编码",
    "检查事项名称",
    "检查结果代码",
    "检查结果",
    "后续处置",
    "检查完成日期",
    "公示截止日期",
    "截止日期依据",
    "公示日期",
    "公示人",
    "公示状态",
)
"""Columns of :func:`records_csv`, in order (one row per inspected item)."""

PLAN_COLUMNS: Final = (
    "序号",
    "任务编号",
    "任务名称",
    "抽查类型",
    "联合抽查",
    "抽查部门",
    "抽查事项",
    "抽查依据",
    "抽查对象范围",
    "抽查比例",
    "开始日期",
    "结束日期",
)
"""Columns of :func:`plan_csv`, the plan table (一表), in order."""

BOM: Final = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return BOM + buffer.getvalue()


def _due_basis(record: PublicationRecord) -> str:
    return due_basis_label(record.due_basis, estimated=record.due_estimated)


def records_csv(records: Sequence[PublicationRecord], *, today: date) -> str:
    """The records as CSV text (starting with the BOM), one row per item, status on ``today``.

    Category codes and labels of one item are joined with ``|`` and ``；``.
    """
    status = statuses(records, today)
    rows = []
    for record, state in zip(records, status, strict=True):
        head = (
            record.plan_name,
            record.task,
            record.task_name,
            record.inspection_type,
            record.authority,
            record.entity,
            record.entity_name,
        )
        for item in record.items:
            rows.append(
                (
                    *head,
                    item.item,
                    item.item_name,
                    "|".join(item.categories),
                    item.result_text,
                    item.follow_up,
                    record.completion_date.isoformat(),
                    record.due.isoformat(),
                    _due_basis(record),
                    record.published.isoformat() if record.published else "",
                    record.published_by,
                    state.label_zh,
                )
            )
    return _csv(RECORD_COLUMNS, rows)


def plan_csv(announcement: PlanAnnouncement) -> str:
    """The plan table (一表) as CSV text starting with the BOM, one row per task."""
    rows = []
    for number, task in enumerate(announcement.tasks, start=1):
        rows.append(
            (
                number,
                task.code,
                task.name,
                task.inspection_type,
                "是" if task.joint else "否",
                "、".join(d.name for d in task.departments),
                "、".join(i.name for i in task.items),
                "；".join(dict.fromkeys(i.legal_basis for i in task.items)),
                task.population,
                "按信用风险分类确定" if task.ratio is None else f"{task.ratio:.0%}",
                task.start.isoformat(),
                task.end.isoformat(),
            )
        )
    return _csv(PLAN_COLUMNS, rows)


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_json(value: Any) -> str:
    """JSON text of a value with ``to_dict()`` (or a list or mapping of them), Chinese as is.

    >>> from shuangsuiji.model import PopulationFilter
    >>> from shuangsuiji.publication import describe_population
    >>> to_json({"population": describe_population(PopulationFilter())})
    '{\\n  "population": "不定向：检查对象名录库内全部检查对象"\\n}\\n'
    """
    return json.dumps(_plain(value), ensure_ascii=False, indent=2) + "\n"


def write_text(text: str, path: str | Path) -> Path:
    """Write an export (CSV, JSON or HTML text) to ``path`` as UTF-8, byte for byte.

    Line ends are kept as they are (CSV rows end in CRLF), and a CSV's BOM is written as the
    three bytes ``EF BB BF``.
    """
    target = Path(path)
    target.write_bytes(text.encode("utf-8"))
    return target


# -- the HTML notice ------------------------------------------------------------------------------


@attrs.frozen
class _Page:
    """How one page is written: internal (statuses, due dates) or public, with English or not."""

    internal: bool = False
    bilingual: bool = False

    def label(self, zh: str, en: str) -> _Html:
        if not self.bilingual:
            return _Html(html.escape(zh))
        return _Html(f'{html.escape(zh)}<span class="en">{html.escape(en)}</span>')


def _badge(status: PublicationStatus) -> _Html:
    return _Html(f'<span class="badge st-{status.value}">{_e(status.label_zh)}</span>')


def _date(value: date | None) -> _Html:
    return _Html(f'<span class="nowrap">{_e(value.isoformat() if value else None)}</span>')


def _due(record: PublicationRecord) -> _Html:
    if not record.due_estimated:
        return _date(record.due)
    basis = due_basis_label(record.due_basis, estimated=True)
    return _Html(f'{_date(record.due)}<span class="est" title="{_e(basis)}">预计</span>')


def _fields(pairs: Sequence[tuple[_Html, Any]]) -> str:
    """A facts table with two label-value pairs per row (the last value may span the row)."""
    rows = []
    for k in range(0, len(pairs), 2):
        (key, value), rest = pairs[k], pairs[k + 1 : k + 2]
        if rest:
            rows.append(
                f"<tr><th>{key}</th><td>{_e(value)}</td>"
                f"<th>{rest[0][0]}</th><td>{_e(rest[0][1])}</td></tr>"
            )
        else:
            rows.append(f'<tr><th>{key}</th><td colspan="3">{_e(value)}</td></tr>')
    return f'<table class="fields"><tbody>{"".join(rows)}</tbody></table>'


def _entity_rows(
    number: int, record: PublicationRecord, status: PublicationStatus, page: _Page
) -> str:
    span = len(record.items)
    rowspan = f' rowspan="{span}"' if span > 1 else ""
    note = ""
    if record.missing_items and page.internal:
        note = f'<div class="note">尚有 {len(record.missing_items)} 个检查事项未录入结果</div>'
    entity = (
        f'<td{rowspan} class="num">{number}</td>'
        f'<td{rowspan} class="entity"><div class="name">{_e(record.entity_name)}</div>'
        f'<code class="id">{_e(record.entity)}</code>{note}</td>'
    )
    tail = f"<td{rowspan}>{_date(record.completion_date)}</td>"
    if page.internal:
        tail += f"<td{rowspan}>{_due(record)}</td>"
    tail += f"<td{rowspan}>{_date(record.published)}</td>"
    if page.internal:
        tail += f'<td{rowspan} class="status">{_badge(status)}</td>'
    rows = []
    for k, item in enumerate(record.items):
        cells = (
            f'<td>{_e(item.item_name)}<div class="code">{_e(item.item)}</div></td>'
            f"<td>{_e(item.result_text)}</td>"
            f"<td>{_e(item.follow_up)}</td>"
        )
        rows.append(
            "<tr>" + (entity if k == 0 else "") + cells + (tail if k == 0 else "") + "</tr>"
        )
    return f'<tbody class="entity">{"".join(rows)}</tbody>'


def _colgroup(widths: Sequence[str]) -> str:
    return "<colgroup>" + "".join(f'<col style="width: {w}">' for w in widths) + "</colgroup>"


_HEADERS: Final = (
    ("序号", "No.", "4%", "4%"),
    ("市场主体", "Entity", "19%", "22%"),
    ("检查事项", "Item", "13%", "16%"),
    ("检查结果", "Result", "12.5%", "17%"),
    ("后续处置", "Follow-up", "9.5%", "15%"),
    ("完成日期", "Completed", "10.5%", "13%"),
    ("公示截止", "Due", "10.5%", ""),
    ("公示日期", "Published", "10.5%", "13%"),
    ("状态", "Status", "10.5%", ""),
)
"""The columns of a task's table: label, English label, width internal, width public ("" =
not on the public page)."""


def _task_section(
    records: Sequence[PublicationRecord],
    status: Sequence[PublicationStatus],
    announcement: TaskAnnouncement | None,
    page: _Page,
) -> str:
    head = records[0]
    items = dict.fromkeys(i.item_name for r in records for i in r.items)
    kind = head.inspection_type + ("、联合抽查" if head.joint else "")
    pairs: list[tuple[_Html, Any]] = [
        (page.label("所属计划", "Plan"), head.plan_name),
        (page.label("公示时限", "Deadline"), head.deadline_rule),
        (page.label("抽查类型", "Type"), kind),
        (page.label("抽查机关", "Authority"), head.authority),
    ]
    if announcement is not None:
        pairs += [
            (page.label("抽取日期", "Drawn on"), announcement.draw_date.isoformat()),
            (
                page.label("抽取情况", "Draw"),
                f"候选 {announcement.candidates:,} 户，抽中 {announcement.selected:,} 户"
                + (f"（排除 {announcement.excluded:,} 户）" if announcement.excluded else ""),
            ),
        ]
    pairs.append((page.label("抽查事项", "Items"), "、".join(items)))
    if announcement is not None:
        pairs.append(
            (
                page.label("抽取记录摘要", "Draw record digest"),
                _Html(f'<code class="hex">{_e(announcement.record_digest)}</code>'),
            )
        )
    columns = [c for c in _HEADERS if page.internal or c[3]]
    widths = [c[2] if page.internal else c[3] for c in columns]
    header = "".join(f"<th>{page.label(zh, en)}</th>" for zh, en, *_ in columns)
    body = "".join(
        _entity_rows(n, r, s, page) for n, (r, s) in enumerate(zip(records, status, strict=True), 1)
    )
    return (
        f'<section class="task"><h2>{_e(head.task_name)}'
        f'<code class="task-code">{_e(head.task)}</code></h2>{_fields(pairs)}'
        f'<table class="results">{_colgroup(widths)}<thead><tr>{header}</tr></thead>{body}'
        "</table></section>"
    )


def _summary(status: Sequence[PublicationStatus], today: date, page: _Page) -> str:
    if not page.internal:
        return (
            f'<div class="summary"><span>共 {len(status)} 户 · 公示截至 '
            f"{_e(today.isoformat())}</span></div>"
        )
    counts = {s: 0 for s in PublicationStatus}
    for s in status:
        counts[s] += 1
    order = (
        PublicationStatus.PUBLISHED,
        PublicationStatus.PUBLISHED_LATE,
        PublicationStatus.DUE_SOON,
        PublicationStatus.OVERDUE,
        PublicationStatus.PENDING,
    )
    chips = "".join(f'<span class="chip">{_badge(s)} {counts[s]}</span>' for s in order)
    return (
        f'<div class="summary"><span>共 {len(status)} 户 · 状态截至 {_e(today.isoformat())}'
        f"</span>{chips}</div>"
    )


def _notes(records: Sequence[PublicationRecord], generated: str, page: _Page) -> str:
    notes = ["抽查结果通过国家企业信用信息公示系统和部门网站向社会公示。"]
    if page.internal:
        notes += [
            "本页为内部工作页面，列出尚未公示的记录及其状态，不得对外公开。",
            "公示截止日期按国务院办公厅节假日安排（含调休上班日）计算工作日。",
            "状态：已公示（截止日前公示）、逾期公示（截止日后公示）、即将到期（截止日在若干个"
            "工作日内）、逾期未公示、待公示。",
        ]
    if page.internal and any(r.due_estimated for r in records):
        notes.append(
            "标注“预计”的截止日期超出已公布的节假日安排，暂按周一至周五推算，"
            "待次年节假日安排公布后重新计算。"
        )
    items = "".join(f"<li>{_e(n)}</li>" for n in notes)
    return f"<footer><ol>{items}</ol><p>{_e(generated)}</p></footer>"


def _uninspected_section(rows: Sequence[Uninspected], today: date, page: _Page) -> str:
    if not rows:
        return ""
    header = "".join(
        f"<th>{page.label(zh, en)}</th>"
        for zh, en in (
            ("序号", "No."),
            ("抽查任务", "Task"),
            ("市场主体", "Entity"),
            ("任务结束日期", "Task ends"),
            ("状态", "Status"),
        )
    )
    body = "".join(
        f'<tr><td class="num">{n}</td><td>{_e(u.task_name)}<div class="code">{_e(u.task)}'
        f'</div></td><td class="entity"><div class="name">{_e(u.entity_name)}</div>'
        f'<code class="id">{_e(u.entity)}</code></td><td>{_date(u.task_end)}</td>'
        f"<td>{'任务已结束，未检查' if u.task_end < today else '尚未检查'}</td></tr>"
        for n, u in enumerate(rows, 1)
    )
    return (
        f'<section class="task"><h2>已抽中、尚无检查结果的市场主体'
        f'<code class="task-code">{len(rows)} 户</code></h2>'
        f'<table class="results"><thead><tr>{header}</tr></thead><tbody>{body}</tbody>'
        "</table></section>"
    )


def _html_page(title: str, subtitle: str, issuer: str, body: str, page: _Page) -> str:
    english = f'<span class="en">{_e(subtitle)}</span>' if page.bilingual and subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        '<div class="page"><header>'
        f'<div class="issuer">{_e(issuer) if issuer else ""}</div>'
        f"<h1>{_e(title)}{english}</h1>{body}</div></body></html>\n"
    )


def _records_body(
    records: Sequence[PublicationRecord],
    today: date,
    task_announcements: Iterable[TaskAnnouncement],
    page: _Page,
    counted: Sequence[PublicationRecord] | None = None,
) -> tuple[str, list[PublicationRecord]]:
    """The sections of ``records``, under a summary of ``counted`` (default: the same)."""
    announcements = result_announcements(records)
    draws = {a.task.code: a for a in task_announcements}
    ordered = [r for a in announcements for r in a.records]
    status = statuses(ordered, today)
    sections = []
    start = 0
    for a in announcements:
        end = start + len(a.records)
        sections.append(_task_section(a.records, status[start:end], draws.get(a.task), page))
        start = end
    plans = "、".join(dict.fromkeys(r.plan_name for r in ordered))
    sub = f'<div class="sub">{_e(plans) if plans else ""}</div></header>'
    summary = _summary(status if counted is None else statuses(counted, today), today, page)
    return sub + summary + "".join(sections), ordered


def publication_html(
    records: Iterable[PublicationRecord],
    *,
    today: date,
    issuer: str = "",
    title: str = "抽查结果公示",
    task_announcements: Iterable[TaskAnnouncement] = (),
    bilingual: bool = False,
) -> str:
    """The public results notice (抽查结果公示): only the records published on or before
    ``today``, with their results and publication dates — nothing unpublished, no due dates,
    statuses or overdue counts (those are on :func:`internal_publication_html`).

    One section per task (tasks and entities in code order) with the task's facts and, when
    its :class:`~shuangsuiji.publication.TaskAnnouncement` is given, the draw's date, counts
    and record digest. ``issuer`` (the publishing authority) heads the page; ``bilingual``
    adds English subtitles to the labels.

    >>> page = publication_html([], today=date(2025, 1, 2), issuer="<b>局</b>")
    >>> "&lt;b&gt;局&lt;/b&gt;" in page and "<b>" not in page
    True
    """
    page = _Page(internal=False, bilingual=bilingual)
    public = [r for r in records if r.published is not None and r.published <= today]
    body, ordered = _records_body(public, today, task_announcements, page)
    generated = f"shuangsuiji {__version__} 生成 · 数据截至 {today.isoformat()}"
    empty = '<p class="empty">暂无已公示的抽查结果</p>' if not ordered else ""
    return _html_page(
        title,
        "Random inspection results",
        issuer,
        body + empty + _notes(ordered, generated, page),
        page,
    )


def internal_publication_html(
    records: Iterable[PublicationRecord],
    *,
    today: date,
    issuer: str = "",
    uninspected: Sequence[Uninspected] = (),
    title: str = "抽查结果公示工作情况（内部）",
    task_announcements: Iterable[TaskAnnouncement] = (),
    bilingual: bool = False,
) -> str:
    """The internal page (内部, not for publication): every record not yet published on
    ``today`` with its due date and status (逾期未公示, 即将到期, 待公示), the counts by status,
    and the ``uninspected`` entities — selected by a draw but without any result.

    >>> page = internal_publication_html([], today=date(2025, 1, 2))
    >>> "（内部）" in page and "不得对外公开" in page
    True
    """
    page = _Page(internal=True, bilingual=bilingual)
    every = list(records)
    pending = [r for r in every if r.published is None or r.published > today]
    body, ordered = _records_body(pending, today, task_announcements, page, every)
    generated = f"shuangsuiji {__version__} 生成 · 数据截至 {today.isoformat()}"
    empty = '<p class="empty">没有待公示的记录</p>' if not ordered else ""
    return _html_page(
        title,
        "Publication work list (internal)",
        issuer,
        body
        + empty
        + _uninspected_section(uninspected, today, page)
        + _notes(ordered, generated, page),
        page,
    )


_CSS = print_css(
    margin="14mm 12mm 16mm 12mm",
    padding="14mm 12mm",
    rules="""
header { text-align: center; border-bottom: 3px double #a30000; padding-bottom: 4mm;
  margin-bottom: 4mm; }
header .issuer { color: #a30000; font-size: 15pt; letter-spacing: 0.25em; font-weight: bold; }
header h1 { font-size: 21pt; letter-spacing: 0.35em; margin: 2mm 0 1mm; }
header .sub, .summary, .badge, .en, table.results th { font-family: "Noto Sans CJK SC",
  "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
header .en { display: block; font-size: 10pt; letter-spacing: 0; font-weight: normal; }
.en { font-size: 0.75em; color: #555; font-weight: normal; margin-left: 0.5em; }
th .en { display: block; margin-left: 0; }
.summary { display: flex; flex-wrap: wrap; gap: 2mm 4mm; align-items: center; font-size: 9pt;
  margin: 0 0 3mm; color: #333; }
.summary > span:first-child { margin-right: auto; }
h2 { font-size: 12.5pt; margin: 5mm 0 2mm; padding: 1mm 2mm; background: #f0f0f0;
  border-left: 3px solid #8b0000; page-break-after: avoid; break-after: avoid; }
code { font-family: "Noto Sans Mono", "DejaVu Sans Mono", Consolas, monospace; }
.task-code { font-size: 9pt; font-weight: normal; color: #555; margin-left: 0.8em; }
thead th { background: #f6f6f6; font-size: 8.5pt; font-weight: bold; }
table.fields th { width: 13%; background: #fafafa; font-weight: normal; }
table.fields td { width: 37%; }
table.results { table-layout: fixed; }
table.results th { white-space: nowrap; overflow: hidden; }
table.fields { font-size: 9.5pt; }
table.results td { font-size: 9pt; padding: 1mm 1.2mm; }
table.results td .nowrap { font-size: 8.5pt; }
tbody.entity, tr { page-break-inside: avoid; break-inside: avoid; }
tbody.entity:nth-of-type(even) td { background: #fbfbfb; }
td.num { text-align: right; }
td.entity { overflow-wrap: anywhere; }
td.entity .name { font-weight: bold; }
code.id, .code { font-size: 7.5pt; color: #555; }
code.hex { font-size: 8pt; word-break: break-all; }
.nowrap, td.status { white-space: nowrap; }
.note { font-size: 7.5pt; color: #8a5300; margin-top: 1mm; }
.badge { display: inline-block; padding: 0 1.2mm; border-radius: 3mm; font-size: 7.5pt;
  border: 0.8pt solid; line-height: 1.6; white-space: nowrap;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.st-published { color: #1e6b2f; background: #e6f4e9; }
.st-published_late { color: #7a4a00; background: #fdf0d8; }
.st-due_soon { color: #8a5a00; background: #fff6cc; }
.st-overdue { color: #fff; background: #b3261e; border-color: #b3261e; font-weight: bold; }
.st-pending { color: #34495e; background: #eef2f6; }
.est { font-family: sans-serif; font-size: 7pt; color: #8a5300; border: 0.6pt dashed #8a5300;
  padding: 0 1mm; margin-left: 1mm; white-space: nowrap; }
p.empty { text-align: center; color: #666; margin: 12mm 0; }
footer ol { margin: 0 0 2mm; padding-left: 5mm; }
""",
)
