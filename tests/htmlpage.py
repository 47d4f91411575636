"""A small HTML structure check shared by the tests of the rendered pages.

``parse(page)`` returns the page's text, tags and attributes (entities decoded as a browser
would) and every unbalanced tag, for the draw record and the publication page alike::

    from htmlpage import parse

    doc = parse(page)
    assert doc.errors == [] and doc.stack == []
"""

from __future__ import annotations

from html.parser import HTMLParser

__all__ = ["Page", "parse"]


class Page(HTMLParser):
    """Text and tag structure of a page."""

    VOID = frozenset({"meta", "br", "col", "img", "link", "hr", "input"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []

    @property
    def attr_names(self) -> set[str]:
        """The names of every attribute used."""
        return {name for name, _ in self.attrs}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.extend(attrs)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Page:
    doc = Page()
    doc.feed(page)
    doc.close()
    return doc
