"""Integration hooks: how tracing and error reporting plug into the middleware.

An :class:`Integration` overrides the hooks it needs; the middleware collects only the
overridden ones when it is built, so with no integration (the default) the per-request cost
is one truthiness test. ``opsgenie_envelope.otel`` and ``opsgenie_envelope.sentry`` are the
integrations the package ships.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Scope

__all__ = [
    "Integration",
    "check_integrations",
    "prepare_integrations",
    "run_exception_hooks",
]

logger = logging.getLogger("opsgenie_envelope")

RequestHook = Callable[[Scope, str], None]
ExceptionHook = Callable[[Exception, Scope], None]


class Integration:
    """Base class of the middleware's ``integrations`` option: override the hooks you need.

    Example::

        class AuditLog(Integration):
            def on_request(self, scope, request_id):
                audit.info("%s %s %s", request_id, scope["method"], scope["path"])

        app.add_middleware(EnvelopeMiddleware, integrations=[AuditLog()])
    """

    def check(self, app: ASGIApp) -> None:
        """Refuse a set-up that cannot work: called once, with the app the middleware wraps.

        Raise ``ValueError`` naming the fix. Starlette and FastAPI build their middleware
        when the app starts (first lifespan event or request), so that is when it raises.
        """

    def on_request(self, scope: Scope, request_id: str) -> None:
        """Called for every HTTP request once its ID is issued (``get_request_id()`` works).

        An exception here fails the request like one raised by the app: a 500 envelope.
        """

    def on_exception(self, exc: Exception, scope: Scope) -> None:
        """Called for an unexpected exception just before the middleware answers the 500.

        Not called for taxonomy errors and framework errors (they are answers, not failures),
        nor when the response had already started (the exception then reaches the layers
        around the middleware as it is). An exception here is logged and ignored: the 500 is
        still answered.
        """


def _overrides(integration: Integration, name: str) -> bool:
    return getattr(type(integration), name) is not getattr(Integration, name)


def check_integrations(value: object) -> tuple[Integration, ...]:
    """Validate the ``integrations`` option: an iterable of :class:`Integration` objects."""
    if isinstance(value, (str, bytes, Integration)) or not isinstance(value, Iterable):
        raise TypeError("integrations must be an iterable of Integration objects")
    checked = tuple(value)
    for item in checked:
        if not isinstance(item, Integration):
            raise TypeError(f"integrations entries must be Integration objects, got {item!r}")
    return checked


def prepare_integrations(
    integrations: Iterable[Integration], app: ASGIApp
) -> tuple[tuple[RequestHook, ...], tuple[ExceptionHook, ...]]:
    """Run each integration's start-up check; return the hooks the middleware must call."""
    for integration in integrations:
        integration.check(app)
    on_request = tuple(i.on_request for i in integrations if _overrides(i, "on_request"))
    on_exception = tuple(i.on_exception for i in integrations if _overrides(i, "on_exception"))
    return on_request, on_exception


def run_exception_hooks(hooks: tuple[ExceptionHook, ...], exc: Exception, scope: Scope) -> None:
    """Call every ``on_exception`` hook; one that fails is logged and the others still run."""
    for hook in hooks:
        try:
            hook(exc, scope)
        except Exception:
            logger.warning("integration hook %r failed", hook, exc_info=True)
