"""The exchange's body handlers, each driven alone with ASGI messages (no app, no server).

An :class:`Exchange` is built around a middleware whose clock and request IDs are fixed, so
every byte sent is known; the handler picked at the start gets the body messages directly.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from starlette.types import Message, Receive, Scope, Send

from opsgenie_envelope import EnvelopeMiddleware
from opsgenie_envelope._exchange import (
    PASS_THROUGH,
    PENDING_SPLICE,
    CaptureError,
    CaptureRedirect,
    Exchange,
    Splice,
)
from opsgenie_envelope._render import splice_whole
from tests.support.asgi import header, make_scope

pytestmark = pytest.mark.anyio

RID = "req-1"
ENVELOPE_TAIL = b',"took":0.0,"requestId":"req-1"}'


async def _never_called(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the handlers are driven without the app")  # pragma: no cover


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}  # pragma: no cover


def _exchange(path: str = "/v2/alerts", **options: Any) -> tuple[Exchange, list[Message]]:
    """An exchange whose ID is ``req-1`` and whose ``took`` is 0.0; and what it sends."""
    middleware = EnvelopeMiddleware(
        _never_called, generator=lambda: RID, clock=lambda: 0.0, **options
    )
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    exchange = Exchange(middleware, make_scope(path), _no_body, send)
    exchange.took = b"0.0"  # what the start fixes: the handlers below are given it directly
    return exchange, sent


def _start(status: int, content_type: bytes | None, *extra: tuple[bytes, bytes]) -> Message:
    headers = [(b"content-type", content_type)] if content_type else []
    return {"type": "http.response.start", "status": status, "headers": [*headers, *extra]}


def _body(body: bytes, more: bool = False) -> Message:
    return {"type": "http.response.body", "body": body, "more_body": more}


@pytest.mark.parametrize(
    ("status", "content_type", "picked"),
    [
        (200, b"application/json", PENDING_SPLICE),
        (201, b"application/json; charset=utf-8", PENDING_SPLICE),
        (200, b"text/html", PASS_THROUGH),
        (204, None, PASS_THROUGH),
        (206, b"application/json", PASS_THROUGH),
        (302, None, CaptureRedirect),
        (404, b"text/plain", CaptureError),
        (503, b"application/json", CaptureError),
    ],
)
async def test_the_start_picks_one_handler(
    status: int, content_type: bytes | None, picked: object
) -> None:
    """Each start picks one body handler: splice, pass through, capture error or redirect."""
    exchange, sent = _exchange()
    await exchange.send(_start(status, content_type))
    if picked is PASS_THROUGH:
        assert exchange.handler is PASS_THROUGH
        assert sent[0]["status"] == status  # a pass-through start goes out at once
    elif picked is PENDING_SPLICE:
        assert exchange.handler is PENDING_SPLICE  # the start is held on the exchange
        assert exchange.held_start["status"] == status
        assert sent == []
    else:
        assert isinstance(picked, type)
        assert type(exchange.handler) is picked
        assert sent == []  # held back until the body shows what to send


async def test_pass_through_sends_each_message_untouched() -> None:
    """The pass-through handler sends the very message it gets, and holds nothing."""
    exchange, sent = _exchange()
    message = _body(b"<p>hi</p>", more=True)
    await PASS_THROUGH.send(exchange, message)
    await PASS_THROUGH.pass_through(exchange, None)
    assert sent == [message]
    assert sent[0] is message


async def test_splice_wraps_one_whole_body_in_one_message() -> None:
    """One whole JSON body: one start with the final headers, the same message, spliced."""
    exchange, sent = _exchange()
    start = _start(200, b"application/json", (b"content-length", b"11"))
    splice = Splice(start, [(b"content-type", b"application/json")], b"11", b"")
    message = _body(b'{"id":"1"}')
    await splice.send(exchange, message)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1] is message  # the app's message carries the envelope: no new one
    assert message["body"] == b'{"data":{"id":"1"}' + ENVELOPE_TAIL
    assert message["body"] == splice_whole(b'{"id":"1"}', b"", b"0.0", RID.encode())
    assert header(sent[0], b"content-length") == [b"%d" % len(message["body"])]
    assert header(sent[0], b"x-request-id") == [RID.encode()]
    assert header(sent[0], b"x-response-time") == [b"0.0"]
    assert exchange.started


async def test_the_exchange_splices_one_whole_body_as_splice_does() -> None:
    """The exchange's own one-body splice sends what a :class:`Splice` alone sends."""
    inline, inline_sent = _exchange()
    await inline.send(_start(200, b"application/json", (b"content-length", b"10")))
    await inline.send(_body(b'{"id":"1"}'))
    assert inline.handler is PENDING_SPLICE  # no Splice was built
    alone, alone_sent = _exchange()
    splice = Splice(
        _start(200, b"application/json"), [(b"content-type", b"application/json")], b"10", b""
    )
    await splice.send(alone, _body(b'{"id":"1"}'))
    assert inline_sent == alone_sent


async def test_a_held_start_hands_a_stream_to_a_splice() -> None:
    """A first body message that is not one whole body builds the Splice that takes over."""
    exchange, sent = _exchange()
    await exchange.send(_start(200, b"application/json"))
    await exchange.send(_body(b"[1,", more=True))
    assert type(exchange.handler) is Splice
    await exchange.send(_body(b"2]"))
    assert orjson.loads(b"".join(m["body"] for m in sent[1:]))["data"] == [1, 2]


async def test_splice_puts_the_optional_keys_before_took() -> None:
    """The rendered optional keys (``message``, ...) go between the payload and ``took``."""
    exchange, sent = _exchange()
    splice = Splice(_start(201, b"application/json"), [], None, b',"message":"Created"')
    await splice.send(exchange, _body(b'{"id":"1"}'))
    assert sent[1]["body"] == b'{"data":{"id":"1"},"message":"Created"' + ENVELOPE_TAIL


async def test_splice_opens_a_stream_and_closes_it_with_the_last_chunk() -> None:
    """A streamed JSON body: the prefix goes with the first chunk, the suffix with the last."""
    exchange, sent = _exchange()
    splice = Splice(_start(200, b"application/json"), [], None, b"")
    await splice.send(exchange, _body(b'[{"id":"1"},', more=True))
    await splice.send(exchange, _body(b'{"id":"2"}]'))
    assert header(sent[0], b"content-length") == []  # length unknown: none announced
    body = b"".join(m["body"] for m in sent[1:])
    assert orjson.loads(body)["data"] == [{"id": "1"}, {"id": "2"}]
    assert sent[-1]["more_body"] is False


async def test_splice_leaves_out_data_when_there_is_no_entity() -> None:
    """A ``null`` body is no entity: the envelope has no ``data``."""
    exchange, sent = _exchange()
    splice = Splice(_start(202, b"application/json"), [], None, b"")
    await splice.send(exchange, _body(b"null"))
    assert sent[1]["body"] == b"{" + ENVELOPE_TAIL[1:]


async def test_splice_passes_json_lines_through() -> None:
    """A stream whose first chunk reads as JSON Lines passes through, unwrapped."""
    exchange, sent = _exchange()
    splice = Splice(_start(200, b"application/json"), [], None, b"")
    exchange.handler = splice
    first = _body(b'{"a":1}\n{"a":2}\n', more=True)
    await splice.send(exchange, first)
    assert _handler(exchange) is PASS_THROUGH
    assert sent[1] is first
    assert first["body"] == b'{"a":1}\n{"a":2}\n'


async def test_splice_answers_500_for_a_body_that_is_not_json() -> None:
    """A whole body labelled JSON that cannot be JSON becomes a 500 error envelope."""
    exchange, sent = _exchange()
    splice = Splice(_start(200, b"application/json"), [], None, b"")
    await splice.send(exchange, _body(b"<html>oops</html>"))
    assert sent[0]["status"] == 500
    assert orjson.loads(sent[1]["body"])["message"] == "Internal Server Error"


async def test_capture_error_reads_the_body_in_pieces_and_renders_it() -> None:
    """A plain-text 404 in two chunks becomes one 404 error envelope."""
    exchange, sent = _exchange()
    capture = CaptureError(_start(404, b"text/plain"), [], None, b"text/plain")
    await capture.send(exchange, _body(b"Not ", more=True))
    assert sent == []
    await capture.send(exchange, _body(b"Found"))
    assert sent[0]["status"] == 404
    assert header(sent[0], b"content-type") == [b"application/json"]
    assert sent[1]["body"] == b'{"message":"Resource or handler not found"' + ENVELOPE_TAIL


async def test_capture_error_keeps_a_json_message() -> None:
    """A JSON error body's ``message`` and ``code`` are kept."""
    exchange, sent = _exchange()
    capture = CaptureError(_start(409, b"application/json"), [], None, b"application/json")
    await capture.send(exchange, _body(b'{"message":"Alert is locked","code":40901}'))
    assert orjson.loads(sent[1]["body"])["code"] == 40901
    assert orjson.loads(sent[1]["body"])["message"] == "Alert is locked"


async def test_capture_error_holds_a_bare_500() -> None:
    """A bare 500 (a mounted app's, before it re-raises) is held, not sent."""
    exchange, sent = _exchange()
    capture = CaptureError(_start(500, b"text/plain"), [], None, b"text/plain")
    await capture.send(exchange, _body(b"Internal Server Error"))
    assert sent == []
    assert exchange.pending is not None
    assert exchange.pending[0].status_code == 500
    assert exchange.handler is PASS_THROUGH


async def test_capture_redirect_answers_an_empty_redirect_as_an_envelope() -> None:
    """An empty 302 keeps its status and ``Location``, with its phrase as the message."""
    exchange, sent = _exchange()
    headers = [(b"location", b"/v2/alerts/1")]
    capture = CaptureRedirect(_start(302, None, *headers), headers, b"0")
    await capture.send(exchange, _body(b""))
    assert sent[0]["status"] == 302
    assert header(sent[0], b"location") == [b"/v2/alerts/1"]
    assert sent[1]["body"] == b'{"message":"Found"' + ENVELOPE_TAIL


async def test_capture_redirect_passes_a_page_of_its_own_through() -> None:
    """A redirect with a body of its own is the app's answer: sent as it is."""
    exchange, sent = _exchange()
    capture = CaptureRedirect(_start(301, b"text/html"), [(b"content-type", b"text/html")], None)
    page = _body(b"<a href='/new'>moved</a>")
    await capture.send(exchange, page)
    assert sent[0]["status"] == 301
    assert sent[1] is page
    assert exchange.handler is PASS_THROUGH


async def test_capture_redirect_takes_the_slash_redirect_for_a_replay() -> None:
    """With ``ignore_trailing_slash``, the router's 307 to the other slash is served there."""
    exchange, sent = _exchange("/v2/alerts/", ignore_trailing_slash=True)
    headers = [(b"location", b"http://testserver/v2/alerts")]
    capture = CaptureRedirect(_start(307, None, *headers), headers, b"0")
    await capture.send(exchange, _body(b""))
    assert sent == []
    assert exchange.replay == "/v2/alerts"


async def test_every_held_handler_can_give_up_on_the_envelope() -> None:
    """A held start goes out as the app made it when a body cannot be seen (pathsend)."""
    exchange, sent = _exchange()
    await exchange.send(_start(200, b"application/json", (b"content-length", b"5")))
    assert exchange.handler is PENDING_SPLICE
    await exchange.send({"type": "http.response.pathsend", "path": "/tmp/x.json"})
    assert header(sent[0], b"content-length") == [b"5"]
    assert sent[1]["type"] == "http.response.pathsend"
    assert _handler(exchange) is PASS_THROUGH


def _handler(exchange: Exchange) -> object:
    """The exchange's handler now (read again after a call that may replace it)."""
    return exchange.handler
