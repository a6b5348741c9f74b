"""Query parameters as plain data: the core without FastAPI, and FastAPI's dependencies from it."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from starlette.requests import Request

import opsgenie_envelope
from opsgenie_envelope import Expander, Pager, QueryParameter, QueryParameters
from opsgenie_envelope.fastapi import install, query, query_dependency
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio

PACKAGE = Path(opsgenie_envelope.__file__).parent
INTEGRATIONS = {"fastapi.py"}


def _imports(path: Path) -> set[str]:
    """Every module a source file imports, relative ones as ``.name``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.add(base)
            found.update(f"{base}.{alias.name}".replace("..", ".") for alias in node.names)
    return found


def test_core_modules_never_import_fastapi() -> None:
    """No module but ``fastapi.py`` imports ``fastapi`` or the FastAPI integration."""
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            name
            for name in _imports(path)
            if name.split(".")[0] == "fastapi" or name.lstrip(".").split(".")[0] == "fastapi"
        )
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in INTEGRATIONS or path.parent != PACKAGE
    }
    assert {module: names for module, names in offenders.items() if names} == {}


CORE_WITHOUT_FASTAPI = """
import asyncio, sys
sys.modules["fastapi"] = None  # any import of FastAPI now fails

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from opsgenie_envelope import CursorPager, EnvelopeMiddleware, Expander, Pager

pages = Pager(sort_fields=["n"])
expand = Expander({"double": lambda item, request: item["n"] * 2})
assert [p.name for p in pages.query_parameters.parameters] == ["offset", "limit", "sort", "order"]
assert [p.name for p in expand.query_parameters.parameters] == ["expand"]
cursor_parameters = CursorPager().query_parameters.parameters
assert [p.name for p in cursor_parameters] == ["offset", "direction", "order", "limit"]

async def items(request):
    page = pages.parse(request)
    rows = [{"n": n} for n in range(5)][page.offset : page.offset + page.limit]
    return page.response(await expand.apply(request, rows), total=5)

app = Starlette(routes=[Route("/items", items)], middleware=[Middleware(EnvelopeMiddleware)])

async def main():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.get("/items?limit=2&expand=double")
        bad = await client.get("/items?limit=500")
    print(ok.status_code, ok.json()["data"], ok.json()["paging"]["next"], bad.status_code)
    print(sorted(m for m in sys.modules if m.startswith(("fastapi", "opsgenie_envelope.fastapi"))))

asyncio.run(main())
"""


def test_pager_and_expander_work_without_fastapi() -> None:
    """With ``fastapi`` unimportable, a Starlette app pages and expands as usual."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CORE_WITHOUT_FASTAPI)],
        capture_output=True,
        text=True,
        check=True,
    )
    answer, modules = out.stdout.strip().splitlines()
    assert answer == (
        "200 [{'n': 0, 'double': 0}, {'n': 1, 'double': 2}] /items?offset=2&limit=2&expand=double 416"
    )
    assert modules == "['fastapi']"  # only the blocked entry, never loaded


def test_query_parameters_refuse_a_repeated_name() -> None:
    """Two parameters of one name are refused when described."""

    async def resolve(request: Request, a: int) -> int:
        return a

    with pytest.raises(ValueError, match="once"):
        QueryParameters(
            (QueryParameter("a", "integer"), QueryParameter("a", "string")), resolve, int
        )


def test_query_parameters_refuse_a_reserved_name() -> None:
    """``request`` and ``response`` are the resolver's own arguments, not parameters."""

    async def resolve(request: Request) -> int:
        return 0

    with pytest.raises(ValueError, match="'request' is a reserved name"):
        QueryParameters((QueryParameter("request", "string"),), resolve, int)


def test_query_takes_only_what_describes_parameters() -> None:
    """``query(x)`` of something without ``query_parameters`` is a ``TypeError``."""
    with pytest.raises(TypeError, match="Pager, an Expander"):
        query(object())  # type: ignore[arg-type]


def test_one_source_gives_one_dependency() -> None:
    """The same pager always gives the same dependency: FastAPI resolves it once a request."""
    pages = Pager()
    assert query(pages) is query(pages)
    assert query(pages) is not query(Pager())
    assert query(Expander({})) is not query(pages)  # type: ignore[comparison-overlap]


async def _order(
    request: Request, order: str, tags: list[str], size: int | None, cursor: str | None
) -> dict[str, Any]:
    """Echo the checked values."""
    return {"order": order, "tags": tags, "size": size, "cursor": cursor}


ORDERED = QueryParameters(
    (
        QueryParameter(
            "order", "string", default="desc", description="Order.", enum=("asc", "desc")
        ),
        QueryParameter("tags", "string", default=(), known=("a", "b"), repeated=True),
        QueryParameter("size", "integer", minimum=1, maximum=9),
        QueryParameter("cursor", "string", max_length=8),
    ),
    _order,
    returns=dict,
)


def _ordered_app() -> FastAPI:
    """A route depending on :data:`ORDERED`."""
    app = FastAPI()
    install(app)

    @app.get("/things")
    async def things(
        got: Annotated[dict[str, Any], Depends(query_dependency(ORDERED))],
    ) -> dict[str, Any]:
        return got

    return app


async def test_described_parameters_are_read_and_checked() -> None:
    """Values reach the resolver typed; a value outside ``enum`` is FastAPI's 422."""
    async with make_client(_ordered_app()) as client:
        ok = await client.get("/things?order=asc&tags=a&tags=z&size=12")
        bad = await client.get("/things?order=up")
    assert ok.json()["data"] == {"order": "asc", "tags": ["a", "z"], "size": 12, "cursor": None}
    assert bad.status_code == 422
    assert list(bad.json()["errors"]) == ["order"]


def test_described_parameters_are_documented() -> None:
    """Descriptions, defaults, enums, known values and bounds reach the OpenAPI document."""
    operation = _ordered_app().openapi()["paths"]["/things"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["order"]["description"] == "Order."
    assert parameters["order"]["schema"]["enum"] == ["asc", "desc"]
    assert parameters["order"]["schema"]["default"] == "desc"
    assert parameters["tags"]["schema"]["items"] == {"type": "string", "enum": ["a", "b"]}
    size = parameters["size"]["schema"]
    assert (size["minimum"], size["maximum"]) == (1, 9)
    assert {"type": "null"} in size["anyOf"]
    assert parameters["cursor"]["schema"]["maxLength"] == 8
