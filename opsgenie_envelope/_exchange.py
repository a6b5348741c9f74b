"""One request, one exchange: the app call, its ``send``, and every answer the middleware makes.

``EnvelopeMiddleware`` makes one :class:`Exchange` per HTTP request and awaits
:meth:`Exchange.run`. The exchange reads the request headers once (the ID, the 406, 415
and 413 checks) when it is made, then calls the app with its own :meth:`~Exchange.send`. At
``http.response.start`` it fixes the headers and picks one body handler for what follows:

* :data:`PASS_THROUGH`: sent as it is (HTML, files, 204, excluded paths, ...);
* :data:`PENDING_SPLICE`: a JSON success answer, its start held on the exchange. One whole
  body, the common case, is spliced by :meth:`Exchange.send` itself; anything else builds a
  :class:`Splice`, which splices the body into the envelope as it streams;
* :class:`CaptureError`: an error answer, read (up to :data:`MAX_ERROR_BODY`) and
  re-rendered as an error envelope;
* :class:`CaptureRedirect`: a 3xx without a page of its own, answered as an envelope with
  its status phrase (or, for a router's trailing-slash redirect, served at the other path).

When the app returns with nothing sent, the exchange answers what is left: a held error,
the trailing-slash replay, or a 500 for an app that never answered. When it raises, the
exchange renders what the exception stands for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from ._body_limit import HTTP1, limit_framed_body
from ._context import EXTRAS_KEY, REPLAYED_KEY, REQUEST_ID_KEY, current_scope
from ._errors import (
    ApiError,
    ContentTooLarge,
    InternalServerError,
    NotAcceptable,
    UnsupportedMediaType,
)
from ._exception_id import tag_exception
from ._framework import Answer, error_from_exception, error_from_response, status_phrase
from ._integration import run_exception_hooks
from ._negotiation import MAX_ACCEPT, accepts_json, is_json_media_type
from ._negotiation import _accept_cache as _accepted
from ._render import (
    DATA_PREFIX,
    ENTITY_FIRST_BYTES,
    ENVELOPE_CLOSE,
    ENVELOPE_MARK,
    JSON_LAST_BYTES,
    REQUEST_ID_OPEN,
    ROUNDS_TO_ZERO,
    TOOK_KEY,
    TOOK_ZERO,
    chunk_end,
    continues_json_lines,
    format_took,
    holds_json_lines,
    is_plausible_json,
    no_entity,
    opens_json_lines,
    render_error,
    render_extras,
    splice_whole,
    success_suffix,
)
from ._request_id import _pop as _next_id
from ._request_id import uuid4_hex
from ._wire import BODY_METHODS, NO_BODY_STATUSES, REQUEST_ID_HEADER, RESPONSE_TIME_HEADER

if TYPE_CHECKING:
    from ._middleware import EnvelopeMiddleware

__all__ = [
    "MAX_ERROR_BODY",
    "PASS_THROUGH",
    "PENDING_SPLICE",
    "REQUEST_ID_BYTES",
    "SPLICE_COPY_LIMIT",
    "CaptureError",
    "CaptureRedirect",
    "Exchange",
    "Held",
    "PassThrough",
    "PendingSplice",
    "Splice",
]

logger = logging.getLogger("opsgenie_envelope")

MAX_ERROR_BODY = 64 * 1024
"""Largest error body read to find its message; the rest is dropped (the default message wins)."""

SPLICE_COPY_LIMIT = 256 * 1024
"""Largest JSON body copied into one envelope message; a larger one is sent between the
envelope's prefix and suffix as three messages, so its bytes are never copied."""

REQUEST_ID_BYTES = REQUEST_ID_HEADER.lower().encode()
"""``x-request-id`` as ASGI spells header names."""
_RESPONSE_TIME = RESPONSE_TIME_HEADER.lower().encode()
_DROP = frozenset({b"content-length", REQUEST_ID_BYTES, _RESPONSE_TIME})
# A body with one of these is a file, a part of one, or encoded bytes: never spliced into.
_OPAQUE = frozenset(
    {b"content-encoding", b"content-disposition", b"accept-ranges", b"content-range"}
)
# Replaced when an answer is re-rendered as an envelope (the body is new JSON).
_REPLACED = frozenset({b"content-type", b"content-encoding"})
_JSON = b"application/json"
_JSON_HEADERS = (b"content-type", _JSON)
_JSON_ENDS = frozenset(bytes([b]) for b in JSON_LAST_BYTES)
_CONTROL = dict.fromkeys(range(32), " ") | {127: " "}
_REQUEST_HEADERS = frozenset(
    {b"accept", REQUEST_ID_BYTES, b"content-type", b"content-length", b"transfer-encoding"}
)

Headers = list[tuple[bytes, bytes]]

_NO_START: Message = {}  # held_start before a start is held (never written to)
_NO_HEADERS: Headers = []  # held_headers likewise


def _header_value(value: str) -> bytes:
    """Encode an answer's header value, with control characters (CR, LF, NUL) blanked."""
    return value.translate(_CONTROL).encode("latin-1", "replace")


def _slash_twin(path: str) -> str | None:
    """The path a router redirects ``path`` to for its trailing slash (as Starlette's does)."""
    if path == "/":
        return None
    return path.rstrip("/") if path.endswith("/") else path + "/"


class Exchange:
    """One HTTP request through the middleware, from the app call to the last byte.

    Built per request (never kept on the middleware): it issues the request ID, starts the
    clock, runs the 406/415/413 checks and wraps ``receive`` for ``max_body_size`` when the
    body's length cannot be trusted; :meth:`run` calls the app and answers what it did not.
    What goes to the server goes through ``downstream``; every start leaves with
    ``Content-Length``, ``X-Request-ID`` and ``X-Response-Time`` appended (:meth:`finish`,
    or written out in :meth:`send` for one whole JSON body).

    Attributes:
        handler: the body handler picked at the start: :data:`PASS_THROUGH` (also before
            the start), :data:`PENDING_SPLICE` while a JSON success start is held here, or a
            :class:`Held` one holding the start itself. Handlers keep no reference to the
            exchange (it is passed to them), so no cycle outlives it.
        held_start, held_headers, held_length, extras: the JSON success start held for
            :data:`PENDING_SPLICE`: the message, its filtered headers, the app's
            ``Content-Length`` and the rendered optional keys.
        pending: an error answer held until the app returns or raises (a mounted app's bare
            500, sent before it re-raises), else ``None``.
        replay: the other-slash path a router redirected to, served once the app returns.
        snapshot: the scope as the server sent it, kept for that replay
            (``ignore_trailing_slash``), else ``None``.
    """

    __slots__ = (
        "downstream",
        "excluded",
        "extras",
        "handler",
        "held_headers",
        "held_length",
        "held_start",
        "owner",
        "pending",
        "receive",
        "refused",
        "replay",
        "request_id",
        "scope",
        "snapshot",
        "started",
        "started_at",
        "took",
    )

    def __init__(
        self, owner: EnvelopeMiddleware, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.owner = owner
        self.started_at = owner._clock()
        self.scope = scope
        self.downstream = send
        path: str = scope["path"]
        root: str | None = scope.get("root_path")
        if root and path.startswith(root):
            path = path[len(root) :]  # a mounted app's own URLs are relative to its mount
        self.excluded = excluded = path in owner._exclude
        self.refused: ApiError | None = None  # a 406/415/413 answered instead of the app
        # The request headers, read once here: the ID, the 406/415 checks, the body's framing
        # (the last Content-Length, whether it is chunked) for max_body_size.
        accept: bytes | None = None
        incoming: bytes | None = None
        content_type: bytes | None = None
        length: bytes | None = None
        chunked = has_body = False
        for name, value in scope["headers"]:
            if name not in _REQUEST_HEADERS:
                continue  # most headers: one set lookup instead of five comparisons
            if name == b"accept":
                accept = value if accept is None else b",".join((accept[:MAX_ACCEPT], value))
            elif name == REQUEST_ID_BYTES:
                incoming = value if incoming is None else b""  # several: trust none
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
                has_body = value.strip() not in (b"", b"0")
            elif name == b"transfer-encoding":
                chunked = has_body = True
        if incoming is not None:
            request_id = owner._ids.accept(incoming)
        elif owner._issue is uuid4_hex:
            try:  # the default IDs, without the call (uuid4_hex inlined)
                request_id = _next_id()
            except IndexError:
                request_id = uuid4_hex()
        else:
            request_id = owner._issue()
        if not excluded:
            config = owner.config
            if (
                accept is not None
                and config.negotiate
                and not (_accepted.get(accept) or accepts_json(accept))  # its cache, inline
            ):
                self.refused = NotAcceptable()
            elif (
                has_body
                and config.require_json_body
                and scope["method"] in BODY_METHODS
                and (content_type is None or not is_json_media_type(content_type))
            ):
                self.refused = UnsupportedMediaType()
        limit = owner._max_body_size
        if limit is not None and (
            length is not None
            or chunked
            or scope.get("http_version", "1.1") not in HTTP1  # HTTP/1 without framing: no body
        ):
            receive, too_large = limit_framed_body(scope, receive, limit, length, chunked)
            if too_large and self.refused is None:
                self.refused = ContentTooLarge()
        self.receive = receive  # the app's: counted when max_body_size cannot trust a length
        scope[REQUEST_ID_KEY] = request_id
        self.request_id = request_id.encode("ascii")
        self.started = False  # http.response.start went to the server
        self.took = b""  # set when the answer starts
        self.handler: PassThrough | PendingSplice | Held = PASS_THROUGH
        # A JSON success start held back, before its first body message (PENDING_SPLICE).
        self.held_start: Message = _NO_START
        self.held_headers: Headers = _NO_HEADERS
        self.held_length: bytes | None = None
        self.extras = b""  # the envelope's optional keys (message, paging, ...), rendered
        self.pending: tuple[ApiError, Headers] | None = None
        self.replay: str | None = None
        # Served again as sent, at the other path: the app may change its scope.
        self.snapshot: Scope | None = dict(scope) if owner._slashes else None

    async def run(self) -> None:
        """Serve the request: call the app, answer what it left unanswered, render exceptions."""
        owner = self.owner
        scope = self.scope
        request_id: str = scope[REQUEST_ID_KEY]
        token = current_scope.set(scope)
        try:
            if owner._on_request:
                for hook in owner._on_request:
                    hook(scope, request_id)
            if self.refused is not None:
                await self.answer(self.refused)
                return
            await owner.app(scope, self.receive, self.send)
            while not self.started:
                await self._unanswered()
        except ClientDisconnect:
            # The client went away while the app read the body: nobody to answer, nothing to log.
            logger.debug("client disconnected (request_id=%s)", request_id)
        except Exception as exc:
            error, unexpected = error_from_exception(exc, owner.config.debug)
            if self.started or unexpected:
                # Logged once, by the server that receives the re-raised exception.
                tag_exception(exc, request_id)
                if not self.started:
                    if owner._on_exception:
                        run_exception_hooks(owner._on_exception, exc, self.scope)
                    await self.answer(error)
                del error
                raise
            await self.answer(error)
            # exc's traceback holds this frame: a local still pointing at exc (an ApiError is
            # its own error) would make a reference cycle that only the cyclic GC frees.
            del error
        finally:
            current_scope.reset(token)

    async def _unanswered(self) -> None:
        """The app returned and nothing went out: a slash replay, a held error, or no answer."""
        if self.replay is not None and self.snapshot is not None:
            later = self.replay
            scope = dict(self.snapshot)
            raw: bytes = scope.get("raw_path") or scope["path"].encode()
            scope["path"] = later
            scope[REPLAYED_KEY] = True  # the same request: layers inside count it once
            scope["raw_path"] = raw.rstrip(b"/") if raw.endswith(b"/") else raw + b"/"
            root: str | None = scope.get("root_path")
            path = later[len(root) :] if root and later.startswith(root) else later
            self._restart(scope, path in self.owner._exclude)
            current_scope.set(scope)  # reset with the request's own token when it ends
            await self.owner.app(scope, self.receive, self.send)
        elif self.pending is not None:
            error, headers = self.pending
            self.pending = None
            await self.answer(error, headers)
        else:
            logger.error(
                "the app returned without a complete response; answered 500 (request_id=%s)",
                self.request_id.decode(),
            )
            await self.answer(InternalServerError())

    def _restart(self, scope: Scope, excluded: bool) -> None:
        """Serve the request again, at ``scope``: nothing has gone out (a slash replay)."""
        self.scope = scope
        self.excluded = excluded
        self.handler = PASS_THROUGH
        self.took = b""
        self.replay = self.snapshot = None  # once: a second redirect is answered as one

    async def send(self, message: Message) -> None:
        """The ``send`` the app sees."""
        kind = message["type"]
        if kind == "http.response.body":
            if self.handler is PENDING_SPLICE:
                body: bytes = message.get("body", b"")
                if (
                    body
                    and not message.get("more_body", False)
                    and body[0] in ENTITY_FIRST_BYTES  # not ``null``: no entity, no data
                    and body[-1] in JSON_LAST_BYTES
                    and len(body) <= SPLICE_COPY_LIMIT
                    and not body.startswith(DATA_PREFIX)
                ):
                    # The common case, one whole JSON body, spliced here: Splice.send's first
                    # case and finish() inlined, with no Splice built. This path is every plain
                    # JSON answer; the calls it saves are measurable (benchmarks/README.md).
                    took = self.took
                    request_id = self.request_id
                    out = b"".join(  # one join, one copy of the body: _render.splice_whole
                        (
                            DATA_PREFIX,
                            body,
                            self.extras,
                            TOOK_KEY,
                            took,
                            REQUEST_ID_OPEN,
                            request_id,
                            ENVELOPE_CLOSE,
                        )
                    )
                    start = self.held_start
                    headers = self.held_headers
                    headers.append((b"content-length", b"%d" % len(out)))
                    headers.append((REQUEST_ID_BYTES, request_id))
                    headers.append((_RESPONSE_TIME, took))
                    start["headers"] = headers
                    self.started = True
                    send = self.downstream
                    await send(start)
                    message["body"] = out
                    await send(message)
                    return
            await self.handler.send(self, message)
        elif kind == "http.response.start":
            if self._on_start(message):
                await self.downstream(message)
        else:
            if not self.started:
                # A body we cannot see (``http.response.pathsend``, ...): send as it is.
                await self.handler.pass_through(self, None)
            await self.downstream(message)

    def finish(self, start: Message, headers: Headers, length: bytes | None) -> Message:
        """Give ``start`` its final headers (length, ID, time) and mark the response started."""
        if length is not None:
            headers.append((b"content-length", length))
        headers.append((REQUEST_ID_BYTES, self.request_id))
        headers.append((_RESPONSE_TIME, self.took))
        start["headers"] = headers
        self.started = True
        return start

    def _on_start(self, message: Message) -> bool:
        """Fix the start's headers and pick the body handler; tell whether it goes out now."""
        elapsed = self.owner._clock() - self.started_at
        self.took = TOOK_ZERO if elapsed < ROUNDS_TO_ZERO else format_took(elapsed)
        status: int = message["status"]
        headers: Headers = []
        content_type = b""
        length: bytes | None = None
        opaque = False
        for raw_name, value in message.get("headers", ()):
            name = raw_name.lower()
            if name in _DROP:
                if name == b"content-length":
                    length = value
                continue
            if name == b"content-type":
                content_type = value
            elif name in _OPAQUE and value != b"none":
                opaque = True
            headers.append((name, value))
        held: Held
        if self.excluded or status < 200 or status in NO_BODY_STATUSES:
            self.finish(message, headers, length)
            return True
        if status < 300:
            json = content_type == _JSON or is_json_media_type(content_type)
            if not json or opaque or status == 206:
                self.finish(message, headers, length)
                return True
            extras = self.scope.get(EXTRAS_KEY)
            if extras:
                self.extras = render_extras(extras, self.owner.config.message_key)
            # Held on the exchange: one whole body is spliced by send() with no Splice built.
            self.held_start = message
            self.held_headers = headers
            self.held_length = length
            self.handler = PENDING_SPLICE
            return False
        if status < 400:
            held = CaptureRedirect(message, headers, length)
        else:
            # An encoded error body cannot be read: it is rendered from its status alone.
            encoded = opaque and any(name == b"content-encoding" for name, _ in headers)
            media = b"" if encoded else content_type.split(b";", 1)[0].strip().lower()
            held = CaptureError(message, headers, length, media)
        # Hold the start back until the body shows what the envelope must be.
        self.handler = held
        return False

    def may_replay(self) -> bool:
        """Tell whether a redirect may be replayed: the option is on and no endpoint matched.

        A router redirects for the slash only when none of its routes matched, so the scope
        names no endpoint, or a mounted app or router; a handler's own redirect is its answer.
        """
        if self.snapshot is None:
            return False
        endpoint = self.scope.get("endpoint")
        return endpoint is None or hasattr(endpoint, "routes")

    async def answer(self, answer: ApiError | Answer, headers: Headers | None = None) -> None:
        """Answer with the envelope of ``answer``: an error, or a redirect's (not started yet).

        ``headers`` are those the app's own answer had; where it set one of the answer's
        default headers (a 429's ``X-RateLimit-Reason``), the app's value is kept, once.
        """
        if not self.took:
            self.took = format_took(self.owner._clock() - self.started_at)
        body = render_error(
            answer.message, self.took, self.request_id, code=answer.code, errors=answer.errors
        )
        raw = headers if headers is not None else []
        present = {name for name, _ in raw} if raw else ()
        raw.append(_JSON_HEADERS)
        extra: Mapping[str, str] = answer.headers
        for name, value in extra.items():
            key = _header_value(name).lower()
            if key not in _DROP and key not in present and key != b"content-type":
                raw.append((key, _header_value(value)))
        self.handler = PASS_THROUGH
        start = {"type": "http.response.start", "status": answer.status_code}
        await self.downstream(self.finish(start, raw, b"%d" % len(body)))
        await self.downstream({"type": "http.response.body", "body": body})


class PassThrough:
    """The body handler of an answer sent as the app made it: each message goes on as it is.

    Stateless: the one instance, :data:`PASS_THROUGH`, serves every exchange.
    """

    __slots__ = ()

    async def send(self, exchange: Exchange, message: Message) -> None:
        """Send one body message on, untouched."""
        await exchange.downstream(message)

    async def pass_through(self, exchange: Exchange, message: Message | None) -> None:
        """Nothing is held: send ``message``, if any, on."""
        if message is not None:
            await exchange.downstream(message)


PASS_THROUGH = PassThrough()
"""The pass-through body handler (HTML, files, 204, excluded paths, ...)."""


class PendingSplice:
    """The body handler of a JSON success answer before its first body message: stateless.

    The start is held on the exchange (``held_start``, ``held_headers``, ``held_length``,
    ``extras``). One whole JSON body, the common case, is spliced by :meth:`Exchange.send`
    itself; anything else (a stream, ``null``, a HEAD, a body too large to copy) builds the
    :class:`Splice` that takes over from here. The one instance is :data:`PENDING_SPLICE`.
    """

    __slots__ = ()

    def take(self, exchange: Exchange) -> Splice:
        """Build the :class:`Splice` of the held start and make it the exchange's handler."""
        splice = Splice(
            exchange.held_start, exchange.held_headers, exchange.held_length, exchange.extras
        )
        exchange.handler = splice
        return splice

    async def send(self, exchange: Exchange, message: Message) -> None:
        """Hand the body message to the :class:`Splice` that takes over."""
        await self.take(exchange).send(exchange, message)

    async def pass_through(self, exchange: Exchange, message: Message | None) -> None:
        """Give up on the envelope: send the held start as the app made it, then ``message``."""
        await self.take(exchange).pass_through(exchange, message)


PENDING_SPLICE = PendingSplice()
"""The handler of a held JSON success start (see :class:`PendingSplice`)."""


class Held:
    """A body handler that holds the start back until the body shows what to send.

    Driven with the app's ``http.response.body`` messages through :meth:`send`, it answers
    through the :class:`Exchange` it is given (``finish``, ``answer``, ``downstream``),
    which it never keeps: the exchange holds its handler, not the other way round.
    """

    __slots__ = ("headers", "length", "start")

    def __init__(self, start: Message, headers: Headers, length: bytes | None) -> None:
        self.start = start
        self.headers = headers  # the start's, lower-cased, without the ones finish() adds
        self.length = length  # the app's Content-Length, read only when needed

    async def send(self, exchange: Exchange, message: Message) -> None:
        """Take one body message of the app's answer."""
        raise NotImplementedError  # pragma: no cover - each handler has its own

    def declared(self) -> int | None:
        """The app's ``Content-Length`` as a number, when it gave a valid one."""
        length = self.length
        return int(length) if length is not None and length.isdigit() else None

    def release(self, exchange: Exchange, length: int | None) -> Message:
        """The held start with its final headers (and ``length``, when known)."""
        return exchange.finish(self.start, self.headers, None if length is None else b"%d" % length)

    async def pass_through(self, exchange: Exchange, message: Message | None) -> None:
        """Give up on the envelope: send the start as the app made it, then ``message``."""
        exchange.handler = PASS_THROUGH
        send = exchange.downstream
        await send(self.release(exchange, self.declared()))
        if message is not None:
            await send(message)

    def kept_headers(self) -> Headers:
        """The app's headers that stay on an answer re-rendered as an envelope."""
        return [pair for pair in self.headers if pair[0] not in _REPLACED]


class Splice(Held):
    """A JSON success body: spliced between the envelope's prefix and suffix, never parsed.

    One whole body goes out as one message; a stream opens the envelope with its first chunk
    and closes it with its last. A body that turns out not to be one JSON value (text, JSON
    Lines) passes through; one that cannot be JSON at all is answered 500.
    """

    __slots__ = ("extras", "opened", "tail")

    def __init__(
        self, start: Message, headers: Headers, length: bytes | None, extras: bytes
    ) -> None:
        # Written out rather than through Held.__init__: one of these is made per JSON answer.
        self.start = start
        self.headers = headers
        self.length = length
        self.extras = extras  # the optional keys (message, paging, ...), rendered
        self.opened = False  # the envelope's prefix went out (streamed body)
        self.tail = b""  # an opened stream's last significant byte and what follows

    async def send(self, exchange: Exchange, message: Message) -> None:
        """Take one body message of the app's JSON answer."""
        body: bytes = message.get("body", b"")
        if (
            body
            and not message.get("more_body", False)
            and not self.opened
            and body[0] in ENTITY_FIRST_BYTES  # not ``null``: no entity, no data
            and body[-1] in JSON_LAST_BYTES
            and not body.startswith(DATA_PREFIX)
        ):
            # One whole JSON body: one message (the exchange inlines this when it holds the
            # start itself; see Exchange.send).
            if len(body) > SPLICE_COPY_LIMIT:
                await self._send_around(exchange, message, body)
                return
            out = splice_whole(body, self.extras, exchange.took, exchange.request_id)
            send = exchange.downstream
            await send(self.release(exchange, len(out)))
            message["body"] = out
            await send(message)
        else:
            await self._wrap(exchange, message, body)

    def suffix(self, exchange: Exchange) -> bytes:
        """What follows the payload: the optional keys, ``took``, ``requestId``, ``}``."""
        return success_suffix(self.extras, exchange.took, exchange.request_id)

    async def _send_around(self, exchange: Exchange, message: Message, body: bytes) -> None:
        """Send a large body as prefix, the app's own message, suffix: no copy of the body."""
        suffix = self.suffix(exchange)
        send = exchange.downstream
        await send(self.release(exchange, len(DATA_PREFIX) + len(body) + len(suffix)))
        await send({"type": "http.response.body", "body": DATA_PREFIX, "more_body": True})
        message["more_body"] = True
        await send(message)
        await send({"type": "http.response.body", "body": suffix, "more_body": False})

    async def _wrap(self, exchange: Exchange, message: Message, body: bytes) -> None:
        more: bool = message.get("more_body", False)
        send = exchange.downstream
        if self.opened:
            self._check_stream(body, more)
            if not more:
                message["body"] = body + self.suffix(exchange)
            await send(message)
            return
        if more:
            if not body:
                return  # nothing to decide on yet
            if not is_plausible_json(body, whole=False) or opens_json_lines(body):
                # Not one JSON value whatever its label says (text, JSON Lines): pass the
                # stream through untouched.
                await self.pass_through(exchange, message)
                return
            # A stream: open the envelope now, close it with the last chunk.
            length = self.declared()
            if length is not None:
                length += len(DATA_PREFIX) + len(self.suffix(exchange))
            await send(self.release(exchange, length))
            self.opened = True
            self.tail = chunk_end(body)
            message["body"] = DATA_PREFIX + body
            await send(message)
            return
        if not body and exchange.scope["method"] == "HEAD" and (declared := self.declared()):
            # HEAD answered without the body: announce what the GET would send.
            size = declared + len(DATA_PREFIX) + len(self.suffix(exchange))
            await send(self.release(exchange, size))
            await send(message)
            return
        if body.startswith(DATA_PREFIX) and ENVELOPE_MARK in body:
            out = body  # already an envelope: left as it is
        elif holds_json_lines(body):
            out = body  # JSON Lines labelled JSON: no envelope can hold them, sent as they are
        elif not is_plausible_json(body):
            logger.error(
                "handler sent a body labelled JSON that is not JSON; answered 500 (request_id=%s)",
                exchange.request_id.decode(),
            )
            await exchange.answer(InternalServerError())
            return
        elif no_entity(body):
            out = b"{" + self.suffix(exchange)[1:]  # no entity, no data (suffix opens with ",")
        else:
            out = b"".join((DATA_PREFIX, body, self.suffix(exchange)))
        await send(self.release(exchange, len(out)))
        message["body"] = out
        await send(message)

    def _check_stream(self, body: bytes, more: bool) -> None:
        """Refuse to go on with an opened envelope whose payload turned out not to be JSON.

        The start went out, so aborting the connection is all that is left: closing the
        envelope would present a broken body as a complete one. Never parses: it looks for
        JSON Lines (a newline between two values, within a chunk or across two) and, at the
        end, at the body's last significant byte.
        """
        broken = ""
        if body:
            if continues_json_lines(self.tail, body) or holds_json_lines(body):
                broken = "holds JSON Lines"
            self.tail = chunk_end(body) or self.tail
        if not more and not broken and self.tail[:1] not in _JSON_ENDS:
            broken = "does not end as JSON"
        if broken:
            raise RuntimeError(
                f"a streamed body labelled JSON {broken}; the envelope cannot be closed, so "
                "the connection is aborted (label JSON Lines application/x-ndjson)"
            )


class CaptureError(Held):
    """An error answer (4xx, 5xx): its body is read and re-rendered as an error envelope.

    At most :data:`MAX_ERROR_BODY` bytes are kept; ``media`` is the body's lower-cased media
    type, empty when the body cannot be read (encoded).
    """

    __slots__ = ("media", "parts", "size")

    def __init__(
        self, start: Message, headers: Headers, length: bytes | None, media: bytes
    ) -> None:
        super().__init__(start, headers, length)
        self.media = media
        self.parts: list[bytes] = []
        self.size = 0

    async def send(self, exchange: Exchange, message: Message) -> None:
        """Take one body message of the app's error answer; answer with the last one."""
        body: bytes = message.get("body", b"")
        if body:
            self.size += len(body)
            if self.size <= MAX_ERROR_BODY:
                self.parts.append(body)
        if message.get("more_body", False):
            return
        raw = b"".join(self.parts) if self.size <= MAX_ERROR_BODY else b""
        status: int = self.start["status"]
        error = error_from_response(status, raw, self.media)
        if (
            status == 500
            and isinstance(error, ApiError)
            and error.message == error.default_message
            and not error.errors
        ):
            # A mounted app's ServerErrorMiddleware answers a bare 500 and then re-raises what
            # it caught: held until the app returns (sent then) or raises (rendered instead).
            # A 500 that says more (an exception handler's own) is the app's answer: sent.
            exchange.pending = (error, self.kept_headers())
            exchange.handler = PASS_THROUGH
            return
        await exchange.answer(error, self.kept_headers())


class CaptureRedirect(Held):
    """A 3xx: an empty one becomes an envelope with its status phrase, not an error.

    A redirect with a page of its own passes through; the router's redirect to the same path
    with or without its trailing slash is served at that path instead, when the exchange
    may replay (``ignore_trailing_slash``).
    """

    __slots__ = ()

    async def send(self, exchange: Exchange, message: Message) -> None:
        """Take one body message of the app's redirect; answer with the last one."""
        if message.get("body", b""):
            await self.pass_through(exchange, message)  # the app's own redirect page
            return
        if message.get("more_body", False):
            return
        status: int = self.start["status"]
        location = next((value for name, value in self.headers if name == b"location"), None)
        if location is not None and status == 307 and exchange.may_replay():
            twin = _slash_twin(exchange.scope["path"])
            if twin is not None and unquote(urlsplit(location.decode("latin-1")).path) == twin:
                exchange.replay = twin  # served at that path once the app returns
                exchange.handler = PASS_THROUGH
                return
        answer = Answer(status, status_phrase(status) or "Redirect")
        await exchange.answer(answer, self.kept_headers())
