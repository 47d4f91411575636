"""One table behind every design result: its ``to_frame()`` and its display in Jupyter.

A result says once what its table is (a :class:`Table`: an index, named columns, whole-table
values), and both the pandas frame and the rich display are made from it, so the two never
disagree. The shape convention of every ``to_frame()``:

- **index**: the strata's own levels (``tier``, ``region``, both as a ``MultiIndex``, or
  ``stratum`` for free labels; see :attr:`Strata.levels`), followed by ``year`` for tables
  over years; a plan simulation is indexed by ``task``;
- **columns**: ``N`` first when the rows are strata, then the result's columns, each name with
  one meaning across the package (the table in ``docs/design.md``);
- **whole-table values** (criterion, method, overall rate …) in ``frame.attrs``.

The display needs neither pandas nor IPython: HTML and Markdown are written here, escaped,
with at most :data:`MAX_ROWS` rows (then a "… more rows" line).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_ROWS", "Table", "Tabular"]

MAX_ROWS = 20
"""Rows shown in a notebook; ``to_frame()`` always has them all."""

Key = tuple[Any, ...]


def _cell(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        x = float(value)
        if math.isnan(x):
            return "—"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        if x == int(x) and abs(x) < 1e15:
            return f"{int(x):,}"
        return f"{x:.4g}"
    return str(value)


@attrs.frozen(eq=False)
class Table:
    """``rows`` keyed by ``index`` (one tuple per row, one part per name in ``index_names``),
    ``columns`` in order, ``summary`` for whole-table values (shown above, and ``attrs`` of
    the frame)."""

    title: str
    index_names: tuple[str, ...]
    index: Sequence[Key]
    columns: Mapping[str, npt.ArrayLike]
    summary: Mapping[str, Any] = attrs.field(factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The pandas frame of the module convention (needs pandas)."""
        import pandas as pd

        if len(self.index_names) == 1:
            index: pd.Index = pd.Index([k[0] for k in self.index], name=self.index_names[0])
        else:
            index = pd.MultiIndex.from_tuples(list(self.index), names=list(self.index_names))
        frame = pd.DataFrame({k: np.asarray(v) for k, v in self.columns.items()}, index=index)
        frame.attrs.update(self.summary)
        return frame

    def _rows(self, max_rows: int) -> tuple[list[list[str]], int]:
        cols = [np.asarray(v) for v in self.columns.values()]
        shown = min(len(self.index), max_rows)
        rows = [
            [_cell(p) for p in self.index[r]] + [_cell(c[r].item()) for c in cols]
            for r in range(shown)
        ]
        return rows, len(self.index) - shown

    def _summary_text(self) -> list[str]:
        return [f"{k}: {_cell(v)}" for k, v in self.summary.items()]

    def html(self, max_rows: int = MAX_ROWS) -> str:
        """An HTML table (Jupyter's ``_repr_html_``)."""
        e = html.escape
        rows, more = self._rows(max_rows)
        head = "".join(f"<th>{e(n)}</th>" for n in (*self.index_names, *self.columns))
        body = "".join(
            "<tr>"
            + "".join(
                f"<th>{e(c)}</th>" if i < len(self.index_names) else f"<td>{e(c)}</td>"
                for i, c in enumerate(row)
            )
            + "</tr>"
            for row in rows
        )
        notes = "".join(f"<li>{e(s)}</li>" for s in self._summary_text())
        tail = f"<p>… {more:,} more rows (<code>to_frame()</code> has them all)</p>" if more else ""
        return (
            f"<div><strong>{e(self.title)}</strong>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + f'<table class="dataframe"><thead><tr>{head}</tr></thead>'
            + f"<tbody>{body}</tbody></table>{tail}</div>"
        )

    def markdown(self, max_rows: int = MAX_ROWS) -> str:
        """A Markdown table (Jupyter's ``_repr_markdown_``)."""
        rows, more = self._rows(max_rows)
        names = [*self.index_names, *self.columns]

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        out = [f"**{self.title}**", ""]
        out += [f"- {s}" for s in self._summary_text()]
        if self.summary:
            out.append("")
        out += [line(names), line(["---"] * len(names)), *(line(r) for r in rows)]
        if more:
            out += ["", f"… {more:,} more rows (`to_frame()` has them all)"]
        return "\n".join(out)


class Tabular:
    """``to_frame()`` and the Jupyter display of a result, both from its :meth:`_table`.

    The results are attrs classes made with ``repr=False``: their ``repr()`` is one line
    (the table's title), since IPython would print an attrs ``repr`` (every array) instead of
    :meth:`_repr_pretty_`.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self._display_table().title}>"

    def _table(self) -> Table:
        raise NotImplementedError

    def _display_table(self) -> Table:
        """What a notebook shows: the frame's table unless a result has a shorter summary."""
        return self._table()

    def to_frame(self) -> pd.DataFrame:
        """The result as a pandas frame (needs pandas); shape as in the module convention."""
        return self._table().to_frame()

    def _repr_html_(self) -> str:
        return self._display_table().html()

    def _repr_markdown_(self) -> str:
        return self._display_table().markdown()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text display: the Markdown table."""
        printer.text(self._display_table().markdown())
