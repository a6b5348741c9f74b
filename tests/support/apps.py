"""The sample apps the tests drive: the same routes in Starlette and in FastAPI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI
from fastapi import HTTPException as FastAPIHTTPException
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import ASGIApp

from opsgenie_envelope import (
    EnvelopeMiddleware,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    get_request_id,
    read_json,
    set_message,
)

AppFactory = Callable[..., ASGIApp]
"""Builds a sample app behind the middleware; keywords are the middleware's options."""

ALERT = {"id": "70413a06-38d6-4c85-92b8-5ebc900d42e2", "message": "Our servers are in danger"}
log = logging.getLogger("tests.support.apps")


async def _chunks() -> AsyncIterator[bytes]:
    yield b'[{"n":'
    yield b"1},"
    yield b'{"n":2}]'


async def _failing_chunks() -> AsyncIterator[bytes]:
    yield b'[{"n":1},'
    raise RuntimeError("stream broke: secret-token-123")


async def _failing_before_first_chunk() -> AsyncIterator[bytes]:
    raise RuntimeError("never started: secret-token-123")
    yield b""  # pragma: no cover


async def _text_chunks() -> AsyncIterator[bytes]:
    yield b"plain text, "
    yield b"labelled as JSON"


async def _failing_task() -> None:
    raise RuntimeError("background job failed: secret-token-123")


def _shared_response(name: str) -> Response:
    """Responses that read the same in both frameworks."""
    if name == "html":
        return HTMLResponse("<h1>hello</h1>")
    if name == "text":
        return PlainTextResponse("plain")
    if name == "stream":
        return StreamingResponse(_chunks(), media_type="application/json")
    if name == "ndjson":
        return StreamingResponse(_chunks(), media_type="application/x-ndjson")
    if name == "stream-fails":
        return StreamingResponse(_failing_chunks(), media_type="application/json")
    if name == "stream-fails-early":
        return StreamingResponse(_failing_before_first_chunk(), media_type="application/json")
    if name == "no-content":
        return Response(status_code=204)
    if name == "not-modified":
        return Response(status_code=304, headers={"etag": '"x"'})
    if name == "gzip":
        return Response(
            b"\x1f\x8bfake", media_type="application/json", headers={"content-encoding": "gzip"}
        )
    if name == "enveloped":
        return Response(
            b'{"data":{"a":1},"took":0.1,"requestId":"upstream-1"}', media_type="application/json"
        )
    if name == "empty-json":
        return Response(b"", media_type="application/json")
    if name == "created":
        set_message("Alert created")
        return JSONResponse(ALERT, status_code=201, headers={"location": "/v2/alerts/1"})
    if name == "list":
        return JSONResponse([1, 2, 3])
    if name == "null":
        return JSONResponse(None)
    if name == "forged-headers":
        return JSONResponse(ALERT, headers={"x-request-id": "forged", "x-response-time": "9"})
    if name == "text-error":
        return PlainTextResponse("Quota exceeded for this key", status_code=402)
    if name == "not-json":
        return Response(b"<html>oops</html>", media_type="application/json")
    if name == "not-json-stream":
        return StreamingResponse(_text_chunks(), media_type="application/json")
    if name == "background-fails":
        return JSONResponse({"queued": True}, background=BackgroundTask(_failing_task))
    if name == "html-error":
        return HTMLResponse("<h1>Traceback at /srv/app.py</h1>", status_code=502)
    raise KeyError(name)


def _raise(name: str) -> None:
    if name == "not-found":
        raise NotFound("Alert does not exist")
    if name == "http-exception":
        raise HTTPException(409, "Alias already used", headers={"x-hint": "rename"})
    if name == "throttled":
        raise TooManyRequests(retry_after=2.5, reason="API_KEY", period=60)
    if name == "unavailable":
        raise ServiceUnavailable(retry_after=0.2)
    if name == "boom":
        raise RuntimeError("database password is hunter2")
    if name == "bad-json":
        import json

        json.loads("{bad")


def starlette_app(**options: Any) -> Starlette:
    """A Starlette app with the middleware; ``options`` go to the middleware."""

    async def alert(request: Request) -> Response:
        log.info("serving alert")
        return JSONResponse(
            {
                **ALERT,
                "seen": get_request_id(),
                "scope": request.scope.get("opsgenie_envelope.request_id"),
            }
        )

    async def shared(request: Request) -> Response:
        return _shared_response(request.path_params["name"])

    async def fail(request: Request) -> Response:
        _raise(request.path_params["name"])
        return JSONResponse({})

    async def echo(request: Request) -> Response:
        return JSONResponse(await request.json())

    async def echo_safe(request: Request) -> Response:
        return JSONResponse(await read_json(request))

    routes = [
        Route("/v2/alerts/1", alert),
        Route("/r/{name}", shared),
        Route("/fail/{name}", fail),
        Route("/echo", echo, methods=["POST", "GET"]),
        Route("/echo-safe", echo_safe, methods=["POST"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(EnvelopeMiddleware, **options)])


class AlertIn(BaseModel):
    """A request body for the FastAPI sample app."""

    message: str
    priority: int = 3


def fastapi_app(**options: Any) -> FastAPI:
    """A FastAPI app with the middleware; ``options`` go to the middleware."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware, **options)

    @app.get("/v2/alerts/1")
    async def alert(request: Request) -> dict[str, Any]:
        log.info("serving alert")
        return {
            **ALERT,
            "seen": get_request_id(),
            "scope": request.scope.get("opsgenie_envelope.request_id"),
        }

    @app.get("/r/{name}")
    async def shared(name: str) -> Response:
        return _shared_response(name)

    @app.get("/fail/{name}")
    async def fail(name: str) -> dict[str, Any]:
        if name == "fastapi-http-exception":
            raise FastAPIHTTPException(409, "Alias already used", headers={"x-hint": "rename"})
        _raise(name)
        return {}

    @app.post("/echo")
    async def echo(body: AlertIn) -> AlertIn:
        return body

    @app.get("/sync")
    def sync_handler() -> dict[str, Any]:
        return {"seen": get_request_id()}

    @app.post("/accepted", status_code=202)
    def accepted() -> None:
        set_message("Request will be processed")

    return app
