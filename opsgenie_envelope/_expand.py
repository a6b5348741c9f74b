"""``expand`` (SPEC §5): a route declares fields it can load on demand; clients ask for them.

A route declares its expandable fields once, as an :class:`Expander` mapping each name to a
loader. Every answer of the route then lists the names under ``expandable``; a request's
``?expand=contact,rotation`` (or ``expand=contact&expand=rotation``) loads only those
fields, concurrently, and merges them into ``data`` — into each item when ``data`` is a list —
under their names, or under the key ``keys`` gives (OpsGenie's users expand ``contact`` into
``userContacts``).

Merging happens on the handler's Python data, before it is serialised: the middleware never
parses the payload again.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, overload

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ._context import set_envelope_field
from ._errors import BadRequest
from ._openapi import Declaration, describe_error
from ._options import check_bool, check_field_name, check_int
from ._query import QueryParameter, QueryParameters
from ._wire import (
    EXPAND,
    EXPANDABLE,
    FIELD_NAME_PATTERN,
    MAX_EXPAND_LENGTH,
    MAX_EXPAND_NAMES,
)

__all__ = ["Expander", "Expansion", "Loader", "split_expand"]

Loader = Callable[[dict[str, Any], Request], object]
"""Loads one expandable field: gets the entity and the request, returns the field's value.

Either a plain function (run in the thread pool) or an ``async`` one (awaited).
"""

_NAME = re.compile(FIELD_NAME_PATTERN)
_TOO_LONG = (
    f"expand is too long: at most {MAX_EXPAND_NAMES} names and {MAX_EXPAND_LENGTH} characters"
)


def _is_async(loader: Callable[..., object]) -> bool:
    """Whether calling ``loader`` returns a coroutine (functions, partials, callable objects)."""
    # A callable object is async when its class's ``__call__`` is.
    return inspect.iscoroutinefunction(loader) or inspect.iscoroutinefunction(type(loader).__call__)


def split_expand(values: Sequence[str]) -> list[str]:
    """Split raw ``expand`` query values into names: commas, whitespace and repeats tolerated.

    Raises ``BadRequest`` before splitting anything when the values are absurdly long or
    many (see :data:`MAX_EXPAND_LENGTH`, :data:`MAX_EXPAND_NAMES`). Names keep their case
    and the order of first appearance.
    """
    if len(values) > MAX_EXPAND_NAMES or sum(len(value) for value in values) > MAX_EXPAND_LENGTH:
        raise BadRequest(_TOO_LONG)
    names: dict[str, None] = {}
    count = 0
    for value in values:
        for part in value.split(","):
            name = part.strip()
            if name:
                count += 1
                names[name] = None
    if count > MAX_EXPAND_NAMES:
        raise BadRequest(_TOO_LONG)
    return list(names)


async def _gather(calls: Sequence[Callable[[], Awaitable[object]]], limit: int) -> list[object]:
    """Await every call, at most ``limit`` at a time; the first failure cancels the rest.

    The failure is raised as itself, never wrapped in an ``ExceptionGroup``, so an
    ``ApiError`` from a loader renders as that error.
    """
    if len(calls) == 1:
        return [await calls[0]()]
    results: list[object] = [None] * len(calls)
    failures: list[Exception] = []
    limiter = anyio.CapacityLimiter(limit)

    async with anyio.create_task_group() as group:

        async def run(index: int) -> None:
            async with limiter:
                try:
                    results[index] = await calls[index]()
                except Exception as exc:
                    failures.append(exc)
                    group.cancel_scope.cancel()

        for index in range(len(calls)):
            group.start_soon(run, index)
    if failures:
        raise failures[0]
    return results


class Expander:
    """The expandable fields of a route, and how to load each.

    Args:
        loaders: field name → loader, in the order ``expandable`` lists them. A loader is
            called as ``loader(entity, request)``; ``async`` loaders are awaited, plain ones
            run in the thread pool. Its result is merged into the entity under the name.
        keys: field name → the key its value is merged under, where that is not the name
            (``{"contact": "userContacts"}``, as OpsGenie's user model reads).
        lenient: ignore unknown names in ``expand`` instead of answering 400.
        concurrency: most loader calls in flight at once for one request.

    Example (Starlette)::

        alert_expand = Expander({"contact": load_contact, "rotation": load_rotation})

        async def get_alert(request: Request) -> Response:
            alert = await db.alert(request.path_params["alert_id"])
            return JSONResponse(await alert_expand.apply(request, alert))

    Example (FastAPI)::

        @app.get("/v2/alerts/{alert_id}")
        async def get_alert(
            alert_id: str, expansion: Annotated[Expansion, Depends(query(alert_expand))]
        ) -> dict[str, Any]:
            return await expansion.apply(await db.alert(alert_id))
    """

    __slots__ = ("_async", "_keys", "_loaders", "_query", "concurrency", "lenient", "names")

    def __init__(
        self,
        loaders: Mapping[str, Loader],
        *,
        keys: Mapping[str, str] | None = None,
        lenient: bool = False,
        concurrency: int = 16,
    ) -> None:
        if not isinstance(loaders, Mapping):
            raise TypeError("loaders must be a mapping of field name to loader")
        for name, loader in loaders.items():
            check_field_name("loaders", name, "keyed by field names")
            if not callable(loader):
                kind = type(loader).__name__
                raise TypeError(f"loaders must be callables, got {kind} for {name!r}")
        if keys is not None and not isinstance(keys, Mapping):
            raise TypeError("keys must be a mapping of field name to key")
        merged_under = {name: name for name in loaders}
        for name, key in (keys or {}).items():
            if name not in merged_under:
                raise ValueError(f"keys must be keyed by the loaders' names, got {name!r}")
            check_field_name("keys", key, "field names")
            merged_under[name] = key
        if len(set(merged_under.values())) < len(merged_under):
            raise ValueError("keys must be distinct: two fields would be merged under one key")
        check_bool("lenient", lenient)
        check_int("concurrency", concurrency, minimum=1)
        self._loaders: dict[str, Loader] = dict(loaders)
        self._keys = merged_under
        self._async: dict[str, bool] = {name: _is_async(fn) for name, fn in loaders.items()}
        self.names: tuple[str, ...] = tuple(loaders)  # in declared order
        self.lenient = lenient
        self.concurrency = concurrency
        self._query: QueryParameters[Expansion] | None = None

    def __repr__(self) -> str:
        return f"Expander({list(self.names)!r}, lenient={self.lenient})"

    @property
    def query_parameters(self) -> QueryParameters[Expansion]:
        """The ``expand`` query parameter described as plain data, with the field names.

        And how its values become the request's :class:`Expansion` (listing the names under
        ``expandable`` before the handler runs): what a framework needs to declare and
        document it. ``opsgenie_envelope.fastapi.query(expander)`` turns it into a FastAPI
        dependency.
        """
        if self._query is None:
            self._query = self._describe()
        return self._query

    def parse(self, request: Request) -> Expansion:
        """Read ``expand`` from the request, check it, and list ``expandable``.

        Raises ``BadRequest`` for an absurd ``expand`` and, unless lenient, for an unknown
        name, with a message listing the valid names. Call it before fetching the entity to
        refuse a bad request early; :meth:`apply` calls it for you.
        """
        return self._select(request, request.query_params.getlist(EXPAND))

    def _select(self, request: Request, values: Sequence[str]) -> Expansion:
        if not self.names:
            return Expansion(self, (), request)
        set_envelope_field(EXPANDABLE, self.names)  # a tuple: orjson writes an array
        if not values:
            return Expansion(self, (), request)
        wanted = split_expand(values)
        unknown = [name for name in wanted if name not in self._loaders]
        if unknown and not self.lenient:
            # Only name-like values are echoed back; anything else stays out of the body.
            raise self._unknown([name for name in unknown if _NAME.fullmatch(name)][:3])
        chosen = set(wanted)
        return Expansion(self, tuple(name for name in self.names if name in chosen), request)

    def _unknown(self, shown: Sequence[str]) -> BadRequest:
        """The 400 for unknown names, naming the ``shown`` ones and listing the valid ones."""
        valid = ", ".join(self.names)
        head = f"Unknown expand field {', '.join(map(repr, shown))}: " if shown else ""
        return BadRequest(
            f"{head}expand should be one of [ {valid} ]",
            errors={EXPAND: f"should be one of [ {valid} ]"},
        )

    @overload
    async def apply(self, request: Request, data: Mapping[str, Any]) -> dict[str, Any]: ...
    @overload
    async def apply(
        self, request: Request, data: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]: ...
    async def apply(
        self, request: Request, data: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """Parse ``expand`` from ``request`` and merge the requested fields into ``data``."""
        return await self.parse(request).apply(data)

    def _describe(self) -> QueryParameters[Expansion]:
        async def expansion_from_query(request: Request, expand: list[str]) -> Expansion:
            return self._select(request, expand)

        names = self.names
        hint = "Fields to load into the answer, comma-separated or repeated"
        declaration = None
        if names:  # without names, ``expand`` is ignored: nothing listed, nothing refused
            refusals = [describe_error(BadRequest(_TOO_LONG), "expand length")]
            if not self.lenient:
                refusals.insert(0, describe_error(self._unknown(()), "expand"))
            declaration = Declaration(expandable=names, errors=tuple(refusals))
        return QueryParameters(
            (
                QueryParameter(
                    EXPAND,
                    "string",
                    default=(),
                    description=f"{hint}: {', '.join(names)}." if names else hint + ".",
                    known=names,
                    repeated=True,
                    documented=bool(names),
                ),
            ),
            expansion_from_query,
            returns=Expansion,
            declaration=declaration,
        )


class Expansion:
    """The fields one request asked to expand, ready to load into the handler's data.

    Made by :meth:`Expander.parse` or the FastAPI dependency
    ``opsgenie_envelope.fastapi.query(expander)``;
    ``requested`` holds the names to load (known ones only, in declared order).
    """

    __slots__ = ("expander", "request", "requested")

    def __init__(self, expander: Expander, requested: tuple[str, ...], request: Request) -> None:
        self.expander = expander
        self.requested = requested
        self.request = request

    def __repr__(self) -> str:
        return f"Expansion({list(self.requested)!r})"

    @overload
    async def apply(self, data: Mapping[str, Any]) -> dict[str, Any]: ...
    @overload
    async def apply(self, data: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...
    async def apply(
        self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """Load the requested fields and return ``data`` with them merged in.

        ``data`` is one entity (a mapping) or a list of them; each gets a new dict with the
        loaded values under their names, the handler's own objects are left as they are.
        With nothing requested, nothing is loaded and the entities come back unchanged.
        A loader's ``ApiError`` answers as that error; any other exception is a 500.
        """
        if isinstance(data, Mapping):
            if not self.requested:
                return data if isinstance(data, dict) else dict(data)
            return (await self._load([data]))[0]
        if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
            if not self.requested:
                return [item if isinstance(item, dict) else dict(item) for item in data]
            return await self._load(data)
        raise TypeError(f"expand merges into a mapping or a list of mappings, not {type(data)}")

    async def _load(self, items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        request = self.request
        expander = self.expander
        entities: list[dict[str, Any]] = []
        calls: list[Callable[[], Awaitable[object]]] = []
        for item in items:
            if not isinstance(item, Mapping):
                raise TypeError(f"expand merges into mappings, not {type(item)}")
            entity = dict(item)
            entities.append(entity)
            for name in self.requested:
                calls.append(_call(expander._loaders[name], expander._async[name], entity, request))
        values = iter(await _gather(calls, expander.concurrency))
        keys = expander._keys
        for entity in entities:
            loaded = {keys[name]: next(values) for name in self.requested}
            entity.update(loaded)
        return entities


def _call(
    loader: Loader, is_async: bool, entity: dict[str, Any], request: Request
) -> Callable[[], Awaitable[object]]:
    """Bind one loader call, so it can be awaited later in a task group."""

    async def call() -> object:
        if is_async:
            result = loader(entity, request)
        else:
            result = await run_in_threadpool(loader, entity, request)
        if inspect.isawaitable(result):
            result = await result
        return result

    return call
