"""Shared fixtures: the sample Starlette and FastAPI apps behind the middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.apps import AppFactory, fastapi_app, starlette_app
from tests.support.asgi import make_client


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio only."""
    return "asyncio"


@pytest.fixture(params=["starlette", "fastapi"])
def make_app(request: pytest.FixtureRequest) -> AppFactory:
    """The sample app factory, once for Starlette and once for FastAPI."""
    return starlette_app if request.param == "starlette" else fastapi_app


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the sample app with default options."""
    async with make_client(make_app()) as c:
        yield c
