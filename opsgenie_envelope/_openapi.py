"""Rewrite a generated OpenAPI document so that it shows what the middleware sends.

Pure functions over the JSON document (dicts and lists): nothing here imports FastAPI.
FastAPI builds the document from the routes; :func:`rewrite_openapi` then

* wraps each 2xx JSON schema in the success envelope ``{"data": <schema>, "took",
  "requestId"}``, with ``message``, ``expandable``, ``paging``, ``totalCount`` where the route
  uses them;
* gives each 4xx/5xx response the ``ErrorEnvelope`` schema, with the internal ``code`` values
  of the errors the route declares, in place of FastAPI's ``HTTPValidationError``;
* adds the errors every route can answer: 500, 400 for a malformed JSON body, 413 (a body
  over ``max_body_size``, on POST, PUT and PATCH), 406 and 415
  when negotiation and enforcement are on;
* documents ``X-Request-ID`` and ``X-Response-Time`` on every response, and ``Retry-After``,
  ``X-RateLimit-*`` and ``X-Paging-*`` where they apply.

Routes say what the document cannot show through two vendor keys that FastAPI copies into it:
a response's :data:`ERRORS_KEY` and an operation's :data:`ENVELOPE_KEY`. Both are removed once
read. What a route's code shows, the FastAPI integration reads from the routes themselves and
passes in as :class:`Declaration` objects (a paged or expandable dependency, a handler that
returns nothing).

What travels between these places is typed, so that mypy catches a misspelt key: an error
is described by an :class:`ErrorDescription`, the optional success keys by
:class:`EnvelopeKeys`, and a dependency's facts by the frozen :class:`Declaration`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, cast

from ._config import EnvelopeConfig, excluded_paths
from ._errors import (
    ApiError,
    ClientError,
    MethodNotAllowed,
    ServerError,
    ServiceUnavailable,
    TooManyRequests,
    error_class_for,
)
from ._negotiation import is_json_media_type
from ._request_id import is_valid_request_id
from ._wire import (
    ALLOW_HEADER,
    BODY_METHODS,
    CODE,
    DATA,
    ERRORS,
    EXPANDABLE,
    MESSAGE,
    MESSAGE_KEYS,
    PAGING,
    PAGING_HEADERS,
    PAGING_LINKS,
    RATE_LIMIT_HEADERS,
    RATE_LIMIT_PERIOD_HEADER,
    RATE_LIMIT_REASON_HEADER,
    RATE_LIMIT_STATE_HEADER,
    REQUEST_ID,
    REQUEST_ID_HEADER,
    REQUEST_ID_PATTERN,
    RESPONSE_TIME_HEADER,
    RETRY_AFTER_HEADER,
    THROTTLED,
    TOOK,
    TOTAL_COUNT,
)

__all__ = [
    "ENVELOPE_KEY",
    "ERRORS_KEY",
    "ERROR_SCHEMA",
    "Declaration",
    "EnvelopeKeys",
    "ErrorDescription",
    "describe_error",
    "describe_status",
    "error_envelope",
    "rewrite_openapi",
    "success_envelope",
]

ERRORS_KEY = "x-opsgenie-errors"
"""Response key listing the declared error classes, as :func:`describe_error` gives them."""

ENVELOPE_KEY = "x-opsgenie-envelope"
"""Operation key with the optional success keys a route uses (``message``, ``expandable``,
``paged``)."""

ERROR_SCHEMA = "ErrorEnvelope"
"""Name of the error envelope's schema under ``components/schemas``."""

EXAMPLE_REQUEST_ID = "9ae63dd7-ed00-4c81-86f0-c4ffd33142c9"
EXAMPLE_TOOK = 0.006

_ERROR_REF = f"#/components/schemas/{ERROR_SCHEMA}"
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_BODY_METHODS = frozenset(method.lower() for method in BODY_METHODS)
_REQUEST_ID_PATTERN = f"^{REQUEST_ID_PATTERN}$"

_TOOK: dict[str, Any] = {
    "type": "number",
    "minimum": 0,
    "description": "Seconds the back end spent, rounded to 3 decimals.",
    "examples": [EXAMPLE_TOOK],
}
# Relative (path and query) unless the pager has a base URL: a URI reference either way.
_URL: dict[str, Any] = {"type": "string", "format": "uri-reference"}
_CURSOR_PAGING: dict[str, Any] = {
    "type": "object",
    "description": "Cursor paging: `next` is absent on the last page.",
    "properties": {link: deepcopy(_URL) for link in ("first", "next")},
    "required": ["first"],
    "additionalProperties": False,
}
_HEADER_REF = "#/components/headers/"
_HEADERS: dict[str, dict[str, Any]] = {
    REQUEST_ID_HEADER: {
        "description": f"The request's ID, the same as `{REQUEST_ID}` in the body.",
        "required": True,
    },
    RESPONSE_TIME_HEADER: {
        "description": f"Seconds the back end spent, the same value as `{TOOK}`.",
        "required": True,
        "schema": {"type": "number", "minimum": 0, "examples": [EXAMPLE_TOOK]},
    },
    RETRY_AFTER_HEADER: {
        "description": "Whole seconds to wait before retrying, when known.",
        "schema": {"type": "integer", "minimum": 1},
    },
    RATE_LIMIT_STATE_HEADER: {
        "description": f"`{THROTTLED}` while the caller is throttled, `OK` under the limit.",
        "schema": {"type": "string", "enum": ["OK", THROTTLED]},
    },
    RATE_LIMIT_REASON_HEADER: {
        "description": "What is throttled, e.g. `ACCOUNT` or `API_KEY`.",
        "schema": {"type": "string"},
    },
    RATE_LIMIT_PERIOD_HEADER: {
        "description": "Length of the rate-limit period, in seconds.",
        "schema": {"type": "integer"},
    },
    ALLOW_HEADER: {
        "description": "The methods the resource allows.",
        "schema": {"type": "string"},
    },
}
for _link, _header in PAGING_HEADERS.items():
    _HEADERS[_header] = {
        "description": f"URL of the {_link.replace('prev', 'previous')} page.",
        "schema": _URL,
    }
_ERROR_HEADERS: tuple[tuple[type[ApiError], tuple[str, ...]], ...] = (
    (TooManyRequests, RATE_LIMIT_HEADERS),
    (ServiceUnavailable, (RETRY_AFTER_HEADER,)),
    (MethodNotAllowed, (ALLOW_HEADER,)),
)


class ErrorDescription(TypedDict):
    """An error as the document describes it: what :func:`describe_error` returns.

    ``error`` is the class name, ``status`` its HTTP status, ``message`` the message shown;
    ``case`` tells one answer of a class from another (``BadRequest (expand)``), ``code``
    is the internal code, ``errors`` the field problems, ``headers`` the headers it sends.
    """

    error: str
    status: int
    message: str
    case: NotRequired[str]
    code: NotRequired[int]
    errors: NotRequired[dict[str, str]]
    headers: NotRequired[list[str]]


class EnvelopeKeys(TypedDict, total=False):
    """The optional success keys a route uses: the value of an operation's :data:`ENVELOPE_KEY`.

    ``message``: it sets a message on a 200; ``expandable``: the names it lists;
    ``paged``: it answers pages (``paging``, ``totalCount``, ``X-Paging-*``); ``entity``:
    ``False`` when it never sends ``data``; ``cursor_paged``: it answers cursor pages
    (``paging`` with ``first``, ``next``); ``rate_limited``: its successes carry the
    ``X-RateLimit-*`` headers.
    """

    message: bool
    expandable: list[str]
    paged: bool
    entity: bool
    cursor_paged: bool
    rate_limited: bool


@dataclass(frozen=True)
class Declaration:
    """What a route's code says that FastAPI's document does not: one fact per source.

    Attributes:
        paged: the route answers pages (``paging``, ``totalCount``, ``X-Paging-*``).
        expandable: the names the route lists under ``expandable``.
        entity: ``False`` when the handler returns nothing: ``data`` is never sent.
        errors: the errors the route can answer, as :func:`describe_error` gives them.
        cursor_paged: the route answers cursor pages (``paging`` with ``first``, ``next``).
        rate_limited: the route checks a rate limit: its successes carry ``X-RateLimit-*``.
    """

    paged: bool = False
    expandable: tuple[str, ...] = ()
    entity: bool = True
    errors: tuple[ErrorDescription, ...] = ()
    cursor_paged: bool = False
    rate_limited: bool = False


def describe_error(error: type[ApiError] | ApiError, case: str | None = None) -> ErrorDescription:
    """Describe an error as JSON: name, status, message, code, ``errors`` and headers.

    A class is described by its defaults; an instance by its own message and ``errors``,
    under ``case``, a short label telling it from other answers of its class.
    """
    cls = error if isinstance(error, type) else type(error)
    described: ErrorDescription = {
        "error": cls.__name__,
        "status": cls.status_code,
        "message": cls.default_message,
    }
    if case is not None:
        described["case"] = case
    if cls.code is not None:
        described["code"] = cls.code
    if isinstance(error, ApiError):
        described["message"] = error.message
        if error.errors:
            described["errors"] = dict(error.errors)
    headers = [name for base, names in _ERROR_HEADERS if issubclass(cls, base) for name in names]
    if headers:
        described["headers"] = headers
    return described


def _request_id(config: EnvelopeConfig) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "examples": [EXAMPLE_REQUEST_ID]}
    if not config.trust_incoming_id or config.validator is is_valid_request_id:
        schema["pattern"] = _REQUEST_ID_PATTERN  # every ID the middleware can send
    return schema


def error_envelope(config: EnvelopeConfig) -> dict[str, Any]:
    """Return the ``ErrorEnvelope`` schema: ``code``? ``message`` ``errors``? ``took`` ``requestId``."""
    return {
        "title": ERROR_SCHEMA,
        "type": "object",
        "description": "Every 4xx and 5xx answer. `code` only where the error has one.",
        "properties": {
            CODE: {"type": "integer", "description": "Internal code, e.g. 40301."},
            MESSAGE: {"type": "string"},
            ERRORS: {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Field → problem, when fields are invalid.",
            },
            TOOK: deepcopy(_TOOK),
            REQUEST_ID: _request_id(config) | {"description": f"As `{REQUEST_ID_HEADER}`."},
        },
        "required": [MESSAGE, TOOK, REQUEST_ID],
        "additionalProperties": False,
    }


def _admits_null(schema: Any) -> bool:
    """Whether a JSON schema accepts ``null``: any value (``{}``), or ``null`` among its types."""
    if not isinstance(schema, Mapping):
        return False
    if not schema:
        return True
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    alternatives = [*schema.get("anyOf", ()), *schema.get("oneOf", ())]
    return any(_admits_null(alternative) for alternative in alternatives)


def success_envelope(
    data: Any, status: int, options: EnvelopeKeys, config: EnvelopeConfig
) -> dict[str, Any]:
    """Return the success envelope schema around ``data`` (a route's response schema).

    ``data`` is left out when the handler returns no entity (option ``entity`` false) and
    is optional when its schema accepts ``null``: no entity is sent without ``data``.
    """
    entity = options.get("entity", True)
    properties: dict[str, Any] = {DATA: data} if entity else {}
    if options.get("message") or status in (201, 202):
        for key in MESSAGE_KEYS[config.message_key]:
            properties[key] = {"type": "string", "description": "Human-friendly text."}
    expandable = options.get("expandable")
    if expandable is not None:
        properties[EXPANDABLE] = {
            "type": "array",
            "items": {"type": "string", "enum": list(expandable)},
            "description": "Fields `?expand=` can add to `data`.",
        }
    if options.get("paged"):
        properties[PAGING] = {
            "type": "object",
            "properties": {link: deepcopy(_URL) for link in PAGING_LINKS},
            "additionalProperties": False,
        }
        properties[TOTAL_COUNT] = {"type": "integer", "minimum": 0}
    elif options.get("cursor_paged"):
        properties[PAGING] = deepcopy(_CURSOR_PAGING)
    properties[TOOK] = deepcopy(_TOOK)
    properties[REQUEST_ID] = _request_id(config) | {"description": f"As `{REQUEST_ID_HEADER}`."}
    required = [TOOK, REQUEST_ID]
    if entity and not _admits_null(data):
        required.insert(0, DATA)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _example(value: Any) -> dict[str, Any]:
    """An example envelope around an example payload (``None``: no entity, no ``data``)."""
    example = {} if value is None else {DATA: value}
    return example | {TOOK: EXAMPLE_TOOK, REQUEST_ID: EXAMPLE_REQUEST_ID}


def _wrap_success(
    response: dict[str, Any], status: int, options: EnvelopeKeys, config: EnvelopeConfig
) -> None:
    for media_type, body in (response.get("content") or {}).items():
        if not isinstance(body, dict) or not is_json_media_type(media_type.encode()):
            continue
        body["schema"] = success_envelope(body.get("schema", {}), status, options, config)
        if "example" in body:
            body["example"] = _example(body["example"])
        for example in (body.get("examples") or {}).values():
            if isinstance(example, dict) and "value" in example:
                example["value"] = _example(example["value"])
    if options.get("paged"):
        _add_headers(response, list(PAGING_HEADERS.values()))
    elif options.get("cursor_paged"):
        _add_headers(response, [PAGING_HEADERS["first"], PAGING_HEADERS["next"]])
    if options.get("rate_limited"):
        _add_headers(response, RATE_LIMIT_HEADERS[1:])  # State: OK, Reason, Period


def _error_schema(classes: Sequence[ErrorDescription]) -> dict[str, Any]:
    codes = sorted({c["code"] for c in classes if "code" in c})
    if not codes:
        return {"$ref": _ERROR_REF}
    narrowed: dict[str, Any] = {"properties": {"code": {"enum": codes}}}
    if all("code" in c for c in classes):
        narrowed["required"] = ["code"]
    return {"allOf": [{"$ref": _ERROR_REF}, narrowed]}


def _error_example(described: ErrorDescription) -> dict[str, Any]:
    value: dict[str, Any] = {}
    if "code" in described:
        value[CODE] = described["code"]
    value[MESSAGE] = described["message"]
    if "errors" in described:
        value[ERRORS] = described["errors"]
    elif described["status"] == 422:
        value[ERRORS] = {"name": "Field required"}
    value[TOOK] = EXAMPLE_TOOK
    value[REQUEST_ID] = EXAMPLE_REQUEST_ID
    return {"summary": _example_name(described), "value": value}


def _example_name(described: ErrorDescription) -> str:
    """``BadRequest``, or ``BadRequest (expand)`` for one case of a class."""
    case = described.get("case")
    return described["error"] if case is None else f"{described['error']} ({case})"


def describe_status(classes: Iterable[ErrorDescription]) -> str:
    """The description of an error status: each class, its code and its default message."""
    return "\n\n".join(
        f"**{c['error']}**" + (f" (code {c['code']})" if "code" in c else "") + f": {c['message']}"
        for c in classes
    )


def _error_response(response: dict[str, Any], key: str, status: int) -> None:
    # Put there by ``errors()`` (or by hand): a list of what describe_error() returns.
    classes = cast(list[ErrorDescription], response.pop(ERRORS_KEY, None) or [])
    if not classes:
        default = error_class_for(status) if key.isdigit() else _range_class(status)
        classes = [describe_error(default)]
    response.setdefault("description", describe_status(classes))
    response["content"] = {
        "application/json": {
            "schema": _error_schema(classes),
            "examples": {_example_name(c): _error_example(c) for c in classes},
        }
    }
    _add_headers(response, [name for c in classes for name in c.get("headers", ())])


def _range_class(status: int) -> type[ApiError]:
    return ClientError if status < 500 else ServerError


def _status(key: str) -> int | None:
    """``"404"`` → 404, ``"4XX"`` → 400, ``"default"`` → ``None``."""
    if key.isdigit():
        return int(key)
    if len(key) == 3 and key[0] in "12345" and key[1:].upper() == "XX":
        return int(key[0]) * 100
    return None


def _add_headers(response: dict[str, Any], names: Iterable[str]) -> None:
    """Refer to the named headers from ``response`` (defined once, in ``components``)."""
    headers = response.setdefault("headers", {})
    for name in names:
        headers.setdefault(name, {"$ref": _HEADER_REF + name})


def _define_headers(doc: dict[str, Any], config: EnvelopeConfig) -> None:
    """Define under ``components/headers`` each of our headers the document refers to."""
    defined = doc["components"].setdefault("headers", {})
    for ref in sorted(_refs(doc.get("paths"), set())):
        name = ref.removeprefix(_HEADER_REF)
        if name != ref and name in _HEADERS and name not in defined:
            defined[name] = deepcopy(_HEADERS[name])
            if name == REQUEST_ID_HEADER:
                defined[name]["schema"] = _request_id(config)


def _has_json_body(operation: Mapping[str, Any]) -> bool:
    content = (operation.get("requestBody") or {}).get("content") or {}
    return any(is_json_media_type(media_type.encode()) for media_type in content)


def _declare(operation: dict[str, Any], declarations: Iterable[Declaration]) -> EnvelopeKeys:
    """The operation's envelope options, with what its declarations add; their errors listed."""
    # Put there by ``envelope()`` (or by hand): the route's EnvelopeKeys.
    options = cast(EnvelopeKeys, dict(operation.pop(ENVELOPE_KEY, None) or {}))
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for declaration in declarations:
        if declaration.paged:
            options["paged"] = True
        if declaration.cursor_paged:
            options["cursor_paged"] = True
        if declaration.rate_limited:
            options["rate_limited"] = True
        if declaration.expandable:
            names = [*options.get("expandable", ()), *declaration.expandable]
            options["expandable"] = list(dict.fromkeys(names))
        if not declaration.entity:
            options["entity"] = False
        for described in declaration.errors:
            response = responses.setdefault(str(described["status"]), {})
            listed: list[ErrorDescription] = response.setdefault(ERRORS_KEY, [])
            if described not in listed:
                listed.append(described.copy())
    return options


def _add_common(responses: dict[str, Any], key: str) -> None:
    """Document a status every such route can answer, beside the errors declared for it."""
    response = responses.setdefault(key, {})
    listed: list[ErrorDescription] | None = response.get(ERRORS_KEY)
    if listed:
        default = describe_error(error_class_for(int(key)))
        if default not in listed:
            listed.append(default)


def _sort_key(key: str) -> tuple[int, str]:
    status = _status(key)
    return (999 if status is None else status, key)


def _rewrite_operation(
    operation: dict[str, Any],
    method: str,
    excluded: bool,
    config: EnvelopeConfig,
    declarations: Sequence[Declaration] = (),
) -> None:
    options = _declare(operation, () if excluded else declarations)
    responses: dict[str, Any] = operation["responses"]
    if not excluded:
        common = ["500"]
        if _has_json_body(operation):
            common.append("400")
        if config.negotiate:
            common.append("406")
        if config.require_json_body and method in _BODY_METHODS:
            common.append("415")
        if config.max_body_size is not None and method in _BODY_METHODS:
            common.append("413")
        for key in common:
            _add_common(responses, key)
    for key, response in responses.items():
        status = _status(key)
        if excluded or status is None:
            response.pop(ERRORS_KEY, None)
        elif 200 <= status < 300:
            _wrap_success(response, status, options, config)
        elif status >= 400:
            _error_response(response, key, status)
        _add_headers(response, [REQUEST_ID_HEADER, RESPONSE_TIME_HEADER])
    operation["responses"] = {key: responses[key] for key in sorted(responses, key=_sort_key)}


def _refs(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _drop_unreferenced(doc: dict[str, Any], names: Iterable[str]) -> None:
    """Remove the named component schemas that nothing else refers to any more."""
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    for name in names:
        schema = schemas.pop(name, None)
        if schema is not None and f"#/components/schemas/{name}" in _refs(doc, set()):
            schemas[name] = schema


def rewrite_openapi(
    doc: dict[str, Any],
    config: EnvelopeConfig,
    declared: Mapping[tuple[str, str], Sequence[Declaration]] | None = None,
) -> dict[str, Any]:
    """Rewrite ``doc`` in place (and return it) to show the envelopes ``config`` produces.

    ``declared`` maps ``(path, method)`` (``method`` lower-case) to what the route's code
    declares. Operations on a path that ``config`` excludes (``exclude_paths``, their
    prefixes, ``exclude``) are answered untouched on the wire, so they only get the two
    headers every response carries.
    """
    declared = declared or {}
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    ours = error_envelope(config)
    if schemas.setdefault(ERROR_SCHEMA, ours) != ours:
        raise ValueError(f"a schema named {ERROR_SCHEMA!r} already exists in the document")
    excluded = excluded_paths(config)
    for path, item in (doc.get("paths") or {}).items():
        for method, operation in item.items():
            if method in _METHODS and isinstance(operation, dict):
                declarations = declared.get((path, method), ())
                _rewrite_operation(operation, method, path in excluded, config, declarations)
    _define_headers(doc, config)
    _drop_unreferenced(doc, _FASTAPI_VALIDATION)
    return doc
