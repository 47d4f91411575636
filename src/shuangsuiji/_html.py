"""Safe HTML text for the printed pages (draw record, publication notice).

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

__all__ = ["Html", "escape"]

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
