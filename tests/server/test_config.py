"""Configuration is validated once, at construction, with errors naming the option."""

from __future__ import annotations

import dataclasses
import re
from itertools import takewhile
from pathlib import Path
from typing import Any

import pytest

from opsgenie_envelope import EnvelopeConfig, EnvelopeMiddleware, EnvelopeOptions
from tests.support.apps import starlette_app
from tests.support.asgi import make_client


async def _app(scope: Any, receive: Any, send: Any) -> None:
    """A do-nothing ASGI app."""


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"generator": "uuid"}, TypeError, "generator"),
        ({"validator": None}, TypeError, "validator"),
        ({"trust_incoming_id": "yes"}, TypeError, "trust_incoming_id"),
        ({"negotiate": 1}, TypeError, "negotiate"),
        ({"require_json_body": None}, TypeError, "require_json_body"),
        ({"debug": "false"}, TypeError, "debug"),
        ({"message_key": "text"}, ValueError, "message_key"),
        ({"exclude_paths": "/docs"}, TypeError, "exclude_paths"),
        ({"exclude_paths": ["docs"]}, ValueError, "exclude_paths"),
        ({"exclude_paths": [1]}, TypeError, "exclude_paths"),
    ],
)
def test_bad_option_is_refused_at_construction(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Each bad option raises at construction, naming the option."""
    with pytest.raises(error, match=match):
        EnvelopeMiddleware(_app, **options)


def test_unknown_option_is_refused() -> None:
    """A misspelt option is a TypeError, not silently ignored."""
    with pytest.raises(TypeError):
        EnvelopeMiddleware(_app, negociate=True)  # type: ignore[call-arg]


def test_app_must_be_callable() -> None:
    """The wrapped app must be an ASGI callable."""
    with pytest.raises(TypeError, match="app"):
        EnvelopeMiddleware("not an app")  # type: ignore[arg-type]


def test_defaults() -> None:
    """Defaults: own IDs, negotiation on, enforcement off, the app's docs URLs excluded."""
    config = EnvelopeMiddleware(_app).config
    assert config.trust_incoming_id is False
    assert config.negotiate is True
    assert config.require_json_body is False
    assert config.message_key == "message"
    assert config.exclude_paths is None


def test_config_is_frozen_and_normalised() -> None:
    """The config is immutable and exclude paths become a frozenset."""
    config = EnvelopeConfig(exclude_paths=["/a", "/b"])
    assert config.exclude_paths == frozenset({"/a", "/b"})
    with pytest.raises(AttributeError):
        config.debug = True  # type: ignore[misc]


def test_config_object_can_be_passed() -> None:
    """A prepared config object is used as is."""
    config = EnvelopeConfig(debug=True)
    assert EnvelopeMiddleware(_app, config=config).config is config


def test_middleware_keeps_no_request_state() -> None:
    """Serving requests leaves the middleware's attributes as they were after the first."""
    import asyncio

    app = starlette_app()
    app.middleware_stack = app.build_middleware_stack()
    middleware = app.middleware_stack
    while not isinstance(middleware, EnvelopeMiddleware):
        middleware = middleware.app  # type: ignore[attr-defined]

    async def run(paths: list[str]) -> None:
        async with make_client(app) as client:
            for path in paths:
                await client.get(path)

    asyncio.run(run(["/v2/alerts/1"]))  # the one-time read of the app's docs URLs
    before = dict(vars(middleware))
    asyncio.run(run(["/v2/alerts/1", "/fail/not-found", "/fail/boom", "/r/stream", "/r/created"]))
    assert vars(middleware) == before


def test_config_and_options_together_are_refused() -> None:
    """Options beside a config object would be ignored, so the pair is refused."""
    with pytest.raises(TypeError, match="either config or"):
        EnvelopeMiddleware(_app, config=EnvelopeConfig(), negotiate=False)


def test_config_must_be_a_config() -> None:
    """``config`` takes an EnvelopeConfig only."""
    with pytest.raises(TypeError, match="EnvelopeConfig"):
        EnvelopeMiddleware(_app, config={"debug": True})  # type: ignore[arg-type]


OPTIONS_TABLE = "| option | type | default | meaning |"


def _documented_options() -> dict[str, str]:
    """Option name → type, from the options table of the docs (wherever it lives)."""
    root = Path(__file__).resolve().parents[2]
    for page in [root / "README.md", *sorted((root / "docs").rglob("*.md"))]:
        if not page.is_file():
            continue
        lines = page.read_text().splitlines()
        if OPTIONS_TABLE not in lines:
            continue
        rows = lines[lines.index(OPTIONS_TABLE) + 2 :]
        cells = [re.split(r"(?<!\\)\|", row)[1:3] for row in takewhile(str.strip, rows)]
        return {name.strip(" `"): kind.strip(" `").replace("\\|", "|") for name, kind in cells}
    raise AssertionError("no options table in the docs")


def test_options_are_defined_once() -> None:
    """``EnvelopeOptions`` (the keywords) names and types each ``EnvelopeConfig`` field."""
    fields = {field.name: field.type for field in dataclasses.fields(EnvelopeConfig)}
    keywords = {name: ref.__forward_arg__ for name, ref in EnvelopeOptions.__annotations__.items()}
    assert keywords == fields
    assert EnvelopeOptions.__total__ is False


def test_documented_options_are_the_real_ones() -> None:
    """The docs' options table lists every option with its type, and ``config``."""
    fields = {field.name: field.type for field in dataclasses.fields(EnvelopeConfig)}
    assert _documented_options() == fields | {"config": "EnvelopeConfig | None"}
