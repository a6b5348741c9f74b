"""Pure functions that build envelope bytes. No ASGI here: each is tested on its own.

Success bodies are spliced, never re-serialised: ``{"data":`` + the handler's JSON bytes +
the optional keys + ``,"took":…,"requestId":"…"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson

__all__ = [
    "DATA_PREFIX",
    "JSON_FIRST_BYTES",
    "JSON_LAST_BYTES",
    "MessageKey",
    "format_took",
    "is_plausible_json",
    "render_error",
    "render_extras",
    "render_success",
    "success_suffix",
]

MessageKey = Literal["message", "result", "both"]

DATA_PREFIX = b'{"data":'
_EXTRA_ORDER = ("expandable", "paging", "totalCount")
# ``took`` under one second, by milliseconds: what ``repr(round(seconds, 3))`` gives.
_TOOK = [repr(ms / 1000).encode() for ms in range(1000)]
JSON_FIRST_BYTES = frozenset(b'{["-0123456789tfn')
"""Bytes a JSON value can start with."""
JSON_LAST_BYTES = frozenset(b'}]"0123456789el')
"""Bytes a JSON value can end with."""
_WHITESPACE = b" \t\r\n"


def is_plausible_json(body: bytes, whole: bool = True) -> bool:
    """Tell, in constant time, whether ``body`` can be a JSON value (it is not parsed).

    Checks the first (and, when ``whole``, the last) significant byte: enough to catch HTML,
    plain text or binary labelled ``application/json`` without a second pass over the payload.
    """
    if not body:
        return True
    if body[0] in _WHITESPACE or (whole and body[-1] in _WHITESPACE):
        body = body.strip(_WHITESPACE)
        if not body:
            return True
    return body[0] in JSON_FIRST_BYTES and (not whole or body[-1] in JSON_LAST_BYTES)


def format_took(seconds: float) -> bytes:
    """Render a duration as a JSON number rounded to 3 decimals: ``0.005``, ``0.302``, ``0.0``."""
    if seconds > 0.0:
        ms = seconds * 1000.0
        rounded = round(ms)
        # Near a half millisecond the product's rounding error could tip it: ask round().
        if rounded < 1000 and abs(ms - rounded) < 0.4999:
            return _TOOK[rounded]
    return repr(round(seconds, 3) if seconds > 0.0 else 0.0).encode()


def render_extras(extras: Mapping[str, Any] | None, message_key: MessageKey = "message") -> bytes:
    """Render the optional success keys, in SPEC order, each as ``,"key":value``.

    ``message`` comes first (as ``message``, ``result`` or both, per ``message_key``), then
    ``expandable``, ``paging``, ``totalCount``. Keys without a value are left out.
    """
    if not extras:
        return b""
    parts: list[bytes] = []
    message = extras.get("message")
    if message is not None:
        encoded = orjson.dumps(message)
        if message_key != "result":
            parts.append(b',"message":' + encoded)
        if message_key != "message":
            parts.append(b',"result":' + encoded)
    for key in _EXTRA_ORDER:
        value = extras.get(key)
        if value is not None:
            parts.append(b',"' + key.encode() + b'":' + orjson.dumps(value))
    return b"".join(parts)


def success_suffix(extras: bytes, took: bytes, request_id: bytes) -> bytes:
    """Return what follows the payload: optional keys, ``took``, ``requestId``, ``}``."""
    return b"".join((extras, b',"took":', took, b',"requestId":"', request_id, b'"}'))


def render_success(
    data: bytes,
    took: bytes,
    request_id: bytes,
    extras: Mapping[str, Any] | None = None,
    message_key: MessageKey = "message",
) -> bytes:
    """Render a whole success envelope around already-serialised JSON ``data``.

    An empty ``data`` (a JSON response with no body) becomes ``null``.
    """
    return (
        DATA_PREFIX
        + (data or b"null")
        + success_suffix(render_extras(extras, message_key), took, request_id)
    )


def render_error(
    message: str,
    took: bytes,
    request_id: bytes,
    *,
    code: int | None = None,
    errors: Mapping[str, str] | None = None,
) -> bytes:
    """Render an error envelope: ``code``? ``message`` ``errors``? ``took`` ``requestId``."""
    head: dict[str, Any] = {}
    if code is not None:
        head["code"] = code
    head["message"] = message
    if errors:
        head["errors"] = errors
    return orjson.dumps(head)[:-1] + b',"took":' + took + b',"requestId":"' + request_id + b'"}'
