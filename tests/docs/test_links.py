"""The README's links, as GitHub resolves them: relative to the root of the repository.

The site checks its own links (``mkdocs build --strict``), the README's snippets included;
the rest of the README is read on GitHub only, so its relative links are checked here.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _links() -> list[str]:
    tokens = MarkdownIt("commonmark").parse(README.read_text(encoding="utf-8"))
    inline = [child for token in tokens for child in token.children or []]
    return [str(t.attrs["href"]) for t in inline if t.type == "link_open" and "href" in t.attrs]


def _anchors() -> set[str]:
    tokens = MarkdownIt("commonmark").parse(README.read_text(encoding="utf-8"))
    return {_slug(tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"}


def test_readme_links_name_files_and_headings_that_exist() -> None:
    """Each relative link names a file of the repository, each anchor a heading of the README."""
    relative = [link for link in _links() if not urlsplit(link).scheme]
    assert len(relative) >= 5
    missing = [
        link
        for link in relative
        if (link.startswith("#") and link[1:] not in _anchors())
        or (not link.startswith("#") and not (ROOT / urlsplit(link).path).is_file())
    ]
    assert missing == []
