"""Safe HTML text for the printed pages (draw record, publication notice).

:class:`Html` marks markup that is already safe; :func:`escape` escapes everything else, so a
hostile entity name (``<script>``) is shown as text.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["Html", "escape"]


class Html(str):
    """Markup that is already safe; every other value goes through :func:`escape`."""

    __slots__ = ()


def escape(value: Any) -> Html:
    """Escape a value for HTML text or attribute context.

    ``None`` and ``""`` become a dash, lists are joined with 、, mappings shown as JSON.

    >>> escape("<b>") , escape(None), escape(["甲", "<乙>"])
    ('&lt;b&gt;', '—', '甲、&lt;乙&gt;')
    """
    if isinstance(value, Html):
        return value
    if value is None or value == "":
        return Html("—")
    if isinstance(value, list | tuple):
        return Html("、".join(escape(v) for v in value))
    if isinstance(value, Mapping):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return Html(html.escape(str(value), quote=True))
