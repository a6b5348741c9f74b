"""``EnvelopeMiddleware``: the one ASGI layer that does the per-request work.

Per request it issues the ID, starts the clock, and wraps ``send`` in a small responder that
adds ``X-Request-ID``/``X-Response-Time``, splices JSON success bodies into the envelope,
and re-renders error answers and exceptions as error envelopes.
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Unpack

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._config import (
    DEFAULT_EXCLUDE_PATHS,
    EnvelopeConfig,
    EnvelopeOptions,
    docs_paths,
    resolve_config,
)
from ._context import EXTRAS_KEY, REQUEST_ID_KEY, current_scope
from ._errors import ApiError, InternalServerError, NotAcceptable, UnsupportedMediaType
from ._exception_id import tag_exception
from ._framework import error_from_exception, error_from_response
from ._integration import prepare_integrations, run_exception_hooks
from ._negotiation import MAX_ACCEPT, accepts_json, is_json_media_type
from ._render import (
    DATA_PREFIX,
    ENTITY_FIRST_BYTES,
    ENVELOPE_MARK,
    JSON_LAST_BYTES,
    format_took,
    is_plausible_json,
    no_entity,
    render_error,
    render_extras,
    success_suffix,
)
from ._request_id import RequestIdPolicy
from ._wire import (
    BODY_METHODS,
    NO_BODY_STATUSES,
    REQUEST_ID_HEADER,
    RESPONSE_TIME_HEADER,
    MessageKey,
)

__all__ = ["EnvelopeMiddleware"]

logger = logging.getLogger("opsgenie_envelope")

MAX_ERROR_BODY = 64 * 1024
"""Largest error body read to find its message; the rest is dropped (the default message wins)."""

SPLICE_COPY_LIMIT = 256 * 1024
"""Largest JSON body copied into one envelope message; a larger one is sent between the
envelope's prefix and suffix as three messages, so its bytes are never copied."""

_PASS, _WRAP, _ERROR = 0, 1, 2
_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
_RESPONSE_TIME = RESPONSE_TIME_HEADER.lower().encode()
_REQUEST_HEADERS = frozenset(
    {b"accept", _REQUEST_ID, b"content-type", b"content-length", b"transfer-encoding"}
)
_DROP = frozenset({b"content-length", _REQUEST_ID, _RESPONSE_TIME})
_JSON_HEADERS = (b"content-type", b"application/json")
_CONTROL = dict.fromkeys(range(32), " ") | {127: " "}


def _header_value(value: str) -> bytes:
    """Encode an error's header value, with control characters (CR, LF, NUL) blanked."""
    return value.translate(_CONTROL).encode("latin-1", "replace")


class _Responder:
    """One request's ``send`` wrapper and the state it needs (never kept on the middleware).

    The app calls :meth:`send`; what goes to the server goes through ``downstream``. A start
    whose body may change (JSON success, error) is held back until the body shows what the
    envelope must be; every start leaves through :meth:`_finish`, which appends
    ``Content-Length``, ``X-Request-ID`` and ``X-Response-Time``.
    """

    __slots__ = (
        "body_parts",
        "body_size",
        "downstream",
        "excluded",
        "headers",
        "length",
        "media",
        "message_key",
        "mode",
        "opened",
        "request_id",
        "scope",
        "start",
        "started",
        "started_at",
        "suffix",
        "took",
    )
    # Set once the start is held back (see _on_start), only for the mode that reads them.
    headers: list[tuple[bytes, bytes]]
    length: bytes | None  # the app's Content-Length, read only when needed
    took: bytes
    opened: bool  # the envelope's prefix went out (streamed body)
    suffix: bytes
    media: bytes
    body_parts: list[bytes]
    body_size: int

    def __init__(
        self,
        downstream: Send,
        scope: Scope,
        request_id: str,
        started_at: float,
        excluded: bool,
        message_key: MessageKey,
    ) -> None:
        self.downstream = downstream
        self.scope = scope
        self.request_id = request_id.encode("ascii")
        self.started_at = started_at
        self.excluded = excluded
        self.message_key = message_key
        self.mode = _PASS
        self.started = False  # http.response.start went to the server
        self.start: Message | None = None

    async def send(self, message: Message) -> None:
        """The ``send`` the app sees."""
        kind = message["type"]
        if kind == "http.response.body":
            if self.mode == _PASS:
                await self.downstream(message)
            elif self.mode == _WRAP:
                body: bytes = message.get("body", b"")
                if (
                    body
                    and not message.get("more_body", False)
                    and not self.opened
                    and body[0] in ENTITY_FIRST_BYTES  # not ``null``: no entity, no data
                    and body[-1] in JSON_LAST_BYTES
                    and not body.startswith(DATA_PREFIX)
                ):
                    # The common case, one whole JSON body: spliced here with _finish inlined.
                    # This path is every plain JSON answer; the two calls it saves are
                    # measurable there (see benchmarks/README.md), so it stays written out.
                    if len(body) > SPLICE_COPY_LIMIT:
                        await self._send_around(message, body)
                        return
                    out = b"".join((DATA_PREFIX, body, self.suffix))  # one copy, not two
                    start = self.start
                    assert start is not None
                    headers = self.headers
                    headers.append((b"content-length", b"%d" % len(out)))
                    headers.append((_REQUEST_ID, self.request_id))
                    headers.append((_RESPONSE_TIME, self.took))
                    start["headers"] = headers
                    self.started = True
                    await self.downstream(start)
                    message["body"] = out
                    await self.downstream(message)
                else:
                    await self._wrap_body(message)
            else:
                await self._error_body(message)
        elif kind == "http.response.start":
            if self._on_start(message):
                await self.downstream(message)
        else:
            if self.start is not None and not self.started:
                # A body we cannot see (``http.response.pathsend``, ...): send as it is.
                self.mode = _PASS
                await self.downstream(self._held_start(self._length()))
            await self.downstream(message)

    def _finish(
        self, start: Message, headers: list[tuple[bytes, bytes]], length: bytes | None
    ) -> Message:
        """Give ``start`` its final headers (length, ID, time) and mark the response started."""
        if length is not None:
            headers.append((b"content-length", length))
        headers.append((_REQUEST_ID, self.request_id))
        headers.append((_RESPONSE_TIME, self.took))
        start["headers"] = headers
        self.started = True
        return start

    def _on_start(self, message: Message) -> bool:
        """Fix the start's headers; tell whether it goes out now (else it is held back)."""
        self.took = took = format_took(perf_counter() - self.started_at)
        status: int = message["status"]
        headers: list[tuple[bytes, bytes]] = []
        content_type = b""
        length: bytes | None = None
        encoded = False
        for raw_name, value in message.get("headers", ()):
            name = raw_name.lower()
            if name in _DROP:
                if name == b"content-length":
                    length = value
                continue
            if name == b"content-type":
                content_type = value
            elif name == b"content-encoding":
                encoded = True
            headers.append((name, value))
        if self.excluded or encoded or status < 200 or status in NO_BODY_STATUSES:
            mode = _PASS
        elif status < 300:
            json = content_type == _JSON_HEADERS[1] or is_json_media_type(content_type)
            mode = _WRAP if json else _PASS
        else:
            mode = _ERROR if status >= 400 else _PASS
        self.mode = mode
        if mode == _PASS:
            self._finish(message, headers, length)
            return True
        # Hold the start back until the body shows what the envelope must be.
        self.start = message
        self.headers = headers
        self.length = length
        if mode == _WRAP:
            self.opened = False
            extras = self.scope.get(EXTRAS_KEY)
            self.suffix = success_suffix(
                render_extras(extras, self.message_key) if extras else b"", took, self.request_id
            )
        else:
            self.media = content_type.split(b";", 1)[0].strip().lower()
            self.body_parts = []
            self.body_size = 0
        return False

    def _length(self) -> int | None:
        length = self.length
        return int(length) if length is not None and length.isdigit() else None

    def _held_start(self, length: int | None) -> Message:
        """The held-back start, with its final headers."""
        assert self.start is not None
        return self._finish(self.start, self.headers, None if length is None else b"%d" % length)

    async def _send_around(self, message: Message, body: bytes) -> None:
        """Send a large body as prefix, the app's own message, suffix: no copy of the body."""
        suffix = self.suffix
        send = self.downstream
        await send(self._held_start(len(DATA_PREFIX) + len(body) + len(suffix)))
        await send({"type": "http.response.body", "body": DATA_PREFIX, "more_body": True})
        message["more_body"] = True
        await send(message)
        await send({"type": "http.response.body", "body": suffix, "more_body": False})

    async def _wrap_body(self, message: Message) -> None:
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        send = self.downstream
        if self.opened:
            if not more:
                message["body"] = body + self.suffix
            await send(message)
            return
        if more:
            if not body:
                return  # nothing to decide on yet
            if not is_plausible_json(body, whole=False):
                # Not JSON whatever its label says: pass the stream through untouched.
                self.mode = _PASS
                await send(self._held_start(self._length()))
                await send(message)
                return
            # A stream: open the envelope now, close it with the last chunk.
            length = self._length()
            if length is not None:
                length += len(DATA_PREFIX) + len(self.suffix)
            await send(self._held_start(length))
            self.opened = True
            message["body"] = DATA_PREFIX + body
            await send(message)
            return
        if not body and self.scope["method"] == "HEAD" and (declared := self._length()):
            # HEAD answered without the body: announce what the GET would send.
            await send(self._held_start(declared + len(DATA_PREFIX) + len(self.suffix)))
            await send(message)
            return
        if body.startswith(DATA_PREFIX) and ENVELOPE_MARK in body:
            out = body  # already an envelope: left as it is
        elif not is_plausible_json(body):
            logger.error(
                "handler sent a body labelled JSON that is not JSON; answered 500 (request_id=%s)",
                self.request_id.decode(),
            )
            await self.send_error(InternalServerError())
            return
        elif no_entity(body):
            out = b"{" + self.suffix[1:]  # no entity: no data (the suffix opens with a comma)
        else:
            out = b"".join((DATA_PREFIX, body, self.suffix))
        await send(self._held_start(len(out)))
        message["body"] = out
        await send(message)

    async def _error_body(self, message: Message) -> None:
        body: bytes = message.get("body", b"")
        if body:
            self.body_size += len(body)
            if self.body_size <= MAX_ERROR_BODY:
                self.body_parts.append(body)
        if message.get("more_body", False):
            return
        assert self.start is not None
        raw = b"".join(self.body_parts) if self.body_size <= MAX_ERROR_BODY else b""
        error = error_from_response(self.start["status"], raw, self.media)
        headers = [pair for pair in self.headers if pair[0] != b"content-type"]
        await self.send_error(error, headers)

    async def send_error(
        self,
        error: ApiError,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Answer with the error envelope of ``error`` (the response must not have started)."""
        if self.start is None:
            self.took = format_took(perf_counter() - self.started_at)
        body = render_error(
            error.message, self.took, self.request_id, code=error.code, errors=error.errors
        )
        raw = headers if headers is not None else []
        raw.append(_JSON_HEADERS)
        for name, value in error.headers.items():
            key = _header_value(name).lower()
            if key not in _DROP and key != b"content-type":
                raw.append((key, _header_value(value)))
        start = {"type": "http.response.start", "status": error.status_code}
        await self.downstream(self._finish(start, raw, b"%d" % len(body)))
        await self.downstream({"type": "http.response.body", "body": body})


class EnvelopeMiddleware:
    """Make every HTTP response of an ASGI app an OpsGenie-style envelope.

    Adds ``X-Request-ID`` and ``X-Response-Time`` to every response, wraps JSON success
    bodies as ``{"data": ..., "took": ..., "requestId": ...}`` by splicing bytes, and renders
    :class:`ApiError` exceptions, framework errors and unexpected exceptions as error
    envelopes. Options are those of :class:`EnvelopeConfig`, given as keywords or as one
    prepared ``config`` (not both).

    Example::

        app = FastAPI()
        app.add_middleware(EnvelopeMiddleware)

        app = Starlette(routes=routes, middleware=[Middleware(EnvelopeMiddleware)])
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: EnvelopeConfig | None = None,
        **options: Unpack[EnvelopeOptions],
    ) -> None:
        if not callable(app):
            raise TypeError("app must be an ASGI application")
        self.app = app
        self.config = cfg = resolve_config(config, options)
        self._ids = RequestIdPolicy(cfg.generator, cfg.trust_incoming_id, cfg.validator)
        self._issue = self._ids.issue
        # ``None``: the app's documentation URLs, read on the first request.
        self._exclude = DEFAULT_EXCLUDE_PATHS if cfg.exclude_paths is None else cfg.exclude_paths
        self._read_docs_paths = cfg.exclude_paths is None
        self._scan_headers = cfg.negotiate or cfg.trust_incoming_id or cfg.require_json_body
        # Start-up checks of the integrations; only the hooks they override are called.
        self._on_request, self._on_exception = prepare_integrations(cfg.integrations, app)

    def _resolve_docs_paths(self, scope: Scope) -> None:
        """Exclude the documentation URLs of the app served: one time, then never again.

        The app is the wrapped one when it names its URLs (``EnvelopeMiddleware(app)``), else
        ``scope["app"]`` (Starlette sets it before its middleware stack runs). Idempotent:
        two first requests racing in two threads compute and store the same set.
        """
        app = self.app if hasattr(self.app, "openapi_url") else scope.get("app")
        self._exclude = docs_paths(app)
        self._read_docs_paths = False

    def _precheck(self, scope: Scope, excluded: bool) -> tuple[str, ApiError | None]:
        """Read the request headers once: the request ID, and a 406/415 when they call for it."""
        cfg = self.config
        accept: bytes | None = None
        incoming: bytes | None = None
        content_type: bytes | None = None
        has_body = False
        for name, value in scope["headers"]:
            if name not in _REQUEST_HEADERS:
                continue  # most headers: one set lookup instead of five comparisons
            if name == b"accept":
                accept = value if accept is None else b",".join((accept[:MAX_ACCEPT], value))
            elif name == _REQUEST_ID:
                incoming = value if incoming is None else b""  # several: trust none
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                has_body = value.strip() not in (b"", b"0")
            elif name == b"transfer-encoding":
                has_body = True
        request_id = self._ids.accept(incoming)
        if excluded:
            return request_id, None
        if cfg.negotiate and accept is not None and not accepts_json(accept):
            return request_id, NotAcceptable()
        if (
            cfg.require_json_body
            and has_body
            and scope["method"] in BODY_METHODS
            and (content_type is None or not is_json_media_type(content_type))
        ):
            return request_id, UnsupportedMediaType()
        return request_id, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or REQUEST_ID_KEY in scope:
            await self.app(scope, receive, send)
            return
        if self._read_docs_paths:
            self._resolve_docs_paths(scope)
        started_at = perf_counter()
        path: str = scope["path"]
        root: str | None = scope.get("root_path")
        if root and path.startswith(root):
            path = path[len(root) :]  # a mounted app's own URLs are relative to its mount
        excluded = path in self._exclude
        if self._scan_headers:
            request_id, refused = self._precheck(scope, excluded)
        else:
            request_id, refused = self._issue(), None
        scope[REQUEST_ID_KEY] = request_id
        token = current_scope.set(scope)
        responder = _Responder(
            send, scope, request_id, started_at, excluded, self.config.message_key
        )
        try:
            if self._on_request:
                for hook in self._on_request:
                    hook(scope, request_id)
            if refused is not None:
                await responder.send_error(refused)
                return
            await self.app(scope, receive, responder.send)
        except ClientDisconnect:
            # The client went away while the app read the body: nobody to answer, nothing to log.
            logger.debug("client disconnected (request_id=%s)", request_id)
        except Exception as exc:
            error, unexpected = error_from_exception(exc, self.config.debug)
            if responder.started or unexpected:
                # Logged once, by the server that receives the re-raised exception.
                tag_exception(exc, request_id)
                if not responder.started:
                    if self._on_exception:
                        run_exception_hooks(self._on_exception, exc, scope)
                    await responder.send_error(error)
                del error
                raise
            await responder.send_error(error)
            # exc's traceback holds this frame: a local still pointing at exc (an ApiError is
            # its own error) would make a reference cycle that only the cyclic GC frees.
            del error
        finally:
            current_scope.reset(token)
