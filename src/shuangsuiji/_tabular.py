"""The validation kernel shared by every tabular import: decoding, columns, rows and values.

A table (a CSV file, a DataFrame, a results sheet) is read column by column; each check runs
once per distinct value where it can (vocabularies are small) and appends a :class:`RowError`
for every bad row, so that an import reports *every* problem at once and keeps nothing unless
the whole table is good. :mod:`shuangsuiji.io` (pools, conflicts, items) and
:mod:`shuangsuiji.results` (inspection results) build on it; the core never imports the CSV
adapter itself.
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
from shuangsuiji.ids import USCC, IdScheme, uscc_valid_mask, validate_uscc
from shuangsuiji.pools import STRING

__all__ = [
    "MAX_DATE",
    "MIN_DATE",
    "Columns",
    "CsvFormatError",
    "ImportValidationError",
    "RowError",
    "Source",
    "canonical_ids",
    "check_unique_values",
    "duplicates",
    "parse_dates",
    "read_columns",
    "required",
]

MIN_DATE = date(1949, 10, 1)
MAX_DATE = date(2100, 12, 31)
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

Source = str | Path | IO[str] | IO[bytes]


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


def check_unique_values(
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


def parse_dates(
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

    check_unique_values(values, column, lines, errors, check)
    safe = [v if check(v) is None else "1970-01-01" for v in values] if errors else values
    return np.asarray(safe, dtype="datetime64[D]")


def canonical_ids(
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


def duplicates(
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


def required(values: list[str], column: str, lines: list[int], errors: list[RowError]) -> None:
    for i in [i for i, v in enumerate(values) if not v]:
        errors.append(RowError(lines[i], column, "", "a value is required"))
