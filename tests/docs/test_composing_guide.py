"""``docs/guide/composing.md``: every Python block runs as written, with its own imports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide" / "composing.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", GUIDE.read_text(), flags=re.DOTALL | re.MULTILINE)


def test_the_guide_has_code_to_run() -> None:
    """The page is found and has Python blocks (the check below is not vacuous)."""
    assert len(BLOCKS) == GUIDE.read_text().count("```python") >= 8


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block-{n}" for n in range(1, len(BLOCKS) + 1)])
def test_block_runs_as_written(code: str) -> None:
    """The block runs in a namespace of its own, its assertions holding."""
    exec(compile(code, f"{GUIDE.name}", "exec"), {"__name__": "guide"})
