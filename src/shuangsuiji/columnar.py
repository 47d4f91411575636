"""The columnar draw bundle: a small JSON head and Parquet files, for national draws.

A draw over 2 × 10^8 candidates cannot list them in JSON (about 10 GB that no auditor can
open). A **columnar bundle** keeps every field of the JSON bundle (``docs/ssj-draw-1.md``,
section 11) in a small JSON *head*, except two lists, which go to Parquet files beside it:

- ``candidates`` → ``candidates_file``: a Parquet file with the columns ``id`` and
  ``stratum`` (UTF-8 strings), one row per candidate, rows in strictly increasing
  ``utf8(id)`` order — the order of the pool digest's lines;
- ``excluded`` (when the draw records it) → ``excluded_file``: columns ``reason``, ``id`` and
  ``fact`` (the canonical JSON of the entity's ``facts`` entry, or null), one row per
  excluded entity, rows in strictly increasing ``utf8(id)`` order;
- ``selected`` and ``alternates``, when there are more than :data:`PICKS_THRESHOLD` of them,
  → ``picks_file``: columns ``list`` (``"selected"`` or ``"alternates"``), ``id``,
  ``stratum``, ``ticket``, the selected in their order and then the alternates in theirs.

Each ``*_file`` entry is ``{"path": file name, "sha256": hex of the file's bytes, "rows":
n}``. The path is a bare file name in the head's folder (a head cannot point a verifier at
another file). The head's ``record_digest`` is computed as for a JSON bundle (every field
but ``candidates`` and ``record_digest``), so it commits to both files by their SHA-256; the
``pool_digest`` stays the SSJ-DRAW-1 digest of the candidate rows, not of the file.

:func:`verify_columnar` (and ``shuangsuiji verify HEAD.json``) checks each file's SHA-256,
then streams the candidates in row-group batches with memory bounded by one batch plus the
``n_s + m_s`` best rows of each stratum: the pool digest is fed line by line, the order and
the IDs are checked, ``N_s`` is counted, and the tickets of each batch are computed with
:func:`shuangsuiji.draw.tickets` (hashlib); each stratum keeps its ``n_s + m_s`` smallest
tickets with a numpy partition. The sizes it ranks for are those the head records; if the
file's counts differ, the file is streamed a second time with the true sizes, so that every
problem is reported as it is. The excluded file, once its SHA-256 matches, is streamed too,
one batch at a time: its schema, its row count against ``rows``, the order of its IDs
(strictly increasing, so none repeats), that no ID is empty or null, that every reason is one
of :data:`shuangsuiji.candidates.EXCLUSION_REASONS`, the rows of each reason against the
head's ``exclusions`` counts, each fact (:func:`shuangsuiji.exclusion_facts.fact_problem`,
the JSON bundle's check), and, walking the candidates file's IDs alongside (both files are
sorted, so one batch of each is held), that no excluded ID is a candidate too; each problem
names the file, the first row (counted from 0) and what is wrong. A picks file is streamed
against the re-derived selection and alternates, and the first row that differs is named.
Everything else is :func:`shuangsuiji.bundle.verify_bundle`.

>>> import tempfile
>>> from pathlib import Path
>>> from shuangsuiji.bundle import make_bundle
>>> from shuangsuiji.draw import SizeRule, draw_entities
>>> ids, strata = ["A1", "A2", "A3", "B1"], ["A", "A", "A", "B"]
>>> d = draw_entities(ids, strata, SizeRule(count=1, alternates=1), task_label="t",
...                   seed=bytes(range(32)))
>>> folder = Path(tempfile.mkdtemp())
>>> head = write_columnar(make_bundle(d, ids, strata, library_version="0.1.0"), folder, "draw-t")
>>> sorted(p.name for p in folder.iterdir())
['draw-t.candidates.parquet', 'draw-t.json']
>>> [p.field for p in verify_columnar(read_head(head), folder).problems]
['seed_provenance']
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shuangsuiji.bundle import (
    COLUMNAR_THRESHOLD,
    BundleError,
    DrawDeriver,
    Problem,
    TeamChecker,
    VerificationReport,
    make_bundle,
    read_bundle,
    record_digest,
    verify_bundle,
)
from shuangsuiji.candidates import EXCLUSION_REASONS
from shuangsuiji.canonical import canonical_text
from shuangsuiji.draw import (
    Draw,
    InvalidLabelError,
    SizeRule,
    StratumSummary,
    TicketScheme,
    check_label,
    draw_key,
    stratum_summaries,
    tickets,
)
from shuangsuiji.engines.arrow import binary_bytes
from shuangsuiji.engines.result import PoolChangedDuringDrawError, draw_from_ranked
from shuangsuiji.exclusion_facts import FactProblem, fact_problem
from shuangsuiji.seeds import Ceremony, PublicSeed, check_provenance

__all__ = [
    "BATCH_ROWS",
    "COLUMNAR_THRESHOLD",
    "PICKS_THRESHOLD",
    "columnar_view",
    "file_digest",
    "head_for_draw",
    "is_columnar",
    "read_head",
    "verify_columnar",
    "write_candidates",
    "write_columnar",
    "write_head",
]

BATCH_ROWS = 262_144
"""Rows per batch when a verifier streams the candidates file (about 20 MB at a time)."""

PICKS_THRESHOLD = 100_000
"""Picks (selected plus alternates) above which they leave the head for a picks file.

A pick is about 120 bytes of canonical JSON, so 100,000 picks keep a head near 12 MB, which
``json.load`` and a text editor open at once; a city or province draw (1 × 10^6 candidates at
3 % is 30,000 picks plus alternates) keeps its selection readable in the head, while a
national one (2 × 10^8 at 1 %, 2 × 10^6 picks, about 240 MB) moves it to Parquet."""

_PICK_COLUMNS = ("list", "id", "stratum", "ticket")
_NAME = re.compile(r"^[^/\\\x00-\x1f]+$")
_CONTROL = "[\\x00-\\x1f]"


def file_digest(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for piece in iter(lambda: f.read(2**20), b""):
            h.update(piece)
    return h.hexdigest()


def _entry(path: Path, rows: int) -> dict[str, Any]:
    return {"path": path.name, "sha256": file_digest(path), "rows": rows}


def write_candidates(
    path: Path, ids: Sequence[str], strata: Sequence[str], *, row_group_rows: int = 1_000_000
) -> None:
    """Write candidates (already sorted by ``utf8(id)``) as a bundle's candidates file."""
    table = pa.table({"id": pa.array(ids, pa.string()), "stratum": pa.array(strata, pa.string())})
    pq.write_table(table, path, row_group_size=row_group_rows)


def _move_picks(head: dict[str, Any], path: Path, threshold: int) -> None:
    """Move ``selected`` and ``alternates`` from ``head`` to the picks file ``path`` when
    there are more than ``threshold`` of them: columns ``list`` (``"selected"`` or
    ``"alternates"``), ``id``, ``stratum``, ``ticket``; the selected in order, then the
    alternates in order."""
    picks = [(field, p) for field in ("selected", "alternates") for p in head[field]]
    if len(picks) <= threshold:
        return
    columns = {"list": [field for field, _ in picks]} | {
        c: [p[c] for _, p in picks] for c in _PICK_COLUMNS[1:]
    }
    pq.write_table(pa.table({c: pa.array(v, pa.string()) for c, v in columns.items()}), path)
    del head["selected"], head["alternates"]
    head["picks_file"] = _entry(path, len(picks))


def _excluded_rows(excluded: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str | None]]:
    """``(reason, id, fact)`` per excluded entity, in ``utf8(id)`` order; ``fact`` is the
    canonical JSON of ``facts[i]``, or null in bundles frozen before facts were recorded."""
    rows = []
    for e in excluded:
        facts = e.get("facts") or [None] * len(e.get("ids", []))
        for entity, fact in zip(e.get("ids", []), facts, strict=True):
            rows.append((e["reason"], entity, None if fact is None else canonical_text(fact)))
    # One order for the whole file, as for the candidates: a verifier then sees in one
    # streamed comparison per row that no entity is excluded twice (section 14).
    return sorted(rows, key=lambda r: r[1].encode())


def write_columnar(
    bundle: Mapping[str, Any],
    folder: Path,
    stem: str,
    *,
    row_group_rows: int = 1_000_000,
    picks_threshold: int = PICKS_THRESHOLD,
) -> Path:
    """Write a JSON bundle (from :func:`~shuangsuiji.bundle.make_bundle`) as a columnar
    bundle in ``folder``: ``{stem}.json`` (the head), ``{stem}.candidates.parquet``, when
    the bundle lists its excluded IDs ``{stem}.excluded.parquet``, and when it has more than
    ``picks_threshold`` selected and alternates ``{stem}.picks.parquet``. Returns the head's
    path."""
    cands = bundle["candidates"]
    head = {k: v for k, v in bundle.items() if k not in ("candidates", "excluded")}
    path = folder / f"{stem}.candidates.parquet"
    write_candidates(
        path,
        [c["id"] for c in cands],
        [c["stratum"] for c in cands],
        row_group_rows=row_group_rows,
    )
    head["candidates_file"] = _entry(path, len(cands))
    if "excluded" in bundle:
        excluded = folder / f"{stem}.excluded.parquet"
        rows = _excluded_rows(bundle["excluded"])
        pq.write_table(
            pa.table(
                {
                    "reason": pa.array([r for r, _, _ in rows], pa.string()),
                    "id": pa.array([i for _, i, _ in rows], pa.string()),
                    "fact": pa.array([f for _, _, f in rows], pa.string()),
                }
            ),
            excluded,
        )
        head["excluded_file"] = _entry(excluded, len(rows))
    _move_picks(head, folder / f"{stem}.picks.parquet", picks_threshold)
    head["record_digest"] = record_digest(head)
    return write_head(head, folder / f"{stem}.json")


def head_for_draw(
    draw: Draw,
    pool_digest: str,
    candidates: Path,
    *,
    rows: int,
    seed_provenance: Ceremony | PublicSeed | Mapping[str, Any] | None = None,
    picks_threshold: int = PICKS_THRESHOLD,
    **fields: Any,
) -> dict[str, Any]:
    """The head of a columnar bundle for a draw made where the pool lives (an engine of
    :mod:`shuangsuiji.engines`), whose candidates file (``rows`` rows, sorted by
    ``utf8(id)``, e.g. from :func:`shuangsuiji.engines.duckdb.freeze_duckdb`) is already
    written: no candidate is loaded into Python. ``fields`` are the other keyword arguments
    of :func:`~shuangsuiji.bundle.make_bundle` (``teams``, ``policy_hash``, ``exclusions``,
    ``library_version``, ``process``...). With more than ``picks_threshold`` selected and
    alternates, they are written beside the candidates file as ``NAME.picks.parquet``
    (``NAME`` the candidates file's name without ``.candidates.parquet``). Write the head
    with :func:`write_head`."""
    head = make_bundle(draw, [], [], **fields)
    del head["candidates"]
    head["pool_digest"] = pool_digest
    if seed_provenance is not None:
        record = (
            seed_provenance.to_record()
            if isinstance(seed_provenance, Ceremony | PublicSeed)
            else dict(seed_provenance)
        )
        problems = check_provenance(
            record,
            seed=bytes.fromhex(draw.seed),
            task_label=draw.task_label,
            pool_digest=pool_digest,
        )
        if problems:
            raise BundleError("seed provenance does not fit this draw: " + "; ".join(problems))
        head["seed_provenance"] = record
    head["candidates_file"] = _entry(candidates, rows)
    stem = candidates.name.removesuffix(".parquet").removesuffix(".candidates")
    _move_picks(head, candidates.with_name(f"{stem}.picks.parquet"), picks_threshold)
    head["record_digest"] = record_digest(head)
    return head


def write_head(head: Mapping[str, Any], path: Path) -> Path:
    """Write a head as canonical JSON (its files must be in the same folder)."""
    path.write_text(canonical_text(dict(head)) + "\n", encoding="utf-8")
    return path


def is_columnar(bundle: Mapping[str, Any]) -> bool:
    """True if ``bundle`` is the head of a columnar bundle (it names a candidates file)."""
    return "candidates_file" in bundle


def read_head(path: Path) -> dict[str, Any]:
    """The head of a columnar bundle (or any bundle) at ``path``, read as a bundle."""
    return read_bundle(path.read_bytes())


# -- verification ------------------------------------------------------------------------


@attrs.frozen
class _FileRef:
    path: Path
    sha256: str
    rows: int


def _file_ref(head: Mapping[str, Any], field: str, folder: Path) -> _FileRef | Problem:
    entry = head.get(field)
    if not isinstance(entry, Mapping):
        return Problem(field, "must be {'path': file name, 'sha256': hex, 'rows': n}")
    name, digest, rows = entry.get("path"), entry.get("sha256"), entry.get("rows")
    if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
        return Problem(field, f"path {name!r} must be a bare file name beside the head")
    if not isinstance(digest, str) or not isinstance(rows, int) or isinstance(rows, bool):
        return Problem(field, "needs 'sha256' (hex text) and 'rows' (a whole number)")
    path = folder / name
    if not path.is_file():
        return Problem(field, f"{path} is missing: put the Parquet file beside the head")
    actual = file_digest(path)
    if actual != digest:
        return Problem(field, f"{name} has SHA-256 {actual[:16]}…, the head records {digest[:16]}…")
    return _FileRef(path, digest, rows)


def _prefix(digests: np.ndarray) -> np.ndarray:
    # The first 8 bytes as a big-endian number order like the tickets wherever they differ.
    return digests[:, :8].copy().view(">u8").reshape(-1).astype(np.uint64)


@attrs.define
class _TopK:
    """The ``take`` smallest tickets seen so far in one stratum (plus ties at the bound).

    Once ``take`` rows are held, ``bound`` is the largest 8-byte prefix among the best
    ``take``: a later row above it can never be among them, so it is dropped on arrival,
    and the buffer stays below ``2 · take + 1024`` rows.
    """

    take: int
    ids: list[np.ndarray] = attrs.Factory(list)
    tickets: list[np.ndarray] = attrs.Factory(list)
    held: int = 0
    bound: np.uint64 | None = None

    def add(self, ids: np.ndarray, digests: np.ndarray) -> None:
        if self.take == 0 or not len(ids):
            return
        if self.bound is not None:
            keep = _prefix(digests) <= self.bound
            ids, digests = ids[keep], digests[keep]
        self.ids.append(ids)
        self.tickets.append(digests)
        self.held += len(ids)
        if self.held > 2 * self.take + 1024:
            self._shrink()

    def _shrink(self) -> None:
        ids, digests = np.concatenate(self.ids), np.concatenate(self.tickets)
        if len(ids) >= self.take:
            # Every row at or below the take-th prefix is kept, so ties stay whole.
            prefix = _prefix(digests)
            self.bound = np.partition(prefix, self.take - 1)[self.take - 1]
            keep = prefix <= self.bound
            ids, digests = ids[keep], digests[keep]
        self.ids, self.tickets, self.held = [ids], [digests], len(ids)

    def rows(self, label: str) -> list[tuple[str, str, bytes]]:
        if not self.ids:
            return []
        self._shrink()
        pairs = sorted(zip(map(bytes, self.tickets[0]), self.ids[0].tolist(), strict=True))
        return [(label, i.decode(), t) for t, i in pairs[: self.take]]


@attrs.define
class _Pass:
    """What one stream over the candidates file found."""

    counts: dict[str, int] = attrs.Factory(dict)
    digest: str = ""
    problems: list[Problem] = attrs.Factory(list)
    ranked: list[tuple[str, str, bytes]] = attrs.Factory(list)


def _batches(path: Path) -> Iterator[pa.RecordBatch]:
    yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=["id", "stratum"])


def _check_batch(ids: pa.Array, strata: pa.Array, last: bytes | None, out: _Pass) -> None:
    if ids.null_count or strata.null_count:
        out.problems.append(Problem("candidates_file", "an id or a stratum is null"))
    elif (
        pc.any(pc.match_substring_regex(ids, _CONTROL)).as_py()
        or pc.any(pc.equal(pc.utf8_length(ids), 0)).as_py()
    ):
        out.problems.append(
            Problem("candidates_file", "an ID is empty or contains a control character")
        )
    binary = ids.cast(pa.binary())
    ascending = len(binary) < 2 or pc.all(pc.less(binary[:-1], binary[1:])).as_py()
    if not ascending or (last is not None and len(binary) and binary[0].as_py() <= last):
        out.problems.append(
            Problem(
                "candidates_file",
                "rows are not in strictly increasing utf8(id) order (or an ID repeats); "
                "the pool digest cannot be streamed",
            )
        )


def _check_stratum(label: str, out: _Pass) -> None:
    try:
        check_label(label, "stratum label")
    except InvalidLabelError as exc:
        out.problems.append(Problem("candidates_file", str(exc)))


def _stream(
    path: Path, key: bytes, takes: Mapping[str, int], shared: _SharedIds | None = None
) -> _Pass:
    """One pass over the candidates file: checks, pool digest, counts, the best ``takes``
    rows of each stratum; ``shared`` walks the excluded file alongside."""
    out = _Pass()
    h = hashlib.sha256()
    tops = {label: _TopK(take) for label, take in takes.items()}
    last: bytes | None = None
    for batch in _batches(path):
        ids, strata = batch.column("id"), batch.column("stratum")
        if not out.problems:
            _check_batch(ids, strata, last, out)
        if out.problems:
            continue
        lines = pc.binary_join_element_wise(ids, strata, "\t")
        h.update(binary_bytes(pc.binary_join_element_wise(lines, "", "\n").cast(pa.binary())))
        last = ids[-1].as_py().encode() if len(ids) else last
        if shared is not None:
            shared.walk(ids)
        raw = np.array(ids.cast(pa.binary()).to_pylist(), dtype=bytes)
        digests = tickets(key, raw)
        encoded = strata.dictionary_encode()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        for code, label in enumerate(encoded.dictionary.to_pylist()):
            if label not in out.counts:
                _check_stratum(label, out)
            rows = np.flatnonzero(codes == code)
            out.counts[label] = out.counts.get(label, 0) + len(rows)
            top = tops.get(label)
            if top is not None:
                top.add(raw[rows], digests[rows])
    out.digest = h.hexdigest()
    out.ranked = [row for label, top in tops.items() for row in top.rows(label)]
    return out


# -- the excluded file ---------------------------------------------------------------------

_EXCLUDED_COLUMNS = ("reason", "id", "fact")
_KNOWN_REASONS = pa.array(sorted(EXCLUSION_REASONS), pa.string())
_FAULTS = {
    "null": "the reason or the ID is null",
    "id": "ID {value} is empty or contains a control character",
    "order": (
        "ID {value} is not greater than the ID before it: rows must be in strictly "
        "increasing utf8(id) order, so that no entity is excluded twice"
    ),
    "reason": "reason {value} is not an exclusion reason of SSJ-DRAW-1 ("
    + ", ".join(sorted(EXCLUSION_REASONS))
    + ")",
}


@attrs.define
class _Fault:
    """The first row (counted from 0) with one kind of fault, what is wrong with it, and how
    many rows have the fault."""

    row: int
    text: str
    rows: int


def _quoted(value: object) -> str:
    # A forged row may hold a value of any length: a message quotes at most 80 characters.
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _clipped(text: str) -> str:
    # A fact quoted back may be as long as the forger made it.
    return text if len(text) <= 240 else text[:237] + "..."


@attrs.define
class _ExcludedScan:
    """What one stream over the excluded file found: rows, rows per reason, faults, and the
    rows with and without a fact per reason (a reason's facts are recorded for all its rows
    or none)."""

    countable: frozenset[str]
    cutoff: str | None
    rows: int = 0
    counts: dict[str, int] = attrs.Factory(dict)
    faults: dict[str, _Fault] = attrs.Factory(dict)
    last: bytes | None = None
    with_fact: dict[str, int] = attrs.Factory(dict)
    without_fact: dict[str, _Fault] = attrs.Factory(dict)

    def note(self, kind: str, where: np.ndarray, values: pa.Array) -> None:
        """Rows of this batch (``where``) with the fault ``kind`` of :data:`_FAULTS`."""
        hits = np.flatnonzero(where)
        if len(hits):
            first = int(hits[0])
            text = _FAULTS[kind].format(value=_quoted(values[first].as_py()))
            self.note_row(kind, self.rows + first, text, len(hits))

    def note_row(self, kind: str, row: int, text: str, rows: int = 1) -> None:
        """``rows`` rows with the fault ``kind``, the first at ``row`` of the file."""
        if kind in self.faults:
            self.faults[kind].rows += rows
        else:
            self.faults[kind] = _Fault(row, text, rows)

    def problems(self, name: str) -> list[Problem]:
        """Each kind of fault, named by its first row, then the reasons with a fact on some
        rows and not on others."""
        faults = dict(self.faults)
        for reason, missing in self.without_fact.items():
            if self.with_fact.get(reason):
                text = (
                    f"no fact for reason {reason!r}, which has a fact on "
                    f"{self.with_fact[reason]:,} other rows: record one on every row or on none"
                )
                faults[f"no fact {reason}"] = _Fault(missing.row, text, missing.rows)
        out = []
        for fault in faults.values():
            more = f" ({fault.rows:,} rows have this fault)" if fault.rows > 1 else ""
            out.append(Problem("excluded_file", f"{name} row {fault.row}: {fault.text}{more}"))
        return out


def _mask(flags: pa.Array) -> np.ndarray:
    return np.asarray(flags.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _not_increasing(ids: pa.Array, last: bytes | None) -> np.ndarray:
    """Rows whose ID is not greater than the one before (the batch's first row against
    ``last``, the previous batch's last ID); a null is reported as null, not here."""
    binary = ids.cast(pa.binary())
    out = np.zeros(len(binary), dtype=bool)
    if len(binary) > 1:
        out[1:] = ~np.asarray(
            pc.less(binary[:-1], binary[1:]).fill_null(True).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
    first = binary[0].as_py() if len(binary) else None
    out[:1] = last is not None and first is not None and first <= last
    return out


class _SharedIds:
    """The excluded file's IDs, walked alongside the candidates as they stream (a merge).

    Both files are in strictly increasing ``utf8(id)`` order, so a batch of candidates can
    share IDs only with the excluded rows between its first and its last ID: the walk finds
    them by bisection in the excluded batch it holds, looks the batch's candidates up in
    them (a hash lookup), and moves to the next excluded batch only when this one ends
    before the candidates do. It holds one batch of each file, and the candidates are read
    once, by the stream that digests and ranks them. If a file is out of order (a problem
    reported on its own) an ID in both may go unseen.
    """

    def __init__(self, path: Path, candidates: str) -> None:
        parquet = pq.ParquetFile(path)
        self._batches = parquet.iter_batches(batch_size=BATCH_ROWS, columns=["reason", "id"])
        self._names = (path.name, candidates)
        self._batch: pa.RecordBatch | None = None
        self._ids = pa.array([], pa.binary())  # the batch's IDs but nulls, as bytes
        self._start = 0  # the excluded-file row of the batch's first row
        self._seen = 0  # the candidate rows walked so far
        self.fault: _Fault | None = None

    def _advance(self) -> bool:
        self._start += 0 if self._batch is None else self._batch.num_rows
        self._batch = next(self._batches, None)
        column = pa.array([], pa.string()) if self._batch is None else self._batch.column("id")
        self._ids = column.drop_null().cast(pa.binary())
        return self._batch is not None

    def walk(self, ids: pa.Array) -> None:
        """The next batch of candidates (their IDs, sorted, none null)."""
        binary = ids.cast(pa.binary())
        low, high = (binary[0].as_py(), binary[-1].as_py()) if len(binary) else (b"", b"")
        while len(binary):
            first, end = _bisect(self._ids, low, right=False), _bisect(self._ids, high, right=True)
            if first < end:
                self._note(binary, _mask(pc.is_in(binary, value_set=self._ids[first:end])))
            if (len(self._ids) and self._ids[-1].as_py() >= high) or not self._advance():
                break
        self._seen += len(binary)

    def _note(self, candidates: pa.Array, hit: np.ndarray) -> None:
        if not hit.any() or self._batch is None:
            return
        if self.fault is not None:
            self.fault.rows += int(hit.sum())
            return
        row = int(np.flatnonzero(hit)[0])
        at = pc.index(self._batch.column("id").cast(pa.binary()), candidates[row]).as_py()
        reason = self._batch.column("reason")[at].as_py()
        text = (
            f"ID {_quoted(candidates[row].as_py().decode())} is excluded ({reason}) and a "
            f"candidate too (row {self._seen + row} of {self._names[1]})"
        )
        self.fault = _Fault(self._start + at, text, int(hit.sum()))

    def problems(self) -> list[Problem]:
        """The IDs found in both files: the first, with its row in each, and how many."""
        if self.fault is None:
            return []
        more = f" ({self.fault.rows:,} rows have this fault)" if self.fault.rows > 1 else ""
        return [
            Problem(
                "excluded_file",
                f"{self._names[0]} row {self.fault.row}: {self.fault.text}{more}",
            )
        ]


def _bisect(ids: pa.Array, value: bytes, *, right: bool) -> int:
    """Where ``value`` goes in the sorted ``ids`` (bytes): ``log2(len)`` reads of one value."""
    find = bisect.bisect_right if right else bisect.bisect_left
    return find(range(len(ids)), value, key=lambda k: ids[k].as_py())


def _pair_problem(pair: str | None, cutoff: str | None) -> FactProblem | None:
    """:func:`~shuangsuiji.exclusion_facts.fact_problem` of ``reason NUL fact`` as the file
    holds them (the fact canonical JSON, or anything else in a forged file); a known reason
    holds no NUL, so the first one splits the pair. ``None`` for a row without both."""
    if pair is None:
        return None
    reason, text = pair.split("\x00", 1)
    try:
        fact: object = json.loads(text)
    except ValueError:
        fact = text
    return fact_problem(reason, fact, cutoff)


def _scan_facts(scan: _ExcludedScan, batch: pa.RecordBatch) -> None:
    """Each fact of a known reason against its reason's keys and the cut-off; the rows of
    each reason with and without a fact. Most facts repeat (a status, a date, a task), so
    each distinct (reason, fact) of the batch is checked once and its verdict spread back
    to its rows."""
    reasons, facts = batch.column("reason"), batch.column("fact")
    known = pc.is_in(reasons, value_set=_KNOWN_REASONS)
    missing = _mask(pc.and_(known, pc.is_null(facts)))
    for reason in pc.unique(reasons.filter(missing)).to_pylist():
        rows = np.flatnonzero(missing & _mask(pc.equal(reasons, reason)))
        if reason in scan.without_fact:
            scan.without_fact[reason].rows += len(rows)
        else:
            scan.without_fact[reason] = _Fault(scan.rows + int(rows[0]), "", len(rows))
    present = _mask(pc.and_(known, pc.is_valid(facts)))
    for entry in pc.value_counts(reasons.filter(present)).to_pylist():
        scan.with_fact[entry["values"]] = scan.with_fact.get(entry["values"], 0) + entry["counts"]
    # (reason, fact) of each row with a known reason and a fact; null on the other rows.
    checkable = pc.if_else(known, reasons, pa.scalar(None, pa.string()))
    pairs = pc.binary_join_element_wise(checkable, facts, "\x00").dictionary_encode()
    verdicts = [_pair_problem(pair, scan.cutoff) for pair in pairs.dictionary.to_pylist()]
    if not any(verdicts):
        return
    codes = pairs.indices.fill_null(0).to_numpy(zero_copy_only=False)
    for kind in ("keys", "cutoff"):
        wrong = np.array([v is not None and v.kind == kind for v in verdicts], dtype=bool)
        rows = np.flatnonzero(present & wrong[codes])
        problem = verdicts[codes[rows[0]]] if len(rows) else None
        if problem is not None:
            ident = _quoted(batch.column("id")[int(rows[0])].as_py())
            message = _clipped(f"the fact of {ident} {problem.message}")
            scan.note_row(f"fact {kind}", scan.rows + int(rows[0]), message, len(rows))


def _scan_excluded_batch(scan: _ExcludedScan, batch: pa.RecordBatch) -> None:
    reasons, ids = batch.column("reason"), batch.column("id")
    null = _mask(pc.or_(pc.is_null(reasons), pc.is_null(ids)))
    scan.note("null", null, ids)
    empty = pc.or_(pc.match_substring_regex(ids, _CONTROL), pc.equal(pc.utf8_length(ids), 0))
    scan.note("id", _mask(empty), ids)
    scan.note("order", _not_increasing(ids, scan.last), ids)
    unknown = _mask(pc.invert(pc.is_in(reasons, value_set=_KNOWN_REASONS))) & ~null
    scan.note("reason", unknown, reasons)
    for entry in pc.value_counts(reasons).to_pylist():
        if entry["values"] in scan.countable:
            scan.counts[entry["values"]] = scan.counts.get(entry["values"], 0) + entry["counts"]
    _scan_facts(scan, batch)
    valid = ids.drop_null()
    scan.last = valid[-1].as_py().encode() if len(valid) else scan.last
    scan.rows += len(ids)


def _recorded_counts(head: Mapping[str, Any]) -> dict[str, int]:
    """The head's ``exclusions`` as a count per reason; empty when it lists none, or when
    it is malformed (the metadata check names that)."""
    recorded: dict[str, int] = {}
    try:
        for e in head.get("exclusions") or ():
            recorded[str(e["reason"])] = recorded.get(str(e["reason"]), 0) + int(e["count"])
    except (TypeError, KeyError, ValueError):
        return {}
    return recorded


def _exclusion_count_problems(
    name: str, recorded: Mapping[str, int], found: Mapping[str, int]
) -> list[Problem]:
    """The head's count of each reason against the file's rows with that reason."""
    if not recorded:
        return []
    return [
        Problem(
            "excluded_file",
            f"{name} has {found.get(reason, 0):,} rows with reason {reason!r}, the head's "
            f"exclusions count {recorded.get(reason, 0):,}",
        )
        for reason in sorted(set(recorded) | set(found), key=str.encode)
        if found.get(reason, 0) != recorded.get(reason, 0)
    ]


def _excluded_problems(head: Mapping[str, Any], ref: _FileRef) -> tuple[list[Problem], bool]:
    """Check the content of an excluded file whose SHA-256 and columns are right: rows,
    order, IDs, reasons, the count of each reason and each fact
    (:mod:`shuangsuiji.exclusion_facts`), streamed in batches of :data:`BATCH_ROWS`; and
    whether the file could be read to its end."""
    recorded = _recorded_counts(head)
    # Only the reasons of the spec or the head are counted, so that a file with a new reason
    # on every row cannot grow the counts; the other reasons are faults, named by row.
    countable = frozenset(EXCLUSION_REASONS) | frozenset(recorded)
    cutoff = head.get("cutoff")
    scan = _ExcludedScan(countable, cutoff if isinstance(cutoff, str) else None)
    try:
        for batch in pq.ParquetFile(ref.path).iter_batches(batch_size=BATCH_ROWS):
            _scan_excluded_batch(scan, batch)
    except (pa.ArrowException, OSError) as exc:
        where = f"{ref.path.name} cannot be read after row {scan.rows}: {exc}"
        return [Problem("excluded_file", where)], False
    name = ref.path.name
    problems = scan.problems(name)
    if scan.rows != ref.rows:
        problems.append(
            Problem(
                "excluded_file", f"{name} has {scan.rows:,} rows, the head records {ref.rows:,}"
            )
        )
    return problems + _exclusion_count_problems(name, recorded, scan.counts), True


# -- the picks file ------------------------------------------------------------------------


def _string_columns_problem(field: str, path: Path, columns: Sequence[str]) -> Problem | None:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        return Problem(field, f"{path.name} cannot be read as Parquet: {exc}")
    if tuple(schema.names) != tuple(columns):
        return Problem(
            field,
            f"{path.name} has the columns {schema.names}, section 14 specifies {list(columns)}",
        )
    wrong = [
        f"{f.name} ({f.type})"
        for f in schema
        if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
    ]
    if wrong:
        return Problem(field, f"{path.name}: columns {wrong} must be UTF-8 strings")
    return None


def _first_difference(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> int | None:
    if got == want:
        return None
    return next((k for k, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)


def _picks_problems(head: Mapping[str, Any], folder: Path, draw: Draw) -> list[Problem]:
    """Stream the picks file against the re-derived ``selected`` then ``alternates``,
    one batch of :data:`BATCH_ROWS` rows at a time; name the first row that differs."""
    if "selected" in head or "alternates" in head:
        return [
            Problem(
                "picks_file",
                "the head lists selected or alternates as well: they belong in one place",
            )
        ]
    ref = _file_ref(head, "picks_file", folder)
    if isinstance(ref, Problem):
        return [ref]
    schema = _string_columns_problem("picks_file", ref.path, _PICK_COLUMNS)
    if schema is not None:
        return [schema]
    want = [{"list": "selected", **p.to_json()} for p in draw.selected] + [
        {"list": "alternates", **p.to_json()} for p in draw.alternates
    ]
    name, rows = ref.path.name, 0
    problems: list[Problem] = []
    for batch in pq.ParquetFile(ref.path).iter_batches(batch_size=BATCH_ROWS):
        got = batch.to_pylist()
        k = None if problems else _first_difference(got, want[rows : rows + len(got)])
        if k is not None:
            expected = want[rows + k] if rows + k < len(want) else "(nothing)"
            problems.append(
                Problem(
                    "picks_file",
                    f"{name} row {rows + k}: recorded {got[k]}, re-derived {expected}",
                )
            )
        rows += len(got)
    if rows != ref.rows:
        problems.append(
            Problem("picks_file", f"{name} has {rows:,} rows, the head records {ref.rows:,}")
        )
    if rows != len(want):
        problems.append(
            Problem(
                "picks_file",
                f"{name} has {rows:,} picks, the draw re-derives {len(draw.selected):,} "
                f"selected and {len(draw.alternates):,} alternates",
            )
        )
    return problems


# -- re-deriving the draw -----------------------------------------------------------------


@attrs.frozen
class _Files:
    """A head's candidates file and excluded file, each when its digest, its columns and (the
    excluded one) its rows are readable; and the problems found in them so far."""

    candidates: _FileRef | None
    excluded: _FileRef | None
    problems: list[Problem]


def _checked_file(
    head: Mapping[str, Any], field: str, folder: Path, columns: Sequence[str]
) -> _FileRef | Problem:
    ref = _file_ref(head, field, folder)
    if isinstance(ref, Problem):
        return ref
    schema = _string_columns_problem(field, ref.path, columns)
    return ref if schema is None else schema


def _files(head: Mapping[str, Any], folder: Path) -> _Files:
    """The candidates and excluded files of ``head``: digests and columns; the excluded
    file's content (:func:`_excluded_problems`)."""
    candidates = _checked_file(head, "candidates_file", folder, ("id", "stratum"))
    excluded = (
        _checked_file(head, "excluded_file", folder, _EXCLUDED_COLUMNS)
        if "excluded_file" in head
        else None
    )
    problems = [r for r in (candidates, excluded) if isinstance(r, Problem)]
    if isinstance(excluded, _FileRef):
        found, readable = _excluded_problems(head, excluded)
        problems += found
        excluded = excluded if readable else None
        # Arrow's allocator keeps the scan's freed pages; the candidates stream that follows
        # holds most of its memory in numpy and Python, so give them back first.
        pa.default_memory_pool().release_unused()
    return _Files(
        candidates if isinstance(candidates, _FileRef) else None,
        excluded if isinstance(excluded, _FileRef) else None,
        problems,
    )


def _derive_from(head: Mapping[str, Any], folder: Path) -> DrawDeriver:
    """The :data:`~shuangsuiji.bundle.DrawDeriver` of a columnar head and its files."""
    strata_field = head.get("strata")
    recorded: Mapping[str, Any] = strata_field if isinstance(strata_field, Mapping) else {}

    def derive(
        task_label: str, seed: bytes, scheme: TicketScheme, rules: Mapping[str, SizeRule]
    ) -> tuple[Draw | None, list[Problem]]:
        files = _files(head, folder)
        candidates, problems = files.candidates, files.problems
        if candidates is None:
            return None, problems
        if scheme is not TicketScheme.SSJ_DRAW_1:
            return None, [Problem("ticket_scheme", "a columnar bundle is verified for ssj-draw-1")]
        key = draw_key(task_label, seed)
        sizes = {
            label: e["size"]
            for label, e in recorded.items()
            if isinstance(e, Mapping) and isinstance(e.get("size"), int) and e["size"] >= 0
        }
        guess = _summaries(rules, sizes)
        shared = (
            None
            if files.excluded is None
            else _SharedIds(files.excluded.path, candidates.path.name)
        )
        found = _stream(candidates.path, key, _takes(guess), shared)
        if found.problems:
            return None, problems + found.problems
        problems += [] if shared is None else shared.problems()
        strata = _summaries(rules, found.counts)
        if strata != guess:
            found = _stream(candidates.path, key, _takes(strata))
        problems += _pool_problems(head, candidates, found)
        try:
            draw = draw_from_ranked(
                task_label=task_label, seed=seed, strata=strata or (), rows=found.ranked
            )
        except PoolChangedDuringDrawError as exc:
            return None, [*problems, Problem("candidates_file", str(exc))]
        if "picks_file" in head:
            problems += _picks_problems(head, folder, draw)
        return draw, problems

    return derive


def _pool_problems(head: Mapping[str, Any], candidates: _FileRef, found: _Pass) -> list[Problem]:
    problems = []
    total = sum(found.counts.values())
    if total != candidates.rows:
        problems.append(
            Problem("candidates_file", f"has {total} rows, the head records {candidates.rows}")
        )
    if found.digest != head.get("pool_digest"):
        problems.append(
            Problem(
                "pool_digest",
                f"recorded {str(head.get('pool_digest'))[:16]}..., the candidates file "
                f"gives {found.digest[:16]}...",
            )
        )
    return problems


def _summaries(
    rules: Mapping[str, SizeRule], counts: Mapping[str, int]
) -> tuple[StratumSummary, ...] | None:
    try:
        return stratum_summaries(rules, counts)
    except InvalidLabelError:
        return None


def _takes(strata: tuple[StratumSummary, ...] | None) -> dict[str, int]:
    return {s.label: s.sample + s.alternates for s in strata or ()}


class _Rows(Sequence[Any]):
    """Stands for the candidates list in the checks that only count it (the announcement)."""

    def __init__(self, rows: int) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return self._rows

    def __getitem__(self, index: Any) -> Any:
        raise BundleError("the candidates of a columnar bundle are in its Parquet file")


def columnar_view(head: Mapping[str, Any], folder: Path) -> tuple[dict[str, Any], DrawDeriver]:
    """What :func:`~shuangsuiji.bundle.verify_bundle` (or ``verify_draw``) checks for a
    columnar ``head`` whose files are in ``folder``: the head, standing for a bundle whose
    candidates are counted but not listed, and the ``derive`` that streams its files."""
    entry = head.get("candidates_file")
    rows = entry.get("rows") if isinstance(entry, Mapping) else None
    view = {**head, "candidates": _Rows(rows if isinstance(rows, int) else 0)}
    return view, _derive_from(head, folder)


def verify_columnar(
    head: Mapping[str, Any],
    folder: Path,
    *,
    team_checker: TeamChecker | None = None,
    announcements: Sequence[Mapping[str, Any]] = (),
) -> VerificationReport:
    """Verify a columnar bundle: its ``head`` and the files beside it in ``folder``.

    As :func:`~shuangsuiji.bundle.verify_bundle`, with the candidates streamed from the
    Parquet file in bounded memory; a file whose SHA-256 differs from the head's is not read.
    """
    view, derive = columnar_view(head, folder)
    return verify_bundle(
        view, team_checker=team_checker, announcements=announcements, derive=derive
    )
