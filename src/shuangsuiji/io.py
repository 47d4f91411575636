"""CSV import and export of the pools and declared conflicts.

Imports are all-or-nothing: every row is checked first and *every* bad row is reported with
its line number, column and reason in one :class:`ImportValidationError`; nothing is kept
unless the whole file is good. Files are UTF-8 (a BOM is fine); a GBK/GB18030 file gets an
error that says so and how to convert it.

Entity columns: ``id,name,entity_type,industry,region,registered,tier,status,tags``
(``status`` defaults to 存续, ``tags`` is ``|``-separated). Inspector columns:
``id,name,department,region,home_region,certificate_no,certificate_expiry,qualifications,active``.
Conflict columns: ``inspector_id,entity_id,relation,source``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from shuangsuiji._tabular import (
    Columns,
    CsvFormatError,
    ImportValidationError,
    RowError,
    Source,
    canonical_ids,
    check_unique_values,
    duplicates,
    parse_dates,
    read_columns,
    required,
)
from shuangsuiji.ids import LOCAL_ID, IdScheme, scheme_by_name
from shuangsuiji.model import CODE_RE, STATUSES, TIERS, Conflict, InspectionItem
from shuangsuiji.pools import EntityPool, InspectorPool

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CONFLICT_COLUMNS",
    "ENTITY_COLUMNS",
    "INSPECTOR_COLUMNS",
    "REGION_COLUMNS",
    "Columns",
    "CsvFormatError",
    "ImportValidationError",
    "RowError",
    "entities_from_columns",
    "entities_from_dataframe",
    "read_columns",
    "read_conflicts_csv",
    "read_entities_csv",
    "read_inspectors_csv",
    "read_items_csv",
    "read_regions_csv",
    "write_conflicts_csv",
    "write_entities_csv",
    "write_inspectors_csv",
]

ENTITY_COLUMNS = (
    "id",
    "name",
    "entity_type",
    "industry",
    "region",
    "registered",
    "tier",
    "status",
    "tags",
)
ENTITY_OPTIONAL = {"status", "tags"}
INSPECTOR_COLUMNS = (
    "id",
    "name",
    "department",
    "region",
    "home_region",
    "certificate_no",
    "certificate_expiry",
    "qualifications",
    "active",
)
INSPECTOR_OPTIONAL = {"home_region", "qualifications", "active"}
CONFLICT_COLUMNS = ("inspector_id", "entity_id", "relation", "source")
REGION_COLUMNS = ("code", "name")
_INDUSTRY = re.compile(r"^[A-T][0-9]{0,4}$")
_REGION = re.compile(r"^[0-9]{2,12}$")
_TRUE = {"1", "true", "yes", "y", "是", "t"}
_FALSE = {"0", "false", "no", "n", "否", "f"}

Progress = Callable[[int, int], None]


def _region_problem(value: str) -> str | None:
    return None if _REGION.match(value) else "not a division code (6 or 9 digits)"


def _split_labels(values: list[str]) -> list[frozenset[str]]:
    """Split ``|``/``;``-separated label lists, once per distinct text."""
    cache: dict[str, frozenset[str]] = {}
    out = []
    for value in values:
        labels = cache.get(value)
        if labels is None:
            labels = frozenset(v.strip() for v in re.split(r"[|;]", value) if v.strip())
            cache[value] = labels
        out.append(labels)
    return out


def entities_from_columns(table: Columns, id_scheme: str | IdScheme = "uscc") -> EntityPool:
    """Validate entity columns into an :class:`EntityPool`, all rows or none."""
    scheme = scheme_by_name(id_scheme) if isinstance(id_scheme, str) else id_scheme
    errors = list(table.errors)
    lines, cols, what = table.lines, table.cols, table.name
    if not lines and not errors:
        raise CsvFormatError(f"{what}: no rows; an entity pool needs at least one entity")
    ids = canonical_ids(cols["id"], scheme, lines, errors)
    duplicates(ids, lines, errors)
    required(cols["name"], "name", lines, errors)
    required(cols["entity_type"], "entity_type", lines, errors)
    check_unique_values(
        cols["industry"],
        "industry",
        lines,
        errors,
        lambda v: None if _INDUSTRY.match(v) else "not a GB/T 4754 industry code (e.g. F5191)",
    )
    check_unique_values(cols["region"], "region", lines, errors, _region_problem)
    check_unique_values(
        cols["tier"],
        "tier",
        lines,
        errors,
        lambda v: None if v.upper() in TIERS else "unknown credit-risk tier; use A, B, C or D",
    )
    status = [s or "存续" for s in cols["status"]]
    check_unique_values(
        status,
        "status",
        lines,
        errors,
        lambda v: None if v in STATUSES else f"unknown status; use one of {', '.join(STATUSES)}",
    )
    registered = parse_dates(cols["registered"], "registered", lines, errors)
    if errors:
        raise ImportValidationError(what, errors)
    return EntityPool.from_columns(
        ids=ids,
        names=cols["name"],
        entity_type=cols["entity_type"],
        industry=cols["industry"],
        region=cols["region"],
        registered=registered,
        tier=[t.upper() for t in cols["tier"]],
        status=status,
        tags=_split_labels(cols["tags"]),
        id_scheme=scheme.name,
    )


def entities_from_dataframe(frame: pd.DataFrame, id_scheme: str = "uscc") -> EntityPool:
    """Build an entity pool from a pandas DataFrame with the CSV's columns, validated like a CSV.

    Every bad value is reported at once, with the line it would have in a CSV with a header.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["91350100M000100Y43"], "name": ["某公司"],
    ...     "entity_type": ["有限责任公司"], "industry": ["F5191"], "region": ["350102"],
    ...     "registered": ["2019-03-01"], "tier": ["B"]})
    >>> entities_from_dataframe(frame).ids.tolist()
    [b'91350100M000100Y43']
    """
    missing = [c for c in ENTITY_COLUMNS if c not in ENTITY_OPTIONAL and c not in frame.columns]
    if missing:
        raise CsvFormatError(f"DataFrame: missing column(s) {missing}")
    text = frame.astype(str).replace({"nan": "", "None": "", "NaT": "", "<NA>": ""})
    cols = {
        c: [v.strip() for v in text[c].tolist()] if c in text else [""] * len(text)
        for c in ENTITY_COLUMNS
    }
    lines = list(range(2, len(text) + 2))  # as if written to CSV with a header line
    return entities_from_columns(Columns("DataFrame", lines, cols, []), id_scheme)


def read_entities_csv(
    source: Source, id_scheme: str | IdScheme = "uscc", encoding: str = "utf-8"
) -> EntityPool:
    """Read and validate an entity CSV into an :class:`EntityPool` (all rows or none)."""
    table = read_columns(source, ENTITY_COLUMNS, ENTITY_OPTIONAL, encoding)
    return entities_from_columns(table, id_scheme)


def _bool(value: str) -> bool | None:
    v = value.strip().lower()
    if not v or v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return None


def read_inspectors_csv(
    source: Source,
    encoding: str = "utf-8",
    departments: Iterable[str] | None = None,
) -> InspectorPool:
    """Read and validate an inspector CSV; ``departments`` (if given) are the known codes."""
    table = read_columns(source, INSPECTOR_COLUMNS, INSPECTOR_OPTIONAL, encoding)
    name, lines, cols, errors = table.name, table.lines, table.cols, list(table.errors)
    if not lines and not errors:
        raise CsvFormatError(f"{name}: no rows; an inspector pool needs at least one inspector")
    ids = canonical_ids(cols["id"], LOCAL_ID, lines, errors)
    duplicates(ids, lines, errors)
    required(cols["name"], "name", lines, errors)
    required(cols["certificate_no"], "certificate_no", lines, errors)
    known = set(departments) if departments is not None else None

    def dept(v: str) -> str | None:
        if not CODE_RE.match(v):
            return "not a department code"
        if known is not None and v not in known:
            return f"unknown department; known: {', '.join(sorted(known))}"
        return None

    check_unique_values(cols["department"], "department", lines, errors, dept)
    check_unique_values(cols["region"], "region", lines, errors, _region_problem)
    check_unique_values(
        cols["home_region"],
        "home_region",
        lines,
        errors,
        lambda v: None if not v or _REGION.match(v) else "not a division code (or leave empty)",
    )
    active = [_bool(v) for v in cols["active"]]
    for i in [i for i, a in enumerate(active) if a is None]:
        errors.append(RowError(lines[i], "active", cols["active"][i], "use true/false (是/否)"))
    expiry = parse_dates(cols["certificate_expiry"], "certificate_expiry", lines, errors)
    if errors:
        raise ImportValidationError(name, errors)
    return InspectorPool.from_columns(
        ids=ids,
        names=cols["name"],
        department=cols["department"],
        region=cols["region"],
        home_region=cols["home_region"],
        certificate_no=cols["certificate_no"],
        certificate_expiry=expiry,
        qualifications=_split_labels(cols["qualifications"]),
        active=[bool(a) for a in active],
    )


def read_conflicts_csv(source: Source, encoding: str = "utf-8") -> list[Conflict]:
    """Read declared conflicts (``inspector_id,entity_id,relation,source``), all or nothing."""
    table = read_columns(source, CONFLICT_COLUMNS, (), encoding)
    name, lines, cols, errors = table.name, table.lines, table.cols, list(table.errors)
    for column in CONFLICT_COLUMNS:
        required(cols[column], column, lines, errors)
    seen: dict[tuple[str, str, str], int] = {}
    for i, key in enumerate(
        zip(cols["inspector_id"], cols["entity_id"], cols["relation"], strict=True)
    ):
        if key in seen:
            errors.append(
                RowError(
                    lines[i], "entity_id", key[1], f"same conflict already on line {seen[key]}"
                )
            )
        seen.setdefault(key, lines[i])
    if errors:
        raise ImportValidationError(name, errors)
    return [
        Conflict(i, e, r, s)
        for i, e, r, s in zip(
            cols["inspector_id"], cols["entity_id"], cols["relation"], cols["source"], strict=True
        )
    ]


def read_regions_csv(source: Source, encoding: str = "utf-8") -> dict[str, str]:
    """Read region names (``code,name``: 行政区划代码, 名称), all or nothing.

    >>> import io as stdio
    >>> read_regions_csv(stdio.StringIO("code,name\\n350102,鼓楼区\\n350103,台江区\\n"))
    {'350102': '鼓楼区', '350103': '台江区'}
    """
    table = read_columns(source, REGION_COLUMNS, (), encoding)
    name, lines, cols, errors = table.name, table.lines, table.cols, list(table.errors)
    for column in REGION_COLUMNS:
        required(cols[column], column, lines, errors)
    seen: dict[str, int] = {}
    for line, code in zip(lines, cols["code"], strict=True):
        problem = _region_problem(code) if code else None
        if problem:
            errors.append(RowError(line, "code", code, problem))
        elif code in seen:
            errors.append(RowError(line, "code", code, f"same code already on line {seen[code]}"))
        seen.setdefault(code, line)
    if errors:
        raise ImportValidationError(name, errors)
    return dict(zip(cols["code"], cols["name"], strict=True))


def _writer(path: str | Path, header: Sequence[str]) -> tuple[IO[str], Any]:
    handle = Path(path).open("w", encoding="utf-8", newline="")  # noqa: SIM115 - caller closes
    writer = csv.writer(handle)
    writer.writerow(header)
    return handle, writer


def _decoded(column: np.ndarray[Any, Any]) -> list[str]:
    return [str(x) for x in np.strings.decode(column, "utf-8")] if len(column) else []


def write_entities_csv(pool: EntityPool, path: str | Path) -> None:
    """Write an entity pool as CSV in the import format (UTF-8, no BOM)."""
    handle, writer = _writer(path, ENTITY_COLUMNS)
    with handle:
        tiers = np.asarray(TIERS)[pool.tier].tolist()
        tags = _tag_strings(pool)
        writer.writerows(
            zip(
                _decoded(pool.ids),
                [str(x) for x in pool.names],
                [str(x) for x in pool.entity_type.values()],
                _decoded(pool.industry),
                _decoded(pool.region),
                pool.registered.astype(str).tolist(),
                tiers,
                [str(x) for x in pool.status.values()],
                tags,
                strict=True,
            )
        )


def _tag_strings(pool: EntityPool) -> list[str]:
    # Tag sets repeat a lot: render each distinct bit pattern once.
    uniques, inverse = np.unique(pool.tags.bits, return_inverse=True)
    rendered = [
        "|".join(label for i, label in enumerate(pool.tags.labels) if int(u) >> i & 1)
        for u in uniques.tolist()
    ]
    return [rendered[i] for i in inverse.reshape(-1).tolist()]


def write_inspectors_csv(pool: InspectorPool, path: str | Path) -> None:
    """Write an inspector pool as CSV in the import format."""
    handle, writer = _writer(path, INSPECTOR_COLUMNS)
    with handle:
        for i in range(len(pool)):
            r = pool.inspector(i)
            writer.writerow(
                [
                    r.id,
                    r.name,
                    r.department,
                    r.region,
                    r.home_region,
                    r.certificate_no,
                    r.certificate_expiry.isoformat(),
                    "|".join(sorted(r.qualifications)),
                    "true" if r.active else "false",
                ]
            )


def write_conflicts_csv(conflicts: Iterable[Conflict], path: str | Path) -> None:
    """Write declared conflicts as CSV (``inspector_id,entity_id,relation,source``)."""
    handle, writer = _writer(path, CONFLICT_COLUMNS)
    with handle:
        for c in conflicts:
            writer.writerow([c.inspector_id, c.entity_id, c.relation, c.source])


ITEM_COLUMNS = (
    "code",
    "department",
    "name",
    "legal_basis",
    "target",
    "method",
    "key",
    "default_ratio",
    "frequency_per_year",
    "required_qualifications",
)
ITEM_OPTIONAL = {"method", "key", "default_ratio", "frequency_per_year", "required_qualifications"}


def read_items_csv(source: Source, encoding: str = "utf-8") -> list[InspectionItem]:
    """Read the inspection item list (一单), all rows or none; every bad value is reported."""
    table = read_columns(source, ITEM_COLUMNS, ITEM_OPTIONAL, encoding)
    errors = list(table.errors)
    items: list[InspectionItem] = []
    seen: dict[str, int] = {}
    for row, line in enumerate(table.lines):
        values = {c: table.cols[c][row] for c in ITEM_COLUMNS}
        code = values["code"]
        if code in seen:
            errors.append(RowError(line, "code", code, f"duplicate item code: line {seen[code]}"))
            continue
        seen[code] = line
        key = _bool(values["key"] or "false")
        try:
            ratio = float(values["default_ratio"]) if values["default_ratio"] else None
            frequency = int(values["frequency_per_year"] or 1)
        except ValueError as exc:
            errors.append(RowError(line, "default_ratio/frequency_per_year", "", str(exc)))
            continue
        if key is None:
            errors.append(RowError(line, "key", values["key"], "use true/false (是/否)"))
            continue
        try:
            items.append(
                InspectionItem(
                    code=code,
                    department=values["department"],
                    name=values["name"],
                    legal_basis=values["legal_basis"],
                    target=values["target"],
                    method=values["method"] or "现场检查",
                    key=key,
                    default_ratio=ratio,
                    frequency_per_year=frequency,
                    required_qualifications=_split_labels([values["required_qualifications"]])[0],
                )
            )
        except ValueError as exc:
            errors.append(RowError(line, "*", code, str(exc)))
    if errors:
        raise ImportValidationError(table.name, errors)
    return items
