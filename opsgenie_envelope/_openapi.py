"""Rewrite a generated OpenAPI document so that it shows what the middleware sends.

Pure functions over the JSON document (dicts and lists): nothing here imports FastAPI.
FastAPI builds the document from the routes; :func:`rewrite_openapi` then

* wraps each 2xx JSON schema in the success envelope ``{"data": <schema>, "took",
  "requestId"}``, with ``message``, ``expandable``, ``paging``, ``totalCount`` where the route
  uses them;
* gives each 4xx/5xx response the ``ErrorEnvelope`` schema, with the internal ``code`` values
  of the errors the route declares, in place of FastAPI's ``HTTPValidationError``;
* adds the errors every route can answer: 500, 400 for a malformed JSON body, 406 and 415
  when negotiation and enforcement are on;
* documents ``X-Request-ID`` and ``X-Response-Time`` on every response, and ``Retry-After``,
  ``X-RateLimit-*`` and ``X-Paging-*`` where they apply.

Routes say what the document cannot show through two vendor keys that FastAPI copies into it:
a response's :data:`ERRORS_KEY` and an operation's :data:`ENVELOPE_KEY`. Both are removed once
read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from copy import deepcopy
from typing import Any

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
    DEFAULT_LIMIT,
    DEFAULT_ORDER,
    ERRORS,
    EXPAND,
    EXPANDABLE,
    LIMIT,
    MAX_LIMIT,
    MESSAGE,
    MESSAGE_KEYS,
    OFFSET,
    ORDER,
    ORDERS,
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
    SORT,
    THROTTLED,
    TOOK,
    TOTAL_COUNT,
)

__all__ = [
    "ENVELOPE_KEY",
    "ERRORS_KEY",
    "ERROR_SCHEMA",
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
_URL: dict[str, Any] = {"type": "string", "format": "uri"}
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
        "description": f"`{THROTTLED}` while the caller is throttled.",
        "schema": {"type": "string", "enum": [THROTTLED]},
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
_PAGING_PARAMETERS: tuple[dict[str, Any], ...] = (
    {"name": OFFSET, "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {
        "name": LIMIT,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
    {"name": SORT, "schema": {"type": "string"}},
    {
        "name": ORDER,
        "schema": {"type": "string", "enum": list(ORDERS), "default": DEFAULT_ORDER},
    },
)


def describe_error(cls: type[ApiError]) -> dict[str, Any]:
    """Describe an error class as JSON: name, status, default message, code and headers."""
    described: dict[str, Any] = {
        "error": cls.__name__,
        "status": cls.status_code,
        "message": cls.default_message,
    }
    if cls.code is not None:
        described["code"] = cls.code
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


def success_envelope(
    data: Any, status: int, options: Mapping[str, Any], config: EnvelopeConfig
) -> dict[str, Any]:
    """Return the success envelope schema around ``data`` (a route's response schema)."""
    properties: dict[str, Any] = {DATA: data}
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
    properties[TOOK] = deepcopy(_TOOK)
    properties[REQUEST_ID] = _request_id(config) | {"description": f"As `{REQUEST_ID_HEADER}`."}
    return {
        "type": "object",
        "properties": properties,
        "required": [DATA, TOOK, REQUEST_ID],
        "additionalProperties": False,
    }


def _example(value: Any) -> dict[str, Any]:
    """An example envelope around an example payload."""
    return {DATA: value, TOOK: EXAMPLE_TOOK, REQUEST_ID: EXAMPLE_REQUEST_ID}


def _wrap_success(
    response: dict[str, Any], status: int, options: Mapping[str, Any], config: EnvelopeConfig
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


def _error_schema(classes: list[dict[str, Any]]) -> dict[str, Any]:
    codes = sorted({c["code"] for c in classes if "code" in c})
    if not codes:
        return {"$ref": _ERROR_REF}
    narrowed: dict[str, Any] = {"properties": {"code": {"enum": codes}}}
    if all("code" in c for c in classes):
        narrowed["required"] = ["code"]
    return {"allOf": [{"$ref": _ERROR_REF}, narrowed]}


def _error_example(described: Mapping[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    if "code" in described:
        value[CODE] = described["code"]
    value[MESSAGE] = described["message"]
    if described["status"] == 422:
        value[ERRORS] = {"name": "Field required"}
    value[TOOK] = EXAMPLE_TOOK
    value[REQUEST_ID] = EXAMPLE_REQUEST_ID
    return {"summary": described["error"], "value": value}


def describe_status(classes: Iterable[Mapping[str, Any]]) -> str:
    """The description of an error status: each class, its code and its default message."""
    return "\n\n".join(
        f"**{c['error']}**" + (f" (code {c['code']})" if "code" in c else "") + f": {c['message']}"
        for c in classes
    )


def _error_response(response: dict[str, Any], key: str, status: int) -> None:
    classes: list[dict[str, Any]] = response.pop(ERRORS_KEY, None) or []
    if not classes:
        default = error_class_for(status) if key.isdigit() else _range_class(status)
        classes = [describe_error(default)]
    response.setdefault("description", describe_status(classes))
    response["content"] = {
        "application/json": {
            "schema": _error_schema(classes),
            "examples": {c["error"]: _error_example(c) for c in classes},
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


def _add_query_parameters(operation: dict[str, Any], parameters: Iterable[dict[str, Any]]) -> None:
    declared = operation.setdefault("parameters", [])
    known = {(p.get("in"), p.get("name")) for p in declared if isinstance(p, dict)}
    for parameter in parameters:
        if ("query", parameter["name"]) not in known:
            name = parameter["name"]
            declared.append({"name": name, "in": "query", "required": False} | deepcopy(parameter))


def _sort_key(key: str) -> tuple[int, str]:
    status = _status(key)
    return (999 if status is None else status, key)


def _rewrite_operation(
    operation: dict[str, Any], method: str, excluded: bool, config: EnvelopeConfig
) -> None:
    options: Mapping[str, Any] = operation.pop(ENVELOPE_KEY, None) or {}
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if not excluded:
        common = ["500"]
        if _has_json_body(operation):
            common.append("400")
        if config.negotiate:
            common.append("406")
        if config.require_json_body and method in _BODY_METHODS:
            common.append("415")
        for key in common:
            responses.setdefault(key, {})
        if options.get("paged"):
            _add_query_parameters(operation, _PAGING_PARAMETERS)
        if options.get("expandable"):
            names = list(options["expandable"])
            expand = {"type": "array", "items": {"type": "string", "enum": names}}
            _add_query_parameters(
                operation, [{"name": EXPAND, "schema": expand, "style": "form", "explode": False}]
            )
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


def rewrite_openapi(doc: dict[str, Any], config: EnvelopeConfig) -> dict[str, Any]:
    """Rewrite ``doc`` in place (and return it) to show the envelopes ``config`` produces.

    Operations on a path that ``config`` excludes (``exclude_paths``, their prefixes,
    ``exclude``) are answered untouched on the wire, so they only get the two headers every
    response carries.
    """
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    ours = error_envelope(config)
    if schemas.setdefault(ERROR_SCHEMA, ours) != ours:
        raise ValueError(f"a schema named {ERROR_SCHEMA!r} already exists in the document")
    excluded = excluded_paths(config)
    for path, item in (doc.get("paths") or {}).items():
        for method, operation in item.items():
            if method in _METHODS and isinstance(operation, dict):
                _rewrite_operation(operation, method, path in excluded, config)
    _define_headers(doc, config)
    _drop_unreferenced(doc, _FASTAPI_VALIDATION)
    return doc
