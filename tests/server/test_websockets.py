"""WebSockets: the request ID works in websocket handlers and their logs, as for HTTP; the
handshake and the messages are otherwise untouched."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi import FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount, WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from opsgenie_envelope import (
    EXPOSE_HEADERS,
    REQUEST_ID_KEY,
    EnvelopeMiddleware,
    RequestIdFilter,
    get_request_id,
)
from opsgenie_envelope.fastapi import install

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
log = logging.getLogger("tests.websockets")


async def _echo_id(websocket: WebSocket) -> None:
    """Accept, log a line, send the request ID the handler sees, close."""
    await websocket.accept()
    log.warning("websocket connected")
    await websocket.send_json({"requestId": get_request_id()})
    await websocket.close()


def _fastapi(**options: object) -> FastAPI:
    app = FastAPI()
    install(app, **options)  # type: ignore[arg-type]
    app.add_api_websocket_route("/ws", _echo_id)
    return app


def _starlette(outer: list[Middleware] | None = None) -> Starlette:
    return Starlette(
        routes=[
            WebSocketRoute("/ws", _echo_id),
            Mount("/sub", routes=[WebSocketRoute("/ws", _echo_id)]),
        ],
        middleware=[*(outer or []), Middleware(EnvelopeMiddleware)],
    )


@pytest.mark.parametrize("build", [_fastapi, _starlette], ids=["fastapi", "starlette"])
def test_handler_sees_a_request_id(build: object) -> None:
    """``get_request_id()`` in a websocket handler is a fresh UUID4 per connection."""
    app = build()  # type: ignore[operator]
    with TestClient(app) as client:
        with client.websocket_connect("/ws") as first:
            first_id = first.receive_json()["requestId"]
        with client.websocket_connect("/ws") as second:
            second_id = second.receive_json()["requestId"]
    assert UUID4.fullmatch(first_id)
    assert UUID4.fullmatch(second_id)
    assert first_id != second_id


def test_log_records_carry_the_id(caplog: pytest.LogCaptureFixture) -> None:
    """``RequestIdFilter`` stamps a websocket handler's log records with its ID."""
    caplog.handler.addFilter(RequestIdFilter())
    try:
        with TestClient(_starlette()) as client, client.websocket_connect("/ws") as ws:
            request_id = ws.receive_json()["requestId"]
    finally:
        caplog.handler.removeFilter(caplog.handler.filters[-1])
    stamped = [r for r in caplog.records if r.getMessage() == "websocket connected"]
    assert [r.request_id for r in stamped] == [request_id]  # type: ignore[attr-defined]


def test_handler_in_a_mounted_router_sees_the_id() -> None:
    """A websocket route below a mount sees the ID too."""
    with TestClient(_starlette()) as client, client.websocket_connect("/sub/ws") as ws:
        assert UUID4.fullmatch(ws.receive_json()["requestId"])


@pytest.mark.parametrize("order", ["cors-then-gzip", "gzip-then-cors"])
def test_handler_sees_the_id_behind_cors_and_gzip(order: str) -> None:
    """With CORS and GZip around the envelope, in both orders, websockets work the same."""
    cors = Middleware(CORSMiddleware, allow_origins=["*"], expose_headers=EXPOSE_HEADERS)
    gzip = Middleware(GZipMiddleware)
    outer = [cors, gzip] if order == "cors-then-gzip" else [gzip, cors]
    with TestClient(_starlette(outer)) as client, client.websocket_connect("/ws") as ws:
        assert UUID4.fullmatch(ws.receive_json()["requestId"])


def test_trusted_incoming_id_is_used() -> None:
    """With ``trust_incoming_id``, a valid ``X-Request-ID`` on the handshake is the ID."""
    app = _fastapi(trust_incoming_id=True)
    headers = {"X-Request-ID": "01J9Z8Q4K2M7X3V5N6B8C0D1E2"}
    with TestClient(app) as client, client.websocket_connect("/ws", headers=headers) as ws:
        assert ws.receive_json()["requestId"] == "01J9Z8Q4K2M7X3V5N6B8C0D1E2"


@pytest.mark.anyio
async def test_handshake_and_messages_are_untouched() -> None:
    """Accept (with its headers and subprotocol), messages and close pass as the app sent them."""
    seen: list[str | None] = []
    app_sent: list[Message] = [
        {"type": "websocket.accept", "subprotocol": "v1", "headers": [(b"x-proto", b"1")]},
        {"type": "websocket.send", "text": "hello"},
        {"type": "websocket.close", "code": 1000, "reason": ""},
    ]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        seen.append(get_request_id())
        for message in app_sent:
            await send(message)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    scope: Scope = {"type": "websocket", "path": "/ws", "headers": [], "subprotocols": ["v1"]}
    await EnvelopeMiddleware(app)(scope, receive, send)
    assert sent == app_sent
    assert seen == [scope[REQUEST_ID_KEY]]
    assert get_request_id() is None  # reset once the connection is over
