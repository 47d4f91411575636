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
import io
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import IO, Any

import attrs
import numpy as np

from shuangsuiji.errors import InvalidInputError
from shuangsuiji.ids import LOCAL_ID, USCC, IdScheme, scheme_by_name, uscc_valid_mask, validate_uscc
from shuangsuiji.model import STATUSES, TIERS, Conflict, InspectionItem
from shuangsuiji.pools import STRING, EntityPool, InspectorPool

__all__ = [
    "CONFLICT_COLUMNS",
    "ENTITY_COLUMNS",
    "INSPECTOR_COLUMNS",
    "Columns",
    "CsvFormatError",
    "ImportValidationError",
    "RowError",
    "entities_from_columns",
    "read_columns",
    "read_conflicts_csv",
    "read_entities_csv",
    "read_inspectors_csv",
    "read_items_csv",
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
MIN_DATE = date(1949, 10, 1)
MAX_DATE = date(2100, 12, 31)
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_INDUSTRY = re.compile(r"^[A-T][0-9]{0,4}$")
_REGION = re.compile(r"^[0-9]{2,12}$")
_DEPARTMENT = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._\-]{0,63}$")
_TRUE = {"1", "true", "yes", "y", "是", "t"}
_FALSE = {"0", "false", "no", "n", "否", "f"}

Source = str | Path | IO[str] | IO[bytes]
Progress = Callable[[int, int], None]


@attrs.frozen
class RowError:
    """One bad value: file line (the header is line 1), column, value and reason."""

    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column!r} ({self.value!r}): {self.reason}"


class CsvFormatError(InvalidInputError):
    """The file as a whole cannot be read: wrong encoding, missing columns, empty file."""


class ImportValidationError(InvalidInputError):
    """Some rows are bad; ``errors`` lists every one, by line and column. Nothing was imported."""

    def __init__(self, what: str, errors: Sequence[RowError], shown: int = 20) -> None:
        self.errors = sorted(errors, key=lambda e: (e.line, e.column))
        lines = [str(e) for e in self.errors[:shown]]
        more = len(self.errors) - shown
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"{what}: {len(self.errors)} bad value(s); nothing was imported. Fix these rows and "
            "import again:\n  " + "\n  ".join(lines) + tail
        )


_UTF16_HINT = (
    " The file is UTF-16 (Excel's 'Unicode text' export): re-save it as 'CSV UTF-8' or pass "
    "encoding='utf-16'."
)


def _decode(raw: bytes, encoding: str, name: str) -> str:
    utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff") or raw[:200].count(b"\x00") > 10
    try:
        text = raw.decode(
            "utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding
        )
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        hint = ""
        if utf16:
            hint = _UTF16_HINT
        else:
            try:
                raw.decode("gb18030")
                hint = (
                    " The file looks like GBK/GB18030 (common for Excel exports in China): "
                    "re-save it as 'CSV UTF-8' or pass encoding='gb18030'."
                )
            except UnicodeDecodeError:
                pass
        raise CsvFormatError(
            f"{name}: not {encoding} text: byte {exc.start} (line {line}) cannot be decoded.{hint}"
        ) from exc
    if "\x00" in text[:1000]:
        raise CsvFormatError(
            f"{name}: NUL characters in the text: it is not {encoding}."
            + (_UTF16_HINT if utf16 else "")
        )
    return text


def _text_of(source: Source, encoding: str) -> tuple[str, str]:
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source):
        path = Path(source)
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise CsvFormatError(f"file {path} does not exist") from exc
        return _decode(raw, encoding, str(path)), str(path)
    if isinstance(source, str):
        return source.removeprefix("\ufeff"), "<text>"
    data = source.read()
    if isinstance(data, bytes):
        return _decode(data, encoding, getattr(source, "name", "<stream>")), "<stream>"
    return data.removeprefix("\ufeff"), getattr(source, "name", "<stream>")


@attrs.frozen
class Columns:
    """A CSV read column by column: file lines of the kept rows, the columns, early errors."""

    name: str
    lines: list[int]
    cols: dict[str, list[str]]
    errors: list[RowError]


def read_columns(
    source: Source,
    columns: Sequence[str],
    optional: Iterable[str] = (),
    encoding: str = "utf-8",
) -> Columns:
    """Read a CSV, check its header and return its values column by column, stripped.

    Rows of the wrong width are reported (line numbers count the header as line 1 and follow
    quoted line breaks); blank rows are skipped; absent optional columns read as empty.
    """
    text, name = _text_of(source, encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CsvFormatError(
            f"{name}: the file is empty; the first line must name the columns"
        ) from None
    except csv.Error as exc:
        raise CsvFormatError(f"{name}: {exc}") from exc
    missing = [c for c in columns if c not in header and c not in set(optional)]
    if missing:
        raise CsvFormatError(
            f"{name}: missing column(s) {missing}; the header has {header}. "
            f"Expected columns: {','.join(columns)}"
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise CsvFormatError(f"{name}: column(s) {dupes} appear more than once in the header")
    width = len(header)
    rows: list[list[str]] = []
    lines: list[int] = []
    errors: list[RowError] = []
    try:
        for row in reader:
            if len(row) == width:
                rows.append(row)
                lines.append(reader.line_num)
            elif any(cell.strip() for cell in row):
                errors.append(
                    RowError(reader.line_num, "*", "", f"{len(row)} fields, header has {width}")
                )
    except csv.Error as exc:
        raise CsvFormatError(f"{name}, line {reader.line_num}: {exc}") from exc
    transposed = list(zip(*rows, strict=True)) if rows else []
    cols: dict[str, list[str]] = {}
    for column in columns:
        if column in header and rows:
            raw = np.asarray(transposed[header.index(column)], dtype=STRING)
            cols[column] = [str(v) for v in np.strings.strip(raw)]
        else:
            cols[column] = [""] * len(rows)
    blank = [i for i in range(len(rows)) if not any(cols[c][i] for c in columns)]
    if blank:
        keep = sorted(set(range(len(rows))) - set(blank))
        lines = [lines[i] for i in keep]
        cols = {c: [v[i] for i in keep] for c, v in cols.items()}
    return Columns(name, lines, cols, errors)


def _check_unique_values(
    values: list[str],
    column: str,
    lines: list[int],
    errors: list[RowError],
    check: Callable[[str], str | None],
) -> None:
    """Run ``check`` once per distinct value (vocabularies are small) and report each bad row."""
    arr = np.asarray(values, dtype=STRING) if values else np.zeros(0, dtype=STRING)
    uniques, inverse = np.unique(arr, return_inverse=True)
    reasons = [check(str(u)) for u in uniques]
    bad = np.asarray([r is not None for r in reasons], dtype=bool)
    for row in np.flatnonzero(bad[inverse.reshape(-1)]).tolist():
        reason = reasons[int(inverse.reshape(-1)[row])]
        errors.append(RowError(lines[row], column, values[row], str(reason)))


def _parse_dates(
    values: list[str], column: str, lines: list[int], errors: list[RowError]
) -> np.ndarray[Any, np.dtype[np.datetime64]]:
    def check(value: str) -> str | None:
        if not value:
            return "a date is required (YYYY-MM-DD)"
        if not _ISO_DATE.match(value):
            return "not a date; write YYYY-MM-DD, e.g. 2019-03-01"
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return "not a date; write YYYY-MM-DD, e.g. 2019-03-01"
        if not MIN_DATE <= day <= MAX_DATE:
            return f"date out of range ({MIN_DATE} to {MAX_DATE})"
        return None

    _check_unique_values(values, column, lines, errors, check)
    safe = [v if check(v) is None else "1970-01-01" for v in values] if errors else values
    return np.asarray(safe, dtype="datetime64[D]")


def _canonical_ids(
    raw: list[str], scheme: IdScheme, lines: list[int], errors: list[RowError], column: str = "id"
) -> list[str]:
    if scheme is USCC:
        arr = np.strings.upper(np.asarray(raw, dtype=STRING)) if raw else np.zeros(0, STRING)
        ascii_ok = np.asarray([r.isascii() for r in raw], dtype=bool)
        encoded = np.strings.encode(arr, "utf-8")
        ok = ascii_ok & uscc_valid_mask(np.asarray(encoded)) if raw else ascii_ok
        out = [str(x) for x in arr]
        for i in np.flatnonzero(~ok).tolist():
            try:
                out[i] = validate_uscc(raw[i])
            except ValueError as exc:
                errors.append(RowError(lines[i], column, raw[i], str(exc)))
        return out
    out = []
    for i, value in enumerate(raw):
        try:
            out.append(scheme.canonicalize(value))
        except ValueError as exc:
            errors.append(RowError(lines[i], column, value, str(exc)))
            out.append(value)
    return out


def _duplicates(
    ids: list[str], lines: list[int], errors: list[RowError], column: str = "id"
) -> None:
    if not ids:
        return
    arr = np.asarray(ids, dtype=STRING)
    _, first, inverse, counts = np.unique(
        arr, return_index=True, return_inverse=True, return_counts=True
    )
    inverse = inverse.reshape(-1)
    dup_rows = np.flatnonzero(counts[inverse] > 1)
    for row in dup_rows.tolist():
        first_row = int(first[inverse[row]])
        if row != first_row:
            errors.append(
                RowError(
                    lines[row],
                    column,
                    ids[row],
                    f"duplicate ID: already on line {lines[first_row]}",
                )
            )


def _required(values: list[str], column: str, lines: list[int], errors: list[RowError]) -> None:
    for i in [i for i, v in enumerate(values) if not v]:
        errors.append(RowError(lines[i], column, "", "a value is required"))


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
    ids = _canonical_ids(cols["id"], scheme, lines, errors)
    _duplicates(ids, lines, errors)
    _required(cols["name"], "name", lines, errors)
    _required(cols["entity_type"], "entity_type", lines, errors)
    _check_unique_values(
        cols["industry"],
        "industry",
        lines,
        errors,
        lambda v: None if _INDUSTRY.match(v) else "not a GB/T 4754 industry code (e.g. F5191)",
    )
    _check_unique_values(cols["region"], "region", lines, errors, _region_problem)
    _check_unique_values(
        cols["tier"],
        "tier",
        lines,
        errors,
        lambda v: None if v.upper() in TIERS else "unknown credit-risk tier; use A, B, C or D",
    )
    status = [s or "存续" for s in cols["status"]]
    _check_unique_values(
        status,
        "status",
        lines,
        errors,
        lambda v: None if v in STATUSES else f"unknown status; use one of {', '.join(STATUSES)}",
    )
    registered = _parse_dates(cols["registered"], "registered", lines, errors)
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
    ids = _canonical_ids(cols["id"], LOCAL_ID, lines, errors)
    _duplicates(ids, lines, errors)
    _required(cols["name"], "name", lines, errors)
    _required(cols["certificate_no"], "certificate_no", lines, errors)
    known = set(departments) if departments is not None else None

    def dept(v: str) -> str | None:
        if not _DEPARTMENT.match(v):
            return "not a department code"
        if known is not None and v not in known:
            return f"unknown department; known: {', '.join(sorted(known))}"
        return None

    _check_unique_values(cols["department"], "department", lines, errors, dept)
    _check_unique_values(cols["region"], "region", lines, errors, _region_problem)
    _check_unique_values(
        cols["home_region"],
        "home_region",
        lines,
        errors,
        lambda v: None if not v or _REGION.match(v) else "not a division code (or leave empty)",
    )
    active = [_bool(v) for v in cols["active"]]
    for i in [i for i, a in enumerate(active) if a is None]:
        errors.append(RowError(lines[i], "active", cols["active"][i], "use true/false (是/否)"))
    expiry = _parse_dates(cols["certificate_expiry"], "certificate_expiry", lines, errors)
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
        _required(cols[column], column, lines, errors)
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
