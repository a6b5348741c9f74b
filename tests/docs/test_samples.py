"""Every code block of the README and of docs/: Python runs as written, the rest is marked.

pytest-examples finds and runs the Python blocks (each as its own module, as a reader would
paste it); markdown-it-py lists every fenced block, so a block that is not Python must say
what it is, and no Python block goes unrun. JSON, HTTP, YAML and TOML blocks are parsed, the
JSON and HTTP ones held to the wire contract; console sessions are run for real by
``test_sessions.py``.
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
import structlog
import yaml
from pytest_examples import CodeExample, EvalExample, find_examples

from tests.support.sessions import Block, blocks

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
EXAMPLES = [example for page in PAGES for example in find_examples(page)]
BLOCKS = [block for page in PAGES for block in blocks(page)]
LANGUAGES = {
    "python": "run by test_python_block_runs",
    "console": "a shell session, run for real by test_sessions.py",
    "http": "an HTTP answer, checked by test_http_block_is_an_envelope_answer",
    "json": "a JSON body, checked by test_json_block_follows_the_wire",
    "yaml": "an OpenAPI excerpt, checked by test_yaml_block_is_yaml",
    "toml": "a pyproject.toml excerpt, checked by test_toml_block_is_toml",
    "sh": "shell commands (install, serve, test)",
    "text": "program output or an error message",
}
# The wire contract's key order: success envelopes, then error envelopes.
SUCCESS_KEYS = ["data", "message", "result", "expandable", "paging", "totalCount", "took"]
ERROR_KEYS = ["code", "message", "errors", "took"]


def _of(language: str) -> list[Block]:
    return [block for block in BLOCKS if block.language == language]


@pytest.fixture
def isolated() -> Iterator[None]:
    """What a sample sets up globally (log handlers, structlog, Sentry) is undone after it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    if sentry_sdk.get_client().is_active():
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


@pytest.mark.usefixtures("isolated")
@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_python_block_runs(example: CodeExample, eval_example: EvalExample) -> None:
    """The block has no undefined or unused name (ruff) and runs as written."""
    eval_example.set_config(ruff_select=["F", "E", "W", "B", "UP"], ruff_line_length=100)
    eval_example.lint_ruff(example)
    eval_example.run(example)


def test_every_block_names_a_known_language() -> None:
    """Each fenced block says what it is: Python, or one of the kinds checked otherwise."""
    unmarked = [
        f"{block} {block.language!r}" for block in BLOCKS if block.language not in LANGUAGES
    ]
    assert unmarked == []


def test_every_python_block_is_run() -> None:
    """The Python blocks markdown-it reads are exactly those pytest-examples runs."""
    fenced = {(block.page, block.line) for block in _of("python")}
    assert fenced == {(example.path, example.start_line) for example in EXAMPLES}
    assert len(fenced) >= 20


def _json_values(text: str) -> list[Any]:
    """The JSON documents of a block, one after the other."""
    decoder, values, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        while at < len(text) and text[at].isspace():
            at += 1
    return values


def _follows_the_wire(body: Any) -> None:
    """An envelope's keys come in the contract's order, ``took`` and ``requestId`` last."""
    assert isinstance(body, dict)
    if "requestId" not in body:
        return  # a handler's own payload, before the middleware wraps it
    keys = list(body)[:-1]
    orders = ([key for key in order if key in body] for order in (SUCCESS_KEYS, ERROR_KEYS))
    assert keys in list(orders), list(body)
    assert list(body)[-2:] == ["took", "requestId"]
    assert isinstance(body["took"], float)


@pytest.mark.parametrize("block", _of("json"), ids=str)
def test_json_block_follows_the_wire(block: Block) -> None:
    """A JSON block parses, and an envelope in it has the contract's keys in order."""
    for body in _json_values(block.content):
        _follows_the_wire(body)


@pytest.mark.parametrize("block", _of("http"), ids=str)
def test_http_block_is_an_envelope_answer(block: Block) -> None:
    """An HTTP answer: a status line, headers, an envelope that agrees with its headers."""
    head, _, body = block.content.partition("\n\n")
    status, *lines = head.splitlines()
    assert status.startswith("HTTP/1.1 ")
    assert status.split()[1].isdigit()
    headers = dict(line.split(": ", 1) for line in lines)
    assert all(name == name.lower() for name in headers)
    (envelope,) = _json_values(body)
    _follows_the_wire(envelope)
    if "x-request-id" in headers:
        assert headers["x-request-id"] == envelope["requestId"]
    if "x-response-time" in headers:
        assert float(headers["x-response-time"]) == envelope["took"]


@pytest.mark.parametrize("block", _of("yaml"), ids=str)
def test_yaml_block_is_yaml(block: Block) -> None:
    """A YAML block parses to a mapping."""
    assert isinstance(yaml.safe_load(block.content), dict)


@pytest.mark.parametrize("block", _of("toml"), ids=str)
def test_toml_block_is_toml(block: Block) -> None:
    """A TOML block parses to a table with at least one key."""
    assert tomllib.loads(block.content)
