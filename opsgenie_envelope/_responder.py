"""The per-request responder: the ``send`` wrapper that makes one answer an envelope.

``EnvelopeMiddleware`` makes one :class:`Responder` per request. The app calls its ``send``;
it adds ``X-Request-ID``/``X-Response-Time``, splices JSON success bodies into the envelope,
holds back what may still change (a JSON start, an error, a bare 500 or an empty redirect),
and re-renders error answers as error envelopes.
"""

from __future__ import annotations

import logging
from time import perf_counter
from urllib.parse import unquote, urlsplit

from starlette.types import Message, Scope, Send

from ._context import EXTRAS_KEY
from ._errors import ApiError, InternalServerError
from ._framework import error_from_response, status_phrase
from ._negotiation import is_json_media_type
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
from ._wire import NO_BODY_STATUSES, REQUEST_ID_HEADER, RESPONSE_TIME_HEADER, MessageKey

__all__ = ["MAX_ERROR_BODY", "REQUEST_ID_BYTES", "SPLICE_COPY_LIMIT", "Responder"]

logger = logging.getLogger("opsgenie_envelope")

MAX_ERROR_BODY = 64 * 1024
"""Largest error body read to find its message; the rest is dropped (the default message wins)."""

SPLICE_COPY_LIMIT = 256 * 1024
"""Largest JSON body copied into one envelope message; a larger one is sent between the
envelope's prefix and suffix as three messages, so its bytes are never copied."""

_PASS, _WRAP, _ERROR, _REDIRECT = 0, 1, 2, 3
REQUEST_ID_BYTES = REQUEST_ID_HEADER.lower().encode()
"""``x-request-id`` as ASGI spells header names."""
_RESPONSE_TIME = RESPONSE_TIME_HEADER.lower().encode()
_DROP = frozenset({b"content-length", REQUEST_ID_BYTES, _RESPONSE_TIME})
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


class Responder:
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
                    headers.append((REQUEST_ID_BYTES, self.request_id))
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
        headers.append((REQUEST_ID_BYTES, self.request_id))
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
        redirect = ApiError(status_phrase(status) or "Redirect")
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
