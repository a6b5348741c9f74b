"""The wire constants: one source of truth for the server, the OpenAPI document and the client."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI

from opsgenie_envelope import Page, Pager
from opsgenie_envelope import _wire as wire
from opsgenie_envelope.fastapi import envelope, install, query
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio

PACKAGE = Path(__file__).resolve().parents[2] / "opsgenie_envelope"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _code_strings(tree: ast.AST) -> set[str]:
    """String literals in code, docstrings left out."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    }


def _imported_modules(tree: ast.AST) -> set[str]:
    """Top-level names of the modules a module imports (absolute imports only)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_client_imports_httpx(path: Path) -> None:
    """No module outside ``client/`` imports httpx (read from its imports, not by running it)."""
    imported = _imported_modules(ast.parse(path.read_text()))
    inside_client = path.parent.name == "client"
    assert inside_client or "httpx" not in imported


def test_the_client_does_import_httpx() -> None:
    """The check above is not vacuous: the client's modules do import httpx."""
    client = [p for p in MODULES if p.parent.name == "client"]
    assert any("httpx" in _imported_modules(ast.parse(p.read_text())) for p in client)


WIRE_LITERALS = {
    wire.REQUEST_ID_HEADER,
    wire.RESPONSE_TIME_HEADER,
    wire.RETRY_AFTER_HEADER,
    wire.RATE_LIMIT_STATE_HEADER,
    wire.RATE_LIMIT_REASON_HEADER,
    wire.RATE_LIMIT_PERIOD_HEADER,
    wire.REQUEST_ID_PATTERN,
    wire.FIELD_NAME_PATTERN,
    wire.REQUEST_ID,
    wire.TOTAL_COUNT,
    *wire.PAGING_HEADERS.values(),
}


@pytest.mark.parametrize(
    "path", [p for p in MODULES if p.name != "_wire.py"], ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_wire_names_are_written_only_in_wire(path: Path) -> None:
    """Header names, envelope keys and patterns appear as literals in ``_wire.py`` alone."""
    strings = _code_strings(ast.parse(path.read_text()))
    lowered = {s.lower() for s in strings}
    assert not strings & WIRE_LITERALS
    assert not lowered & {name.lower() for name in WIRE_LITERALS if name.startswith("X-")}


PAGES = Pager()


def _paged_app() -> FastAPI:
    app = FastAPI()
    install(app, trust_incoming_id=True)

    @app.get("/v2/alerts", openapi_extra=envelope(paged=True))
    async def alerts(page: Annotated[Page, Depends(query(PAGES))]) -> list[dict[str, Any]]:
        return page.items([{"n": n} for n in range(page.offset, page.offset + page.limit)])

    return app


def _parameter(doc: dict[str, Any], name: str) -> dict[str, Any]:
    parameters = doc["paths"]["/v2/alerts"]["get"]["parameters"]
    return next(p for p in parameters if p["name"] == name)


async def test_documented_page_limits_are_the_served_ones() -> None:
    """The document's ``limit`` bounds are ``DEFAULT_LIMIT``/``MAX_LIMIT``, as served."""
    app = _paged_app()
    limit = _parameter(app.openapi(), wire.LIMIT)["schema"]
    assert (limit["default"], limit["maximum"]) == (wire.DEFAULT_LIMIT, wire.MAX_LIMIT)
    async with make_client(app) as client:
        default = await client.get("/v2/alerts")
        largest = await client.get("/v2/alerts", params={"limit": wire.MAX_LIMIT})
        beyond = await client.get("/v2/alerts", params={"limit": wire.MAX_LIMIT + 1})
    assert len(default.json()["data"]) == wire.DEFAULT_LIMIT
    assert len(largest.json()["data"]) == wire.MAX_LIMIT
    assert beyond.status_code == 416


async def test_documented_request_id_pattern_is_the_allowlist() -> None:
    """``X-Request-ID``'s documented pattern is the allowlist the middleware applies."""
    app = _paged_app()
    doc = app.openapi()
    header = doc["components"]["headers"][wire.REQUEST_ID_HEADER]
    assert header["schema"]["pattern"] == f"^{wire.REQUEST_ID_PATTERN}$"
    longest = "a" * wire.REQUEST_ID_MAX_LENGTH
    async with make_client(app) as client:
        kept = await client.get("/v2/alerts", headers={wire.REQUEST_ID_HEADER: longest})
        replaced = await client.get("/v2/alerts", headers={wire.REQUEST_ID_HEADER: longest + "a"})
    assert kept.headers[wire.REQUEST_ID_HEADER] == longest
    assert replaced.headers[wire.REQUEST_ID_HEADER] != longest + "a"


async def test_documented_header_names_are_the_ones_sent() -> None:
    """The headers the document describes are the ones a paged answer carries."""
    app = _paged_app()
    doc = app.openapi()
    documented = set(doc["paths"]["/v2/alerts"]["get"]["responses"]["200"]["headers"])
    async with make_client(app) as client:
        answer = await client.get("/v2/alerts", params={"offset": 20})
    sent = {name.lower() for name in answer.headers}
    expected = {wire.REQUEST_ID_HEADER, wire.RESPONSE_TIME_HEADER, *wire.PAGING_HEADERS.values()}
    assert documented >= expected
    assert {name.lower() for name in expected} - {"x-paging-last"} <= sent
