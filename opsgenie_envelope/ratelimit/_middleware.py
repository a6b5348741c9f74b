"""``RateLimitMiddleware``: a :class:`RateLimit` on every HTTP request, as a pure-ASGI layer."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import REQUEST_ID_KEY, EnvelopeMiddleware
from .._context import REPLAYED_KEY
from .._stack import wrapped_apps
from ._limit import RateLimit

__all__ = ["RateLimitMiddleware"]

_ORDER = (
    "RateLimitMiddleware must run inside EnvelopeMiddleware, which renders its 429: with "
    "app.add_middleware, add RateLimitMiddleware first and EnvelopeMiddleware (or install()) "
    "after it; in Starlette(middleware=[...]), list EnvelopeMiddleware first"
)


class RateLimitMiddleware:
    """Check a :class:`RateLimit` before every HTTP request reaches the app.

    Answers under the limit carry OpsGenie's ``X-RateLimit-State: OK`` with the limit's
    ``X-RateLimit-Reason`` and ``X-RateLimit-Period-In-Sec``.

    Takes a ready ``RateLimit`` or the options to build one. It must sit inside
    :class:`~opsgenie_envelope.EnvelopeMiddleware` (which renders the 429 and the 503):
    Starlette's ``add_middleware`` puts each new middleware outside the ones before it.

    Example::

        from fastapi import FastAPI
        from opsgenie_envelope.fastapi import install
        from opsgenie_envelope.ratelimit import RateLimitMiddleware

        app = FastAPI()
        app.add_middleware(RateLimitMiddleware, limit="600/minute", key="api_key")
        install(app)  # after: EnvelopeMiddleware ends up outside
    """

    def __init__(self, app: ASGIApp, /, limit: RateLimit | str, **options: Any) -> None:
        if not callable(app):
            raise TypeError("app must be an ASGI application")
        if any(isinstance(inner, EnvelopeMiddleware) for inner in wrapped_apps(app)):
            raise ValueError(_ORDER)  # the wrapped stack must not already hold the envelope
        if isinstance(limit, RateLimit):
            if options:
                raise TypeError("pass either a RateLimit or the options to build one, not both")
            self.limit = limit
        else:
            self.limit = RateLimit(limit, **options)
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if REQUEST_ID_KEY not in scope:
            raise RuntimeError(_ORDER)
        # A trailing-slash replay (ignore_trailing_slash) is the request counted the first time.
        if REPLAYED_KEY not in scope and not await self.limit.check(HTTPConnection(scope)):
            await self.app(scope, receive, send)
            return
        ok_headers = self.limit.ok_headers

        async def send_with_state(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] != 429:
                headers = MutableHeaders(scope=message)
                for name, value in ok_headers.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_state)
