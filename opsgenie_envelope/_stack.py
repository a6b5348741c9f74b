"""What the middleware reads from the app around it, once: the layers inside it, mounted apps.

Starlette builds its middleware stack from the inside out, so when ``EnvelopeMiddleware`` is
constructed its ``app`` is the finished inner chain (``ExceptionMiddleware`` → router, and any
middleware added before it). Two things are decided from it, never per request:

* :func:`check_order` refuses layers that cannot work inside the envelope: Starlette's
  ``GZipMiddleware`` (it compresses answers before they can be enveloped) and
  ``CORSMiddleware`` (the errors rendered for raised exceptions never pass through it),
  on the app itself or on an app mounted in it.
* :func:`mounted_docs_paths` finds the documentation URLs of the apps mounted in the app
  (``app.mount("/api", FastAPI())``), so their Swagger UI keeps working untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Host, Mount, Router

from ._config import docs_paths

__all__ = ["check_order", "mounted_docs_paths", "wrapped_apps"]

MAX_DEPTH = 64
"""Most layers and mount levels followed: a guard against cycles, far above real stacks."""

_WHERE = "EnvelopeMiddleware"
_FIX = {
    GZipMiddleware: (
        "it compresses answers before they can be enveloped, so clients get bare payloads "
        "and FastAPI's raw 422 (with the submitted input)",
        "app.add_middleware(GZipMiddleware, ...) after install(app) or "
        "app.add_middleware(EnvelopeMiddleware)",
    ),
    CORSMiddleware: (
        "the error envelopes rendered for raised errors never pass through it, so browsers "
        "cannot read them",
        "install(app, cors={...}), or app.add_middleware(CORSMiddleware, ..., "
        "expose_headers=EXPOSE_HEADERS) after install(app) or "
        "app.add_middleware(EnvelopeMiddleware)",
    ),
}


def _refusal(cls: type, mount: str) -> RuntimeError:
    base = next(known for known in _FIX if issubclass(cls, known))
    why, fix = _FIX[base]
    where = f"the app mounted at {mount!r}" if mount else "the app"
    return RuntimeError(
        f"{cls.__name__} on {where} sits inside {_WHERE}: {why}. Add it to the outermost "
        f"app so that it wraps {_WHERE}: {fix}; in Starlette(middleware=[...]), list it "
        f"before Middleware({_WHERE})."
    )


def _next_layer(node: Any) -> Any:
    """The app ``node`` hands requests to, or ``None`` at the end of the chain.

    A function or method (a router's own routing, a plain ASGI function) ends the chain.
    """
    if isinstance(node, Router):
        inner = getattr(node, "middleware_stack", None)  # Router(middleware=...) only
    elif hasattr(node, "user_middleware"):
        inner = getattr(node, "router", None)  # a Starlette app: its routes, not its stack
    else:
        inner = getattr(node, "app", None)
    if inner is None or hasattr(inner, "__func__") or hasattr(inner, "__code__"):
        return None
    return inner


def _layers(app: Any) -> Iterator[tuple[Any, str]]:
    """Every layer below ``app`` (itself included) and the mount prefix it serves under.

    Follows ``.app`` links, a Starlette app's declared ``user_middleware`` and its router,
    a router's own middleware, and the apps its ``Mount`` and ``Host`` routes lead to.
    """
    pending: list[tuple[Any, str, int]] = [(app, "", 0)]
    seen: set[int] = set()
    while pending:
        node, mount, depth = pending.pop()
        while node is not None and id(node) not in seen and depth < MAX_DEPTH:
            seen.add(id(node))
            yield node, mount
            for entry in getattr(node, "user_middleware", None) or ():
                yield entry.cls, mount  # declared, not built yet: checked as a class
            routes = node.routes if isinstance(node, Router) else ()
            for route in routes:
                if isinstance(route, (Mount, Host)):
                    prefix = mount + route.path if isinstance(route, Mount) else mount
                    pending.append((route.app, prefix or "/", depth + 1))
            node, depth = _next_layer(node), depth + 1


def check_order(app: Any) -> None:
    """Refuse, with the fix in the message, a stack where a layer below ``app`` cannot work.

    ``app`` is what ``EnvelopeMiddleware`` wraps (or the app ``install`` adds it to). Raises
    ``RuntimeError`` when Starlette's ``GZipMiddleware`` or ``CORSMiddleware`` sits below it,
    on the app itself or on an app mounted in it.
    """
    for node, mount in _layers(app):
        cls = node if isinstance(node, type) else type(node)
        if issubclass(cls, (GZipMiddleware, CORSMiddleware)):
            raise _refusal(cls, mount)


def mounted_docs_paths(app: Any) -> frozenset[str]:
    """The documentation URLs of the FastAPI apps mounted (at any depth) in ``app``.

    Each is the mount's prefix joined to what :func:`docs_paths` finds on the mounted app.
    A mount whose path has parameters (``/{tenant}/api``) has no fixed URL and is skipped.
    """
    found: set[str] = set()
    for node, mount in _layers(app):
        if mount and "{" not in mount and hasattr(node, "openapi_url"):
            found.update(mount.rstrip("/") + path for path in docs_paths(node))
    return frozenset(found)


def wrapped_apps(app: object) -> Iterator[object]:
    """``app`` and the apps it wraps, following each middleware's ``app`` attribute only.

    The plain chain a middleware sees below itself (no mounts, no declared middleware): what
    the integrations and ``RateLimitMiddleware`` check their place in.
    """
    seen: set[int] = set()
    for _ in range(MAX_DEPTH):
        if app is None or id(app) in seen:
            return
        seen.add(id(app))
        yield app
        app = getattr(app, "app", None)
