"""A griffe extension: the package's reST-flavoured docstrings, rendered as Markdown.

The docstrings are written for ``help()`` and the source: Google-style sections, with
literal blocks introduced by ``::`` and roles such as ``:class:`Envelope```. mkdocstrings
renders Markdown, so before a docstring is parsed this extension turns each literal block
into a fenced block (``python`` when it parses as Python, ``text`` otherwise) and each role
into inline code. Loaded by ``mkdocs.yml`` (``extensions`` of the Python handler).
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any

import griffe

__all__ = ["RstDocstrings", "to_markdown"]

_INTRO = re.compile(r"^(?P<indent>\s*)(?P<text>.*\S)::$")
_ROLE = re.compile(r":(?:attr|class|data|exc|func|meth|mod|obj):`~?(?P<name>[^`]+)`")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _language(code: str) -> str:
    try:
        ast.parse(code)
    except SyntaxError:
        return "text"
    return "python"


def to_markdown(text: str) -> str:
    """``text`` with its ``::`` literal blocks fenced and its roles as inline code."""
    lines = _ROLE.sub(r"`\g<name>`", text).splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        intro = _INTRO.match(lines[i])
        if intro is None or i + 1 >= len(lines) or lines[i + 1].strip():
            out.append(lines[i])
            i += 1
            continue
        indent = len(intro["indent"])
        end = i + 1
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
            end += 1
        while end > i + 1 and not lines[end - 1].strip():
            end -= 1
        code = textwrap.dedent("\n".join(lines[i + 1 : end])).strip("\n")
        if not code:
            out.append(lines[i])
            i += 1
            continue
        pad = intro["indent"]
        out += [f"{pad}{intro['text']}:", "", f"{pad}```{_language(code)}"]
        out += [f"{pad}{line}" if line else "" for line in code.splitlines()]
        out.append(f"{pad}```")
        i = end
    return "\n".join(out)


class RstDocstrings(griffe.Extension):
    """Rewrite every docstring of the loaded objects as Markdown."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Convert ``obj``'s docstring as soon as the object is created."""
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
