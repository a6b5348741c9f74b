"""The middleware's configuration: one frozen object, validated once at construction."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from time import perf_counter
from typing import Any, TypedDict

from ._body_limit import DEFAULT_MAX_BODY_SIZE, check_max_body_size
from ._integration import Integration, check_integrations
from ._options import check_bool, check_callable, check_choice, check_type
from ._request_id import is_valid_request_id
from ._wire import MESSAGE_KEYS, MessageKey

__all__ = [
    "DEFAULT_EXCLUDE_PATHS",
    "EnvelopeConfig",
    "EnvelopeOptions",
    "ExcludedPaths",
    "docs_paths",
    "excluded_paths",
    "resolve_config",
]

DEFAULT_EXCLUDE_PATHS: frozenset[str] = frozenset(
    {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)
"""FastAPI's default documentation URLs: excluded for an app that does not name its own."""

_DOCS_URLS = ("openapi_url", "docs_url", "swagger_ui_oauth2_redirect_url", "redoc_url")


def docs_paths(app: object) -> frozenset[str]:
    """Return the documentation URLs ``app`` serves, to be answered untouched.

    A FastAPI app serves ``openapi_url`` and, only when that is set, ``docs_url`` (with
    ``swagger_ui_oauth2_redirect_url``) and ``redoc_url``; ``None`` turns one off. An app
    without these attributes (plain Starlette) gets :data:`DEFAULT_EXCLUDE_PATHS`.

    Example::

        docs_paths(FastAPI(openapi_url="/api/openapi.json", docs_url=None))
        # frozenset({"/api/openapi.json", "/redoc"})
    """
    if not hasattr(app, "openapi_url"):
        return DEFAULT_EXCLUDE_PATHS
    openapi_url, docs_url, redirect_url, redoc_url = (
        getattr(app, name, None) for name in _DOCS_URLS
    )
    if not openapi_url:
        return frozenset()
    served = [openapi_url, redoc_url]
    if docs_url:
        served += [docs_url, redirect_url]
    return frozenset(url for url in served if isinstance(url, str) and url.startswith("/"))


class EnvelopeOptions(TypedDict, total=False):
    """The middleware's options as keywords: ``EnvelopeMiddleware(app, **options)``.

    The same names, types and meanings as the fields of :class:`EnvelopeConfig` (a test
    keeps the two in step); it types the keywords of :class:`EnvelopeMiddleware` and of
    ``opsgenie_envelope.fastapi.install``.
    """

    generator: Callable[[], str] | None
    trust_incoming_id: bool
    validator: Callable[[str], bool]
    exclude_paths: Collection[str] | None
    exclude: Callable[[str], bool] | None
    negotiate: bool
    require_json_body: bool
    message_key: MessageKey
    ignore_trailing_slash: bool
    debug: bool
    integrations: Iterable[Integration]
    clock: Callable[[], float]
    max_body_size: int | None


@dataclass(frozen=True)
class EnvelopeConfig:
    """Options of :class:`EnvelopeMiddleware`; each is checked here, never per request.

    Attributes:
        generator: returns a new request ID; a lower-case UUID4 by default. Its IDs must
            pass the allowlist (``[A-Za-z0-9._:-]``, 1..128 characters).
        trust_incoming_id: use a client's ``X-Request-ID`` when it passes ``validator``.
        validator: decides whether an incoming ID is trusted. It can only narrow the
            allowlist (``[A-Za-z0-9._:-]``, 1..128 characters), which always applies first:
            the ID goes into a header and a JSON body unescaped, so nothing else is safe.
        exclude_paths: paths answered untouched but for the two headers, besides the
            documentation URLs of the app and of the apps mounted in it (see
            :func:`docs_paths`), which always are. An entry ending in ``/`` (``"/static/"``)
            excludes every path below it; any other entry is an exact path. Any collection
            of paths; kept as a frozenset.
        exclude: a predicate on the request's path (below ``root_path``): true answers it
            untouched but for the two headers, as ``exclude_paths`` does. Called once per
            request, so keep it cheap.
        negotiate: answer 406 when ``Accept`` rules out JSON.
        require_json_body: answer 415 when a request body's ``Content-Type`` is not JSON.
        message_key: render a handler's message as ``"message"``, OpsGenie's ``"result"``,
            or ``"both"``.
        ignore_trailing_slash: answer ``/v2/alerts/`` as ``/v2/alerts`` (and the other way
            round) instead of the router's redirect: where a router would redirect to the
            same path with or without its trailing slash, the request is served at that path.
        debug: put the exception type and text in 500 bodies (never in production).
        integrations: :class:`Integration` objects whose hooks run per request (e.g.
            ``opsgenie_envelope.otel.OpenTelemetryIntegration()``); none by default. Any
            iterable; kept as a tuple.
        clock: a monotonic clock in seconds; ``took`` is the time between its reading when
            the request arrives and its reading when the answer starts.
            ``time.perf_counter`` by default; tests may pass their own.
        max_body_size: the largest request body in bytes (1 MiB by default); ``None`` for no
            limit. A larger declared ``Content-Length`` is answered 413 before the body is
            read; a body of unknown length, as soon as the app has read past the limit.
    """

    generator: Callable[[], str] | None = None
    trust_incoming_id: bool = False
    validator: Callable[[str], bool] = is_valid_request_id
    exclude_paths: Collection[str] | None = None
    exclude: Callable[[str], bool] | None = None
    negotiate: bool = True
    require_json_body: bool = False
    message_key: MessageKey = "message"
    ignore_trailing_slash: bool = False
    debug: bool = False
    integrations: Iterable[Integration] = ()
    clock: Callable[[], float] = perf_counter
    max_body_size: int | None = DEFAULT_MAX_BODY_SIZE

    def __post_init__(self) -> None:
        check_max_body_size(self.max_body_size)
        object.__setattr__(self, "integrations", check_integrations(self.integrations))
        if self.generator is not None:
            check_callable("generator", self.generator, "a callable returning a str, or None")
        check_callable("validator", self.validator, "a callable taking a str and returning a bool")
        if self.exclude is not None:
            check_callable("exclude", self.exclude, "a callable taking a path and returning a bool")
        check_callable("clock", self.clock, "a callable returning seconds")
        for name in (
            "trust_incoming_id",
            "negotiate",
            "require_json_body",
            "ignore_trailing_slash",
            "debug",
        ):
            check_bool(name, getattr(self, name))
        check_choice("message_key", self.message_key, MESSAGE_KEYS)
        paths: object = self.exclude_paths
        if paths is None:
            return
        if isinstance(paths, (str, bytes)) or not isinstance(paths, Iterable):
            raise TypeError("exclude_paths must be an iterable of path strings")
        checked = frozenset(paths)
        for path in checked:
            if not check_type("exclude_paths", path, str, "path strings").startswith("/"):
                raise ValueError(f"exclude_paths must be paths starting with '/', got {path!r}")
        object.__setattr__(self, "exclude_paths", checked)


class ExcludedPaths:
    """The paths answered untouched: exact paths, prefixes and a predicate (``path in it``).

    Built by :func:`excluded_paths` only when there are prefixes or a predicate; otherwise
    the exact paths alone are a plain ``frozenset``, whose ``in`` costs least.
    """

    __slots__ = ("paths", "predicate", "prefixes")

    def __init__(
        self,
        paths: frozenset[str],
        prefixes: tuple[str, ...],
        predicate: Callable[[str], bool] | None,
    ) -> None:
        self.paths = paths
        self.prefixes = prefixes
        self.predicate = predicate

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        if path in self.paths or path.startswith(self.prefixes):
            return True
        return self.predicate is not None and bool(self.predicate(path))


def excluded_paths(
    config: EnvelopeConfig, docs: Collection[str] = frozenset()
) -> frozenset[str] | ExcludedPaths:
    """What ``config`` excludes, with the documentation URLs ``docs``: test with ``in``.

    Entries of ``exclude_paths`` that end in ``/`` (other than ``/`` itself) are prefixes.
    """
    exact = set(docs)
    prefixes: list[str] = []
    for path in config.exclude_paths or ():
        if len(path) > 1 and path.endswith("/"):
            prefixes.append(path)
        else:
            exact.add(path)
    if not prefixes and config.exclude is None:
        return frozenset(exact)
    return ExcludedPaths(frozenset(exact), tuple(sorted(prefixes)), config.exclude)


OPTION_NAMES: frozenset[str] = frozenset(field.name for field in fields(EnvelopeConfig))
"""The names of the options, as :class:`EnvelopeConfig` defines them."""


def resolve_config(config: EnvelopeConfig | None, options: Mapping[str, Any]) -> EnvelopeConfig:
    """The configuration in force: ``config`` as given, or one built from ``options``.

    The one place that owns "a config or loose options, not both": giving both is a
    ``TypeError`` (the options would be silently ignored), as is an unknown option name.
    """
    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(map(repr, unknown))}")
    if config is None:
        return EnvelopeConfig(**options)
    if not isinstance(config, EnvelopeConfig):
        raise TypeError("config must be an EnvelopeConfig")
    if options:
        raise TypeError("pass either config or the options it holds, not both")
    return config
