"""Pure functions that build envelope bytes. No ASGI here: each is tested on its own.

Success bodies are spliced, never re-serialised: ``{"data":`` + the handler's JSON bytes +
the optional keys + ``,"took":…,"requestId":"…"}``. Without an entity (an empty body or
``null``) there is no ``data``: ``{`` + the optional keys and ``took``, ``requestId``
(:func:`no_entity`).
"""

from __future__ import annotations

import re
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
    "ENVELOPE_CLOSE",
    "ENVELOPE_MARK",
    "JSON_FIRST_BYTES",
    "JSON_LAST_BYTES",
    "REQUEST_ID_OPEN",
    "TOOK_KEY",
    "chunk_end",
    "continues_json_lines",
    "format_took",
    "holds_json_lines",
    "is_plausible_json",
    "no_entity",
    "opens_json_lines",
    "render_error",
    "render_extras",
    "splice_whole",
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
TOOK_KEY = b"," + _key(TOOK)
"""``,"took":``: opens ``took`` in every envelope."""
REQUEST_ID_OPEN = b"," + _key(REQUEST_ID) + b'"'
"""``,"requestId":"``: opens the request ID, the last member of every envelope."""
ENVELOPE_CLOSE = b'"}'
"""Closes the request ID's string and the envelope."""
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


# A newline between the end of one JSON value and the start of another: never valid JSON (a
# raw newline is only ever whitespace between tokens, and two values need a comma or colon
# between them), always JSON Lines.
_JSON_LINES = re.compile(rb'[}\]"0-9el][ \t\r]*\n[ \t\r\n]*[{\["0-9tfn-]')


def holds_json_lines(body: bytes) -> bool:
    """Tell whether ``body`` holds two JSON values on two lines (JSON Lines, NDJSON).

    No single JSON value can: a raw newline is only ever whitespace between tokens, and two
    values need a comma or a colon between them. Scans only a body that has a newline
    (compact JSON has none).
    """
    return b"\n" in body and _JSON_LINES.search(body) is not None


def chunk_end(chunk: bytes) -> bytes:
    """``chunk`` from its last significant byte on: ``b'{"a":1}\\n'`` gives ``b'}\\n'``.

    ``b""`` when the chunk is all whitespace. Kept between two chunks of a stream, to see how
    the body ends and JSON Lines that span two chunks.
    """
    i = len(chunk)
    while i and chunk[i - 1] in _WHITESPACE:
        i -= 1
    return chunk[i - 1 :] if i else b""


def continues_json_lines(end: bytes, chunk: bytes) -> bool:
    """Tell whether ``chunk`` starts a new JSON value on a line after ``end`` (a
    :func:`chunk_end`): JSON Lines split between two chunks."""
    i = 0
    while i < len(chunk) and chunk[i] in _WHITESPACE:
        i += 1
    return holds_json_lines(end + chunk[: i + 1])


def opens_json_lines(chunk: bytes) -> bool:
    """Tell whether the first chunk of a stream reads as JSON Lines.

    It does when it holds two values on two lines, or when it is one whole object or array
    followed by a newline (``{"a":1}\\n``), the shape of one line of a JSON Lines stream.
    A JSON document streamed in pieces rarely starts so; taking one for JSON Lines only
    passes it through unwrapped, where the reverse would send a broken envelope.
    """
    if holds_json_lines(chunk):
        return True
    end = chunk_end(chunk)
    if b"\n" not in end or end[0] not in b"}]":
        return False
    start = chunk.lstrip(_WHITESPACE)[:1]
    return start in (b"{", b"[")


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
    return b"".join((extras, TOOK_KEY, took, REQUEST_ID_OPEN, request_id, ENVELOPE_CLOSE))


def splice_whole(body: bytes, extras: bytes, took: bytes, request_id: bytes) -> bytes:
    """The envelope of one whole JSON ``body``: ``{"data":`` + body + :func:`success_suffix`.

    One join, one copy of the body: what the middleware's fast path writes out inline.
    """
    return b"".join(
        (DATA_PREFIX, body, extras, TOOK_KEY, took, REQUEST_ID_OPEN, request_id, ENVELOPE_CLOSE)
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
        head[CODE] = code
    head[MESSAGE] = message
    if errors:
        head[ERRORS] = errors
    return orjson.dumps(head)[:-1] + success_suffix(b"", took, request_id)
