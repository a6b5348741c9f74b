"""Pure functions that build envelope bytes. No ASGI here: each is tested on its own.

Success bodies are spliced, never re-serialised: ``{"data":`` + the handler's JSON bytes +
the optional keys + ``,"took":…,"requestId":"…"}``. Without an entity (an empty body or
``null``) there is no ``data``: ``{`` + the optional keys and ``took``, ``requestId``
(:func:`no_entity`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ._wire import (
    CODE,
    DATA,
    ERRORS,
    EXTRA_KEYS,
    MESSAGE,
    MESSAGE_KEYS,
    REQUEST_ID,
    TOOK,
    MessageKey,
)

__all__ = [
    "DATA_PREFIX",
    "ENTITY_FIRST_BYTES",
    "ENVELOPE_MARK",
    "JSON_FIRST_BYTES",
    "JSON_LAST_BYTES",
    "format_took",
    "is_plausible_json",
    "no_entity",
    "render_error",
    "render_extras",
    "success_suffix",
]


def _key(name: str) -> bytes:
    """``"took"`` → ``b'"took":'``: a key as it opens its member."""
    return b'"' + name.encode() + b'":'


DATA_PREFIX = b"{" + _key(DATA)
"""What every success envelope starts with: ``{"data":``."""
ENVELOPE_MARK = _key(REQUEST_ID)
"""Found in every envelope (``"requestId":``): with :data:`DATA_PREFIX`, marks a body that
is already one."""
_TOOK_KEY = b"," + _key(TOOK)
_REQUEST_ID_OPEN = b"," + _key(REQUEST_ID) + b'"'
_MESSAGE_KEYS = {
    option: [b"," + _key(name) for name in names] for option, names in MESSAGE_KEYS.items()
}
_EXTRA_KEYS = [(name, b"," + _key(name)) for name in EXTRA_KEYS]
# ``took`` under one second, by milliseconds: what ``repr(round(seconds, 3))`` gives.
_TOOK = [repr(ms / 1000).encode() for ms in range(1000)]
JSON_FIRST_BYTES = frozenset(b'{["-0123456789tfn')
"""Bytes a JSON value can start with."""
ENTITY_FIRST_BYTES = JSON_FIRST_BYTES - frozenset(b"n")
"""Bytes a JSON value other than ``null`` can start with: a body opening with one is an entity."""
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


def no_entity(body: bytes) -> bool:
    """Tell whether a whole JSON body carries no entity: empty, blank or ``null``."""
    return len(body) < 64 and body.strip(_WHITESPACE) in (b"", b"null")


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
    message = extras.get(MESSAGE)
    if message is not None:
        encoded = orjson.dumps(message)
        parts += [key + encoded for key in _MESSAGE_KEYS[message_key]]
    for name, key in _EXTRA_KEYS:
        value = extras.get(name)
        if value is not None:
            parts.append(key + orjson.dumps(value))
    return b"".join(parts)


def success_suffix(extras: bytes, took: bytes, request_id: bytes) -> bytes:
    """Return what follows the payload: optional keys, ``took``, ``requestId``, ``}``.

    It opens with a comma: ``{`` and the suffix without it is the envelope of no entity.
    """
    return b"".join((extras, _TOOK_KEY, took, _REQUEST_ID_OPEN, request_id, b'"}'))


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
        head[CODE] = code
    head[MESSAGE] = message
    if errors:
        head[ERRORS] = errors
    return orjson.dumps(head)[:-1] + success_suffix(b"", took, request_id)
