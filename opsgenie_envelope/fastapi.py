"""FastAPI integration: the OpenAPI document (and so ``/docs``) shows the real wire format.

Opt-in, and the one module of the package that imports FastAPI: :class:`~opsgenie_envelope.Pager`
and :class:`~opsgenie_envelope.Expander` describe their query parameters as plain data
(:class:`~opsgenie_envelope.QueryParameters`), and :func:`query` turns that into a FastAPI
dependency::

    from typing import Annotated

    from fastapi import Depends, FastAPI
    from opsgenie_envelope import Forbidden, NotFound, Page, Pager
    from opsgenie_envelope.fastapi import errors, install, query

    app = FastAPI()
    install(app)  # adds EnvelopeMiddleware and rewrites app.openapi()
    alert_pages = Pager(sort_fields=["createdAt"])

    @app.get("/v2/alerts/{alert_id}", responses=errors(NotFound, Forbidden))
    async def get_alert(alert_id: str) -> dict[str, str]: ...

    @app.get("/v2/alerts")
    async def list_alerts(page: Annotated[Page, Depends(query(alert_pages))]) -> list[str]: ...

Each success schema becomes the envelope around the route's ``response_model``; each error
status gets the error envelope with its internal ``code`` values; FastAPI's 422
``HTTPValidationError`` gives way to the 422 envelope with ``errors``; 500 (and 400, 406, 415
where they apply) are documented on every route, and ``X-Request-ID`` and
``X-Response-Time`` on every response. The dependencies are the declaration: a route using
``Depends(query(pager))`` is documented as paged (``paging``, ``totalCount``, ``X-Paging-*``,
416), one using ``Depends(query(expander))`` as expandable (``expandable``, 400), each with its
parameters; a handler annotated ``-> None`` answers without ``data``.
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, Protocol, TypeVar, Unpack

import fastapi.routing
from fastapi import FastAPI, Query
from fastapi.routing import APIRoute
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from ._config import EnvelopeConfig, EnvelopeOptions, resolve_config
from ._errors import ApiError
from ._middleware import EnvelopeMiddleware
from ._openapi import (
    ENVELOPE_KEY,
    ERRORS_KEY,
    Declaration,
    EnvelopeKeys,
    ErrorDescription,
    describe_error,
    describe_status,
    rewrite_openapi,
)
from ._options import check_bool
from ._query import QueryParameter, QueryParameters
from ._stack import check_order
from ._wire import EXPOSE_HEADERS

__all__ = [
    "HasQueryParameters",
    "envelope",
    "errors",
    "install",
    "query",
    "query_dependency",
    "rate_limited",
]

T = TypeVar("T")


class HasQueryParameters(Protocol[T]):
    """What :func:`query` takes: a :class:`~opsgenie_envelope.Pager`, an
    :class:`~opsgenie_envelope.Expander`, or any object describing its query parameters."""

    @property
    def query_parameters(self) -> QueryParameters[T]:
        """The parameters, and how their values become the result."""
        ...


_DECLARATION = "__opsgenie_envelope_declaration__"
"""Attribute of a :func:`query_dependency` callable holding what it declares for the document."""
_NO_ENTITY = (None, type(None), "None")
_route_contexts: Callable[[Any], Iterable[Any]] | None = getattr(
    fastapi.routing, "iter_route_contexts", None
)
"""FastAPI's walk over routes and included routers as its document sees them, when it has one."""


_built: weakref.WeakKeyDictionary[QueryParameters[Any], Callable[..., Awaitable[Any]]] = (
    weakref.WeakKeyDictionary()
)
"""The dependency built for each description, so one pager gives one dependency."""
_built_lock = threading.Lock()


def query(source: HasQueryParameters[T]) -> Callable[..., Awaitable[T]]:
    """The FastAPI dependency of a :class:`~opsgenie_envelope.Pager` or an ``Expander``.

    ``Depends(query(pager))`` gives the route the request's checked
    :class:`~opsgenie_envelope.Page`; ``Depends(query(expander))`` its
    :class:`~opsgenie_envelope.Expansion`. The parameters (``offset``, ``limit``, ``sort``,
    ``order``; ``expand``) are declared with their defaults, bounds and allowed values, and
    :func:`install` documents what the route answers (``paging``, ``expandable``, their
    errors). The same source always gives the same dependency, so FastAPI resolves it once
    per request however many times a route depends on it.

    Example::

        alert_pages = Pager(sort_fields=["createdAt"])

        @app.get("/v2/alerts")
        async def list_alerts(page: Annotated[Page, Depends(query(alert_pages))]) -> list[Alert]:
            rows, total = await db.alerts(page.offset, page.limit, page.sort, page.order)
            return page.items(rows, total=total)
    """
    described = getattr(source, "query_parameters", None)
    if not isinstance(described, QueryParameters):
        raise TypeError(
            f"query() takes a Pager, an Expander or an object with query_parameters, got {source!r}"
        )
    return query_dependency(described)


def _annotation(parameter: QueryParameter) -> Any:
    """The Python type FastAPI checks a parameter's value against."""
    item: Any = int if parameter.kind == "integer" else str
    if parameter.enum is not None:
        item = Literal.__getitem__(parameter.enum)
    if parameter.repeated:
        return list[item]
    if parameter.default is None or parameter.nullable:
        return item | None
    return item


def _query_keywords(parameter: QueryParameter) -> dict[str, Any]:
    """The keywords of ``fastapi.Query`` that declare and document a parameter."""
    default = parameter.default
    keywords: dict[str, Any] = {
        "default": list(default) if isinstance(default, tuple) else default,
        "description": parameter.description or None,
    }
    extra: dict[str, Any] = {}  # documented only: the resolver answers for these
    if parameter.minimum is not None:
        extra["minimum"] = parameter.minimum
    if parameter.maximum is not None:
        extra["maximum"] = parameter.maximum
    if parameter.max_length is not None:
        extra["maxLength"] = parameter.max_length
    if parameter.known is not None:
        known = {"type": "string", "enum": list(parameter.known)}
        extra.update({"items": known} if parameter.repeated else known)
    if extra:
        keywords["json_schema_extra"] = extra
    if parameter.pattern is not None:
        keywords["pattern"] = parameter.pattern
    if not parameter.documented:
        keywords["include_in_schema"] = False
    return keywords


def query_dependency(described: QueryParameters[T]) -> Callable[..., Awaitable[T]]:
    """Make a FastAPI dependency of query parameters described as plain data.

    FastAPI reads a dependency's parameters from its signature; the defaults, bounds and
    allowed values of a :class:`~opsgenie_envelope.Pager` or an ``Expander`` are known
    only once one is built, so the signature is built here, each
    :class:`~opsgenie_envelope.QueryParameter` a ``fastapi.Query``. The dependency calls
    ``described.resolve``; what ``described.declaration`` says, :func:`install` documents
    on every route using it. :func:`query` is the short way for a pager or an expander.

    Example::

        async def resolve(request: Request, order: str) -> str:
            return order

        order = query_dependency(
            QueryParameters(
                (QueryParameter("order", "string", default="desc", enum=("asc", "desc")),),
                resolve,
                returns=str,
            )
        )
    """
    if not isinstance(described, QueryParameters):
        raise TypeError(f"query_dependency() takes QueryParameters, got {described!r}")
    with _built_lock:
        dependency = _built.get(described)
        if dependency is None:
            dependency = _build(described)
            _built[described] = dependency
    return dependency


def _build(described: QueryParameters[T]) -> Callable[..., Awaitable[T]]:
    resolve = described.resolve

    async def dependency(**values: Any) -> T:
        return await resolve(**values)

    keyword = inspect.Parameter.KEYWORD_ONLY
    signature = [inspect.Parameter("request", keyword, annotation=Request)]
    if described.response:
        signature.append(inspect.Parameter("response", keyword, annotation=Response))
    for parameter in described.parameters:
        signature.append(
            inspect.Parameter(
                parameter.name,
                keyword,
                annotation=_annotation(parameter),
                default=Query(**_query_keywords(parameter)),
            )
        )
    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        signature, return_annotation=described.returns
    )
    dependency.__name__ = getattr(resolve, "__name__", "dependency")
    if described.declaration is not None:
        setattr(dependency, _DECLARATION, described.declaration)
    return dependency


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """The app's API routes as its document sees them (router prefix and dependencies applied)."""
    if _route_contexts is None:  # older FastAPI copies included routes onto the app
        yield from (route for route in app.routes if isinstance(route, APIRoute))
        return
    for context in _route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def _declared_by(dependant: Any) -> Iterator[Declaration]:
    """The declarations of every dependency in a route's dependency tree."""
    for dependency in dependant.dependencies:
        declaration = getattr(dependency.call, _DECLARATION, None)
        if isinstance(declaration, Declaration):
            yield declaration
        yield from _declared_by(dependency)


def _returns_nothing(route: Any) -> bool:
    """A handler annotated ``-> None`` (and no ``response_model``): it never sends an entity."""
    if route.response_model is not None:
        return False
    try:
        annotation = inspect.signature(route.endpoint).return_annotation
    except (TypeError, ValueError):
        return False
    return any(annotation is nothing or annotation == nothing for nothing in _NO_ENTITY)


def _declarations(app: FastAPI) -> dict[tuple[str, str], list[Declaration]]:
    """What each operation's code declares: ``(path, method)`` → its declarations.

    Read from the routes: the dependencies built by :func:`query_dependency` and the
    handlers that return nothing.
    """
    found: dict[tuple[str, str], list[Declaration]] = {}
    for route in _api_routes(app):
        if not route.include_in_schema:
            continue
        declared = list(_declared_by(route.dependant))
        if _returns_nothing(route):
            declared.append(Declaration(entity=False))
        if declared:
            for method in route.methods or ():
                found.setdefault((route.path_format, method.lower()), []).extend(declared)
    return found


def rate_limited(dependency: Callable[..., T]) -> Callable[..., T]:
    """Declare that ``dependency`` checks a rate limit; return it unchanged.

    Routes using it are documented with the 429 and, on their successes, the
    ``X-RateLimit-State: OK`` headers that ``RateLimit.check(request, response)`` sets. A
    ``RateLimit`` used as ``Depends(limit)`` declares itself; this is for a dependency that
    calls ``check`` itself (after authentication, say).

    Example::

        @rate_limited
        async def caller(request: Request, response: Response) -> str:
            await limit.check(request, response)
            return "ok"
    """
    from ._errors import TooManyRequests

    declaration = Declaration(rate_limited=True, errors=(describe_error(TooManyRequests),))
    setattr(dependency, _DECLARATION, declaration)
    return dependency


def errors(*classes: type[ApiError]) -> dict[int | str, dict[str, Any]]:
    """Document the :class:`ApiError` classes a route raises; pass it as ``responses=``.

    Each status gets the error envelope schema, an example per class and, where the classes
    have them, the internal ``code`` values. Works on routes, ``APIRouter(responses=...)``,
    ``include_router(..., responses=...)`` and ``FastAPI(responses=...)``; merge it with
    other entries as a dict: ``responses={**errors(NotFound), 302: {...}}``.

    Example::

        @app.delete("/v2/alerts/{alert_id}", responses=errors(NotFound, Forbidden, NotSupported))
        async def delete_alert(alert_id: str) -> None: ...
    """
    described: dict[int, list[ErrorDescription]] = {}
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, ApiError)):
            raise TypeError(f"errors() takes ApiError subclasses, got {cls!r}")
        described.setdefault(cls.status_code, []).append(describe_error(cls))
    return {
        status: {ERRORS_KEY: listed, "description": describe_status(listed)}
        for status, listed in described.items()
    }


def envelope(
    *, message: bool = False, expandable: Iterable[str] | None = None, paged: bool = False
) -> dict[str, Any]:
    """Document optional success keys a route sends by hand; pass it as ``openapi_extra=``.

    Routes using ``Depends(query(pager))`` or ``Depends(query(expander))`` need none of this:
    :func:`install` documents them from the dependency. ``envelope()`` is for what no
    dependency shows, and documents the answer's keys only: no query parameter (the route's
    own signature declares those) and no error (declare them with :func:`errors`).

    Args:
        message: the route calls :func:`set_message` (201 and 202 are documented with a
            message anyway). Rendered under the middleware's ``message_key``.
        expandable: the names the route lists under ``expandable`` when it calls
            ``Expander.apply``/``parse`` itself.
        paged: the route answers pages with :func:`~opsgenie_envelope.paged` or
            ``Page.response``: ``paging``, ``totalCount`` and the ``X-Paging-*`` headers.

    Example::

        @app.get("/v2/teams", openapi_extra=envelope(paged=True))
        async def list_teams(request: Request, offset: int = 0, limit: int = 20) -> Response:
            rows, total = await db.teams(offset, limit)
            return paged(request, rows, offset=offset, limit=limit, total=total)
    """
    check_bool("message", message)
    check_bool("paged", paged)
    options: EnvelopeKeys = {}
    if message:
        options["message"] = True
    if expandable is not None:
        if isinstance(expandable, str) or not all(isinstance(n, str) for n in expandable):
            raise TypeError("expandable must be an iterable of field names")
        options["expandable"] = list(dict.fromkeys(expandable))
    if paged:
        options["paged"] = True
    return {ENVELOPE_KEY: options}


def _added_config(app: FastAPI) -> EnvelopeConfig | None:
    """The configuration of the ``EnvelopeMiddleware`` already added to ``app``, if any."""
    for entry in app.user_middleware:
        if isinstance(entry.cls, type) and issubclass(entry.cls, EnvelopeMiddleware):
            kwargs = dict(entry.kwargs)
            config: Any = kwargs.pop("config", None)  # checked by resolve_config
            return resolve_config(config, kwargs)
    return None


class _Openapi:
    """``app.openapi`` once installed: FastAPI's document, rewritten once per generation."""

    def __init__(self, app: FastAPI, config: EnvelopeConfig) -> None:
        self.app = app
        self.generate = app.openapi
        self.config = config
        self.rewritten: dict[str, Any] | None = None
        self.lock = threading.Lock()

    def __call__(self) -> dict[str, Any]:
        doc = self.generate()
        if doc is not self.rewritten:  # FastAPI made a new one (first call, routes changed)
            with self.lock:  # rewritten in place: never twice, even from two threads
                if doc is not self.rewritten:
                    rewrite_openapi(doc, self.config, _declarations(self.app))
                    self.rewritten = doc
        return doc


def _cors_options(cors: Mapping[str, Any]) -> dict[str, Any]:
    """``CORSMiddleware`` keywords from ``cors``, exposing the envelope's headers too.

    ``expose_headers`` gets :data:`~opsgenie_envelope.EXPOSE_HEADERS` added to those given
    (each once). A keyword ``CORSMiddleware`` does not take is a ``TypeError`` now, not when
    the app starts.
    """
    if not isinstance(cors, Mapping):
        raise TypeError("cors must be a mapping of CORSMiddleware keywords")
    options = dict(cors)
    given = options.get("expose_headers") or ()
    if isinstance(given, str):
        raise TypeError("cors['expose_headers'] must be a sequence of header names")
    known = {str(name).lower() for name in given}
    options["expose_headers"] = [*given, *(h for h in EXPOSE_HEADERS if h.lower() not in known)]
    try:
        inspect.signature(CORSMiddleware).bind(None, **options)
    except TypeError as exc:
        raise TypeError(f"cors: {exc}") from None
    return options


def install(
    app: FastAPI,
    *,
    config: EnvelopeConfig | None = None,
    cors: Mapping[str, Any] | None = None,
    **options: Unpack[EnvelopeOptions],
) -> EnvelopeConfig:
    """Add :class:`EnvelopeMiddleware` to ``app`` and make its OpenAPI document true to it.

    ``options`` (or a prepared ``config``) are the middleware's; they also decide what is
    documented (406 with ``negotiate``, 413 with ``max_body_size``, 415 with
    ``require_json_body``, ``message_key``).
    When the app already has the middleware, its configuration is used and no options may
    be given. Returns the configuration in force.

    ``cors`` (keywords of Starlette's ``CORSMiddleware``) adds ``CORSMiddleware`` around the
    envelope, so every answer, raised errors included, carries the CORS headers, and exposes
    the envelope's headers (each of :data:`~opsgenie_envelope.EXPOSE_HEADERS` once). Middleware added to ``app`` before
    ``install`` sits inside the envelope: ``GZipMiddleware`` or ``CORSMiddleware`` there is
    refused with a ``RuntimeError`` that names the fix (add them after ``install``).

    Example::

        app = FastAPI()
        install(app, require_json_body=True, cors={"allow_origins": ["https://ops.example.com"]})
    """
    if isinstance(app.openapi, _Openapi):
        raise RuntimeError("install() was already called on this app")
    cors_kwargs = None if cors is None else _cors_options(cors)
    added = _added_config(app)
    if added is None:
        added = resolve_config(config, options)
        check_order(app)  # what is added already will sit inside the envelope
        app.add_middleware(EnvelopeMiddleware, config=added)
    elif config is not None or options:
        raise TypeError(
            "EnvelopeMiddleware is already added to this app: give its options there, "
            "not to install()"
        )
    if cors_kwargs is not None:
        if any(
            isinstance(entry.cls, type) and issubclass(entry.cls, CORSMiddleware)
            for entry in app.user_middleware
        ):
            raise RuntimeError(
                "this app already has CORSMiddleware: give it expose_headers=EXPOSE_HEADERS "
                "instead of passing cors= to install()"
            )
        app.add_middleware(CORSMiddleware, **cors_kwargs)
    app.openapi = _Openapi(app, added)  # type: ignore[method-assign]
    return added
