"""``EnvelopeMiddleware``: the one ASGI layer that does the per-request work.

Per request it issues the ID, starts the clock, runs the 406/415 checks and wraps ``send``
in a :class:`~._responder.Responder` (which makes the answer an envelope); exceptions that
escape the app are rendered here. A websocket gets the ID (for ``get_request_id()`` and
logging) and nothing else.
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Unpack

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from ._body_limit import limit_body
from ._config import (
    EnvelopeConfig,
    EnvelopeOptions,
    ExcludedPaths,
    docs_paths,
    excluded_paths,
    resolve_config,
)
from ._context import REPLAYED_KEY, REQUEST_ID_KEY, current_scope
from ._errors import (
    ApiError,
    ContentTooLarge,
    InternalServerError,
    NotAcceptable,
    UnsupportedMediaType,
)
from ._exception_id import tag_exception
from ._framework import error_from_exception
from ._integration import prepare_integrations, run_exception_hooks
from ._negotiation import MAX_ACCEPT, accepts_json, is_json_media_type
from ._request_id import RequestIdPolicy
from ._responder import REQUEST_ID_BYTES, Responder
from ._stack import check_order, mounted_docs_paths
from ._wire import (
    BODY_METHODS,
)

__all__ = ["EnvelopeMiddleware"]

logger = logging.getLogger("opsgenie_envelope")

_REQUEST_HEADERS = frozenset(
    {b"accept", REQUEST_ID_BYTES, b"content-type", b"content-length", b"transfer-encoding"}
)


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
        # Set by the first request, which reads the app's documentation URLs (and its mounted
        # apps'): see _resolve_docs_paths.
        self._exclude: frozenset[str] | ExcludedPaths = frozenset()
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
            elif name == REQUEST_ID_BYTES:
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
                if name == REQUEST_ID_BYTES:
                    incoming = value if incoming is None else b""
        scope[REQUEST_ID_KEY] = self._ids.accept(incoming)
        token = current_scope.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            current_scope.reset(token)

    async def _unanswered(self, responder: Responder, receive: Receive) -> None:
        """The app returned and nothing went out: a held error, a slash replay, or no answer."""
        later = getattr(responder, "later", None)
        if isinstance(later, str) and responder.snapshot is not None:
            scope = dict(responder.snapshot)
            raw: bytes = scope.get("raw_path") or scope["path"].encode()
            scope["path"] = later
            scope[REPLAYED_KEY] = True  # the same request: layers inside count it once
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
        if self.config.max_body_size is not None:
            receive, too_large = limit_body(scope, receive, self.config.max_body_size)
            if too_large and refused is None:
                refused = ContentTooLarge()
        scope[REQUEST_ID_KEY] = request_id
        token = current_scope.set(scope)
        responder = Responder(
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
