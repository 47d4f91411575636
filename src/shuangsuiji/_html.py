"""Safe HTML text and the one A4 print stylesheet of the printed pages (draw record,
publication notice).

:class:`Html` marks markup that is already safe; :func:`escape` escapes everything else, so a
hostile entity name (``<script>``) is shown as text. Bidirectional control characters (the
right-to-left override U+202E and its kin) would silently reorder what a reader sees around
them, so they are shown as a visible ``[U+202E]`` instead.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["Html", "escape", "print_css"]

_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Html(str):
    """Markup that is already safe; every other value goes through :func:`escape`."""

    __slots__ = ()


def escape(value: Any) -> Html:
    """Escape a value for HTML text or attribute context.

    ``None`` and ``""`` become a dash, lists are joined with 、, mappings shown as JSON.

    >>> escape("<b>") , escape(None), escape(["甲", "<乙>"])
    ('&lt;b&gt;', '—', '甲、&lt;乙&gt;')
    >>> escape("榕城\u202egnp.exe")
    '榕城[U+202E]gnp.exe'
    """
    if isinstance(value, Html):
        return value
    if value is None or value == "":
        return Html("—")
    if isinstance(value, list | tuple):
        return Html("、".join(escape(v) for v in value))
    if isinstance(value, Mapping):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = _BIDI.sub(lambda m: f"[U+{ord(m.group()):04X}]", str(value))
    return Html(html.escape(text, quote=True))


def print_css(*, margin: str, padding: str, rules: str) -> str:
    """The A4 print stylesheet: the page box with its ``margin`` and a page count at the bottom,
    the body font, ruled tables whose header repeats on every page, a footer, and on screen a
    white A4 sheet (inner ``padding``) on grey; ``rules`` are the page's own, after these.

    >>> css = print_css(margin="16mm", padding="16mm", rules="h1 { font-size: 20pt; }\\n")
    >>> "@page { size: A4; margin: 16mm;" in css, css.endswith("h1 { font-size: 20pt; }\\n")
    (True, True)
    """
    return (
        f"""
@page {{ size: A4; margin: {margin};
  @bottom-center {{ content: "第 " counter(page) " 页 / 共 " counter(pages) " 页";
    font-size: 8pt; }} }}
* {{ box-sizing: border-box; }}
html {{ background: #e9e9e9; }}
body {{ font-family: "Noto Serif CJK SC", "Source Han Serif SC", "Songti SC", SimSun, serif;
  font-size: 10pt; line-height: 1.45; color: #111; margin: 0; }}
.page {{ background: #fff; width: 210mm; min-height: 297mm; margin: 0 auto; padding: {padding}; }}
table {{ width: 100%; border-collapse: collapse; margin: 1mm 0 2mm; }}
th, td {{ border: 0.6pt solid #888; padding: 1mm 1.5mm; vertical-align: top; text-align: left; }}
thead {{ display: table-header-group; }}
footer {{ margin-top: 6mm; font-size: 8pt; color: #555; border-top: 0.6pt solid #aaa;
  padding-top: 2mm; }}
@media print {{ html {{ background: none; }} .page {{ width: auto; min-height: 0; margin: 0;
  padding: 0; }} }}
"""
        + rules
    )
