"""Turn what Starlette and FastAPI raise or answer on errors into taxonomy errors.

Starlette's ``ExceptionMiddleware`` sits *inside* any user middleware, so router 404/405,
``HTTPException`` and FastAPI's validation errors reach us as ready-made responses
(``text/plain`` "Not Found", ``{"detail": ...}``). They are recognised here and re-rendered as
envelopes; the same exceptions, when they do reach the middleware raw, are mapped the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson
from starlette.exceptions import HTTPException

from ._errors import (
    ApiError,
    BadRequest,
    InternalServerError,
    UnprocessableEntity,
    error_class_for,
)
from ._negotiation import is_json_media_type
from ._wire import FIELD_NAME_PATTERN

__all__ = [
    "Answer",
    "error_from_exception",
    "error_from_response",
    "field_path",
    "status_phrase",
    "validation_errors",
]

MAX_MESSAGE = 1024
"""Longest ``message`` taken from a framework answer; longer text is cut."""

_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})

FIELD_PLACEHOLDER = "*"
"""Stands in a 422 field path for a part that is not name-like (a client-chosen key)."""
MAX_FIELD_DEPTH = 8
"""Parts of a 422 field path kept; deeper ones are one placeholder."""
MAX_FIELDS = 100
"""Fields listed per part of the request in a 422; further ones are left out."""
_FIELD_NAME = re.compile(FIELD_NAME_PATTERN)


def field_path(parts: Sequence[object]) -> str:
    """A 422 field path from a validation error's ``loc``, bounded and name-like.

    Each part that is not a name (``[A-Za-z0-9_.-]``, at most 64 characters) or a list
    index becomes :data:`FIELD_PLACEHOLDER`, and parts past :data:`MAX_FIELD_DEPTH` one
    placeholder: a key the client chose (``details`` keys, a 5 KB ``<img ...>``) is never
    echoed. ``["details", "<img src=x>", 0]`` gives ``"details.*.0"``.
    """
    names = [
        text if _FIELD_NAME.fullmatch(text := str(part)) else FIELD_PLACEHOLDER
        for part in parts[:MAX_FIELD_DEPTH]
    ]
    if len(parts) > MAX_FIELD_DEPTH:
        names.append(FIELD_PLACEHOLDER)
    return ".".join(names)


def status_phrase(status_code: int) -> str | None:
    """The standard reason phrase of ``status_code`` ("Not Found"), or ``None`` if unknown."""
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return None


@dataclass(slots=True)
class Answer:
    """A non-error answer rendered as an envelope: a redirect, or an ``HTTPException`` whose
    status is not 400-599. Rendered as an error is (``message``, ``took``, ``requestId``),
    but it is no :class:`ApiError`, whose status is always 400-599."""

    status_code: int
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    code: int | None = None
    errors: Mapping[str, str] | None = None


def _make(
    status_code: int, detail: Any, headers: Mapping[str, str] | None = None
) -> ApiError | Answer:
    """Build the taxonomy error for a status and a framework ``detail``.

    A status outside 400-599 (an ``HTTPException(307)``) makes an :class:`Answer` instead.
    """
    cls = error_class_for(status_code)
    message: str | None = None
    if isinstance(detail, str):
        detail = detail.strip()
        # The framework's default detail is the bare phrase ("Not Found"); OpsGenie's text wins.
        if detail and detail != status_phrase(status_code):
            message = detail[:MAX_MESSAGE]
    if message is None and cls.status_code != status_code:
        # A status the taxonomy does not list (502, 418, ...): its standard phrase.
        message = status_phrase(status_code)
    if not 400 <= status_code <= 599:
        text = ApiError.default_message if message is None else message
        return Answer(status_code, text, dict(headers) if headers else {})
    if cls.status_code == status_code:
        return cls(message, headers=headers)
    return cls(message, headers=headers, status_code=status_code)


def validation_errors(items: Iterable[Any]) -> tuple[bool, dict[str, dict[str, str]]]:
    """Map FastAPI/pydantic error items to field → message maps, by part of the request.

    Returns ``(json_invalid, located)``: ``json_invalid`` is true when an item reports a
    JSON syntax error (FastAPI's ``json_invalid``), which the SPEC answers with 400;
    ``located`` maps ``path``, ``query``, ``header``, ``cookie`` or ``body`` (from the first
    element of ``loc``; ``body`` when it names none) to field path → message. Only ``loc``,
    ``msg`` and ``type`` are read: the submitted ``input`` is never echoed.
    """
    located: dict[str, dict[str, str]] = {}
    json_invalid = False
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "json_invalid":
            json_invalid = True
            continue
        loc = item.get("loc") or ()
        parts: Sequence[object] = (
            loc if isinstance(loc, Sequence) and not isinstance(loc, str) else [loc]
        )
        first = parts[0] if parts else None
        named = isinstance(first, str) and first in _LOCATIONS
        where = first if named and isinstance(first, str) else "body"
        if len(parts) > 1 and named:
            parts = parts[1:]
        field = field_path(parts) or "body"
        msg = str(item.get("msg") or "is invalid")[:MAX_MESSAGE]
        errors = located.setdefault(where, {})
        known = errors.get(field)
        if known is None:
            if len(errors) < MAX_FIELDS:
                errors[field] = msg
        elif msg not in known.split("; "):
            errors[field] = f"{known}; {msg}"
    return json_invalid, located


def _from_validation(items: Iterable[Any]) -> ApiError:
    json_invalid, located = validation_errors(items)
    if json_invalid:
        return BadRequest()
    return UnprocessableEntity.at(**located)


def error_from_exception(exc: BaseException, debug: bool = False) -> tuple[ApiError | Answer, bool]:
    """Map an exception to the error to render, and whether it was unexpected (a 500).

    ``ApiError`` renders as itself; ``HTTPException`` keeps its status, detail and headers;
    a JSON syntax error becomes 400; FastAPI's ``RequestValidationError`` becomes 422 (or 400
    for a JSON syntax error). Anything else is an ``InternalServerError`` whose message
    carries the exception text only when ``debug`` is on.
    """
    if isinstance(exc, ApiError):
        return exc, False
    if isinstance(exc, HTTPException):
        return _make(exc.status_code, exc.detail, exc.headers), False
    if isinstance(exc, json.JSONDecodeError):
        return BadRequest(), False
    errors_method = getattr(exc, "errors", None)
    if type(exc).__name__ == "RequestValidationError" and callable(errors_method):
        return _from_validation(errors_method()), False
    if debug:
        return InternalServerError(f"{type(exc).__name__}: {exc}"[:MAX_MESSAGE]), True
    return InternalServerError(), True


def error_from_response(status_code: int, body: bytes, media_type: bytes) -> ApiError | Answer:
    """Map an error response a framework or handler already rendered to a taxonomy error.

    ``media_type`` is the response's lower-cased media type (no parameters).

    * JSON ``{"detail": "..."}`` (FastAPI's ``HTTPException``) → ``message`` = detail;
    * JSON ``{"detail": [...]}`` with 422 (FastAPI validation) → ``errors``, or 400 for a
      JSON syntax error;
    * JSON ``{"message": ..., "code"?: ..., "errors"?: ...}`` → those fields;
    * ``text/plain`` (Starlette's ``HTTPException``, router 404/405) → ``message`` = the text;
    * anything else (HTML pages, binary), or empty → the status's default message.
    """
    if media_type == b"text/plain":
        try:
            text = " ".join(body.decode("utf-8").split())
        except UnicodeDecodeError:
            text = ""
        return _make(status_code, text if text.isprintable() else None)
    if not is_json_media_type(media_type):
        return _make(status_code, None)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        return _make(status_code, None)
    detail = parsed.get("detail")
    if status_code == 422 and isinstance(detail, list):
        return _from_validation(detail)
    if isinstance(detail, str):
        return _make(status_code, detail)
    message = parsed.get("message")
    error = _make(status_code, message if isinstance(message, str) else None)
    if isinstance(error, Answer):
        return error
    code = parsed.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        error.code = code
    errors = parsed.get("errors")
    if isinstance(errors, dict) and errors:
        error.errors = {str(k): str(v)[:MAX_MESSAGE] for k, v in errors.items()}
    return error
