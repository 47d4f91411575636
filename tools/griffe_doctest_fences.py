"""Griffe extension for the docs build: fence the doctests written in docstring prose.

A docstring may show a doctest in its running text (at the docstring's left margin, outside a
Google ``Examples:`` section). Markdown would render it as a paragraph, and mkdocs-autorefs
would read doctest output such as ``[('A1', 'a')]`` as a cross-reference ``[...][...]`` and
warn. This extension wraps each such doctest — from its first ``>>>`` line to the next blank
line — in a ```` ```pycon ```` fence, so it renders as code. Docstrings in the source stay as
they are (``python -m doctest`` reads them unchanged); only the text handed to mkdocstrings
changes. Indented doctests (inside a Google section) and already fenced code are left alone.

Loaded by ``mkdocs.yml`` (``plugins: mkdocstrings: handlers: python: options: extensions``).
"""

from __future__ import annotations

from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    """Wrap each doctest that starts at the left margin in a ```` ```pycon ```` fence.

    >>> prompt = ">" * 3
    >>> fence_doctests(f"Text.\\n\\n{prompt} 1 + 1\\n2\\n\\nMore.").split("\\n")
    ['Text.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'More.']
    """
    out: list[str] = []
    in_fence = False
    in_doctest = False
    for line in text.split("\n"):
        stripped = line.lstrip()
        if in_doctest:
            if line.strip():
                out.append(line)
                continue
            out.append("```")
            in_doctest = False
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
        elif not in_fence and (line.startswith(">>> ") or line == ">>>"):
            out.append("```pycon")
            in_doctest = True
        out.append(line)
    if in_doctest:
        out.append("```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence prose doctests in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
