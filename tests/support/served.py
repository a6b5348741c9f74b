"""Module-level apps for servers started as separate processes by the tests."""

from __future__ import annotations

from tests.support.apps import fastapi_app, starlette_app

starlette = starlette_app()
fastapi = fastapi_app()
