"""``EnvelopeMiddleware``: the one ASGI layer that does the per-request work.

Per request it issues the ID, starts the clock, and wraps ``send`` in a small responder that
adds ``X-Request-ID``/``X-Response-Time``, splices JSON success bodies into the envelope,
and re-renders error answers, exceptions and empty redirects as envelopes. A websocket gets
the ID (for ``get_request_id()`` and logging) and nothing else.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from time import perf_counter
from typing import Unpack
from urllib.parse import unquote, urlsplit

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._config import (
    DEFAULT_EXCLUDE_PATHS,
    EnvelopeConfig,
    EnvelopeOptions,
    docs_paths,
    excluded_paths,
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
    chunk_end,
    continues_json_lines,
    format_took,
    holds_json_lines,
    is_plausible_json,
    no_entity,
    opens_json_lines,
    render_error,
    render_extras,
    success_suffix,
)
from ._request_id import RequestIdPolicy
from ._stack import check_order, mounted_docs_paths
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

_PASS, _WRAP, _ERROR, _REDIRECT = 0, 1, 2, 3
_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
_RESPONSE_TIME = RESPONSE_TIME_HEADER.lower().encode()
_REQUEST_HEADERS = frozenset(
    {b"accept", _REQUEST_ID, b"content-type", b"content-length", b"transfer-encoding"}
)
_DROP = frozenset({b"content-length", _REQUEST_ID, _RESPONSE_TIME})
# A body with one of these is a file, a part of one, or encoded bytes: never spliced into.
_OPAQUE = frozenset(
    {b"content-encoding", b"content-disposition", b"accept-ranges", b"content-range"}
)
# Replaced when an answer is re-rendered as an error envelope (the body is new JSON).
_REPLACED = frozenset({b"content-type", b"content-encoding"})
_JSON_HEADERS = (b"content-type", b"application/json")
_JSON_ENDS = frozenset(bytes([b]) for b in JSON_LAST_BYTES)
_CONTROL = dict.fromkeys(range(32), " ") | {127: " "}


def _header_value(value: str) -> bytes:
    """Encode an error's header value, with control characters (CR, LF, NUL) blanked."""
    return value.translate(_CONTROL).encode("latin-1", "replace")


class _Responder:
    """One request's ``send`` wrapper and the state it needs (never kept on the middleware).

    The app calls :meth:`send`; what goes to the server goes through ``downstream``. A start
    whose body may change (JSON success, error, redirect) is held back until the body shows
    what the envelope must be; every start leaves through :meth:`_finish`, which appends
    ``Content-Length``, ``X-Request-ID`` and ``X-Response-Time``.

    What is left when the app returns without a response gone out (``started`` false) is in
    ``later``: an error answer held until the app returns or raises, or the other-slash path a
    router redirected to (served from ``snapshot``, with ``ignore_trailing_slash``).
    """

    __slots__ = (
        "body_parts",
        "body_size",
        "downstream",
        "excluded",
        "headers",
        "later",
        "length",
        "media",
        "message_key",
        "mode",
        "opened",
        "request_id",
        "scope",
        "snapshot",
        "start",
        "started",
        "started_at",
        "suffix",
        "tail",
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
    tail: bytes  # an opened stream's last significant byte and what follows (_check_stream)
    # Set only on the rare paths that use them (a held error, a slash redirect, see __call__).
    later: tuple[ApiError, list[tuple[bytes, bytes]]] | str | None
    snapshot: Scope | None  # the scope as the server sent it (ignore_trailing_slash)

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
        if self.excluded or status < 200 or status in NO_BODY_STATUSES:
            mode = _PASS
        elif status < 300:
            json = content_type == _JSON_HEADERS[1] or is_json_media_type(content_type)
            mode = _WRAP if json and not opaque and status != 206 else _PASS
        else:
            mode = _ERROR if status >= 400 else _REDIRECT
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
            # An encoded error body cannot be read: it is rendered from its status alone.
            encoded = opaque and any(name == b"content-encoding" for name, _ in headers)
            self.media = b"" if encoded else content_type.split(b";", 1)[0].strip().lower()
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
            self._check_stream(body, more)
            if not more:
                message["body"] = body + self.suffix
            await send(message)
            return
        if more:
            if not body:
                return  # nothing to decide on yet
            if not is_plausible_json(body, whole=False) or opens_json_lines(body):
                # Not one JSON value whatever its label says (text, JSON Lines): pass the
                # stream through untouched.
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
            self.tail = chunk_end(body)
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
        elif holds_json_lines(body):
            out = body  # JSON Lines labelled JSON: no envelope can hold them, sent as they are
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

    async def _error_body(self, message: Message) -> None:
        if self.mode == _REDIRECT:
            await self._redirect_body(message)
            return
        body: bytes = message.get("body", b"")
        if body:
            self.body_size += len(body)
            if self.body_size <= MAX_ERROR_BODY:
                self.body_parts.append(body)
        if message.get("more_body", False):
            return
        assert self.start is not None
        raw = b"".join(self.body_parts) if self.body_size <= MAX_ERROR_BODY else b""
        status: int = self.start["status"]
        error = error_from_response(status, raw, self.media)
        headers = [pair for pair in self.headers if pair[0] not in _REPLACED]
        if status == 500 and error.message == error.default_message and not error.errors:
            # A mounted app's ServerErrorMiddleware answers a bare 500 and then re-raises what
            # it caught: held until the app returns (sent then) or raises (rendered instead).
            # A 500 that says more (an exception handler's own) is the app's answer: sent.
            self.later = (error, headers)
            return
        await self.send_error(error, headers)

    async def _redirect_body(self, message: Message) -> None:
        """A 3xx: an empty one becomes an envelope (or, for a slash redirect, a replay)."""
        body: bytes = message.get("body", b"")
        if body:
            self.mode = _PASS  # the app's own redirect page: sent as it is
            await self.downstream(self._held_start(self._length()))
            await self.downstream(message)
            return
        if message.get("more_body", False):
            return
        assert self.start is not None
        status: int = self.start["status"]
        location = next((value for name, value in self.headers if name == b"location"), None)
        if location is not None and status == 307 and self._from_router():
            twin = _slash_twin(self.scope["path"])
            if twin is not None and unquote(urlsplit(location.decode("latin-1")).path) == twin:
                self.later = twin  # served at that path once the app returns
                return
        redirect = ApiError(_phrase(status))
        redirect.status_code = status
        headers = [pair for pair in self.headers if pair[0] not in _REPLACED]
        await self.send_error(redirect, headers)

    def _from_router(self) -> bool:
        """Tell whether a redirect may be replayed: the option is on and no endpoint matched.

        A router redirects for the slash only when none of its routes matched, so the scope
        names no endpoint, or a mounted app or router; a handler's own redirect is its answer.
        """
        if getattr(self, "snapshot", None) is None:
            return False
        endpoint = self.scope.get("endpoint")
        return endpoint is None or hasattr(endpoint, "routes")

    async def send_error(
        self,
        error: ApiError,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Answer with the error envelope of ``error`` (the response must not have started).

        ``headers`` are those the app's own answer had; where it set one of the error's
        default headers (a 429's ``X-RateLimit-Reason``), the app's value is kept, once.
        """
        if self.start is None:
            self.took = format_took(perf_counter() - self.started_at)
        body = render_error(
            error.message, self.took, self.request_id, code=error.code, errors=error.errors
        )
        raw = headers if headers is not None else []
        present = {name for name, _ in raw} if raw else ()
        raw.append(_JSON_HEADERS)
        for name, value in error.headers.items():
            key = _header_value(name).lower()
            if key not in _DROP and key not in present and key != b"content-type":
                raw.append((key, _header_value(value)))
        start = {"type": "http.response.start", "status": error.status_code}
        await self.downstream(self._finish(start, raw, b"%d" % len(body)))
        await self.downstream({"type": "http.response.body", "body": body})

    def restart(self, scope: Scope, excluded: bool) -> None:
        """Serve the request again, at ``scope``: nothing has gone out (a slash replay)."""
        self.scope = scope
        self.excluded = excluded
        self.mode = _PASS
        self.start = None
        self.later = self.snapshot = None  # once: a second redirect is answered as one


def _slash_twin(path: str) -> str | None:
    """The path a router redirects ``path`` to for its trailing slash (as Starlette's does)."""
    if path == "/":
        return None
    return path.rstrip("/") if path.endswith("/") else path + "/"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Redirect"


class EnvelopeMiddleware:
    """Make every HTTP response of an ASGI app an OpsGenie-style envelope.

    Adds ``X-Request-ID`` and ``X-Response-Time`` to every response, wraps JSON success
    bodies as ``{"data": ..., "took": ..., "requestId": ...}`` by splicing bytes, and renders
    :class:`ApiError` exceptions, framework errors and unexpected exceptions as error
    envelopes. Options are those of :class:`EnvelopeConfig`, given as keywords or as one
    prepared ``config`` (not both).

    Built when the app starts, it refuses a stack it cannot work in: Starlette's
    ``GZipMiddleware`` or ``CORSMiddleware`` inside it (added before it, or on a mounted
    app) raises ``RuntimeError`` naming the fix: add them so that they wrap it.

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
        check_order(app)
        self._ids = RequestIdPolicy(cfg.generator, cfg.trust_incoming_id, cfg.validator)
        self._issue = self._ids.issue
        # Until the first request reads the app's documentation URLs (and its mounted apps').
        self._exclude = excluded_paths(cfg, DEFAULT_EXCLUDE_PATHS)
        self._read_docs_paths = True
        self._scan_headers = cfg.negotiate or cfg.trust_incoming_id or cfg.require_json_body
        # Start-up checks of the integrations; only the hooks they override are called.
        self._on_request, self._on_exception = prepare_integrations(cfg.integrations, app)
        self._slashes = cfg.ignore_trailing_slash

    def _resolve_docs_paths(self, scope: Scope) -> None:
        """Exclude the documentation URLs of the app served: one time, then never again.

        The app is the wrapped one when it names its URLs (``EnvelopeMiddleware(app)``), else
        ``scope["app"]`` (Starlette sets it before its middleware stack runs); the apps mounted
        in it add theirs below their prefix. Idempotent: two first requests racing in two
        threads compute and store the same set.
        """
        app = self.app if hasattr(self.app, "openapi_url") else scope.get("app")
        docs = docs_paths(app) | mounted_docs_paths(self.app if app is None else app)
        self._exclude = excluded_paths(self.config, docs)
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

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A websocket: the request ID in the scope and the context, the handshake untouched."""
        incoming: bytes | None = None
        if self.config.trust_incoming_id:
            for name, value in scope.get("headers", ()):
                if name == _REQUEST_ID:
                    incoming = value if incoming is None else b""
        scope[REQUEST_ID_KEY] = self._ids.accept(incoming)
        token = current_scope.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            current_scope.reset(token)

    async def _unanswered(self, responder: _Responder, receive: Receive) -> None:
        """The app returned and nothing went out: a held error, a slash replay, or no answer."""
        later = getattr(responder, "later", None)
        if isinstance(later, str) and responder.snapshot is not None:
            scope = dict(responder.snapshot)
            raw: bytes = scope.get("raw_path") or scope["path"].encode()
            scope["path"] = later
            scope["raw_path"] = raw.rstrip(b"/") if raw.endswith(b"/") else raw + b"/"
            root: str | None = scope.get("root_path")
            path = later[len(root) :] if root and later.startswith(root) else later
            responder.restart(scope, path in self._exclude)
            current_scope.set(scope)  # reset with the request's own token when it ends
            await self.app(scope, receive, responder.send)
            if not responder.started:
                await self._unanswered(responder, receive)
        elif isinstance(later, tuple):
            await responder.send_error(*later)
        else:
            logger.error(
                "the app returned without a complete response; answered 500 (request_id=%s)",
                responder.request_id.decode(),
            )
            await responder.send_error(InternalServerError())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or REQUEST_ID_KEY in scope:
            if scope["type"] == "websocket" and REQUEST_ID_KEY not in scope:
                await self._websocket(scope, receive, send)
                return
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
        if self._slashes:
            responder.snapshot = dict(scope)  # served again as sent, at the other path
        try:
            if self._on_request:
                for hook in self._on_request:
                    hook(scope, request_id)
            if refused is not None:
                await responder.send_error(refused)
                return
            await self.app(scope, receive, responder.send)
            if not responder.started:
                await self._unanswered(responder, receive)
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
