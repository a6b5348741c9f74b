"""``EnvelopeMiddleware``: the one ASGI layer that does the per-request work.

The middleware holds the configuration; each HTTP request is one
:class:`~._exchange.Exchange`, which issues the ID, starts the clock, runs the 406/415
checks, calls the app and makes the answer an envelope. A websocket gets the ID (for
``get_request_id()`` and logging) and nothing else.

The request-ID source and the clock are injected: the ``generator`` and ``clock`` options,
or, for a while, :func:`injected` (what ``opsgenie_envelope.testing`` uses to make every
middleware of the process issue predictable IDs and ``took``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Unpack

from starlette.types import ASGIApp, Receive, Scope, Send

from ._config import (
    EnvelopeConfig,
    EnvelopeOptions,
    ExcludedPaths,
    docs_paths,
    excluded_paths,
    resolve_config,
)
from ._context import REQUEST_ID_KEY, current_scope
from ._exchange import REQUEST_ID_BYTES, Exchange
from ._integration import prepare_integrations
from ._request_id import RequestIdPolicy
from ._stack import check_order, mounted_docs_paths

__all__ = ["EnvelopeMiddleware", "injected"]

Clock = Callable[[], float]

# Every middleware alive, and the (generator, clock) pairs injected into them, innermost last.
_LIVE: weakref.WeakSet[EnvelopeMiddleware] = weakref.WeakSet()
_INJECTED: list[tuple[Callable[[], str], Clock]] = []
_LOCK = threading.Lock()


@contextmanager
def injected(generator: Callable[[], str], clock: Clock) -> Iterator[None]:
    """For the block, make every ``EnvelopeMiddleware`` use ``generator`` and ``clock``.

    Middlewares built before the block and during it alike; one built with its own
    ``generator`` keeps it (its IDs stay its own). Blocks nest; leaving one restores what
    was in force before it. Process-wide: meant for tests that do not run at the same time.
    """
    with _LOCK:
        _INJECTED.append((generator, clock))
        for middleware in _LIVE:
            middleware._use_sources()
    try:
        yield
    finally:
        with _LOCK:
            _INJECTED.remove((generator, clock))
            for middleware in _LIVE:
                middleware._use_sources()


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
        # Set by the first request, which reads the app's documentation URLs (and its mounted
        # apps'): see _resolve_docs_paths.
        self._exclude: frozenset[str] | ExcludedPaths = frozenset()
        self._read_docs_paths = True
        # Start-up checks of the integrations; only the hooks they override are called.
        self._on_request, self._on_exception = prepare_integrations(cfg.integrations, app)
        self._slashes = cfg.ignore_trailing_slash
        self._max_body_size = cfg.max_body_size
        self._ids: RequestIdPolicy
        self._issue: Callable[[], str]
        self._clock: Clock
        with _LOCK:
            self._use_sources()
            _LIVE.add(self)

    def _use_sources(self) -> None:
        """Take the request-ID source and the clock in force: the options, or injected ones."""
        cfg = self.config
        generator, clock = cfg.generator, cfg.clock
        if _INJECTED:
            injected_generator, clock = _INJECTED[-1]
            if generator is None:
                generator = injected_generator
        self._ids = RequestIdPolicy(generator, cfg.trust_incoming_id, cfg.validator)
        self._issue = self._ids.issue
        self._clock = clock

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or REQUEST_ID_KEY in scope:
            if scope["type"] == "websocket" and REQUEST_ID_KEY not in scope:
                await self._websocket(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if self._read_docs_paths:
            self._resolve_docs_paths(scope)
        await Exchange(self, scope, receive, send).run()
