"""The wire format in one place: every header, key, parameter and bound the envelope uses.

The middleware, the renderers, paging and expand, the OpenAPI rewriter and the client all
build from these names, so what is documented cannot drift from what is sent: changing
:data:`MAX_LIMIT` changes the server's check, the OpenAPI document and the client together.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "ALLOW_HEADER",
    "BODY_METHODS",
    "CODE",
    "DATA",
    "DEFAULT_LIMIT",
    "DEFAULT_ORDER",
    "DEFAULT_RATE_LIMIT_REASON",
    "ERRORS",
    "EXPAND",
    "EXPANDABLE",
    "EXPOSE_HEADERS",
    "EXTRA_KEYS",
    "FIELD_NAME_CHARACTERS",
    "FIELD_NAME_MAX_LENGTH",
    "FIELD_NAME_PATTERN",
    "FIELD_NAME_RULE",
    "LIMIT",
    "MAX_EXPAND_LENGTH",
    "MAX_EXPAND_NAMES",
    "MAX_LIMIT",
    "MESSAGE",
    "MESSAGE_KEYS",
    "NO_BODY_STATUSES",
    "OFFSET",
    "ORDER",
    "ORDERS",
    "PAGING",
    "PAGING_HEADERS",
    "PAGING_LINKS",
    "RATE_LIMIT_HEADERS",
    "RATE_LIMIT_PERIOD_HEADER",
    "RATE_LIMIT_REASON_HEADER",
    "RATE_LIMIT_REASON_PATTERN",
    "RATE_LIMIT_STATE_HEADER",
    "REQUEST_ID",
    "REQUEST_ID_CHARACTERS",
    "REQUEST_ID_HEADER",
    "REQUEST_ID_MAX_LENGTH",
    "REQUEST_ID_PATTERN",
    "RESPONSE_TIME_HEADER",
    "RESULT",
    "RETRY_AFTER_HEADER",
    "SORT",
    "THROTTLED",
    "TOOK",
    "TOTAL_COUNT",
    "MessageKey",
    "Order",
]

# --- Headers (SPEC §1, §4) -------------------------------------------------------------------

REQUEST_ID_HEADER: Final = "X-Request-ID"
"""The request's ID, on every response (and, when trusted, on requests)."""
RESPONSE_TIME_HEADER: Final = "X-Response-Time"
"""Seconds the back end spent, on every response: the same value as ``took``."""
RETRY_AFTER_HEADER: Final = "Retry-After"
"""Whole seconds to wait before retrying a 429 or a 503."""
RATE_LIMIT_STATE_HEADER: Final = "X-RateLimit-State"
RATE_LIMIT_REASON_HEADER: Final = "X-RateLimit-Reason"
RATE_LIMIT_PERIOD_HEADER: Final = "X-RateLimit-Period-In-Sec"
RATE_LIMIT_HEADERS: Final = (
    RETRY_AFTER_HEADER,
    RATE_LIMIT_STATE_HEADER,
    RATE_LIMIT_REASON_HEADER,
    RATE_LIMIT_PERIOD_HEADER,
)
"""The headers of OpsGenie's 429, in the order they are documented."""
THROTTLED: Final = "THROTTLED"
"""``X-RateLimit-State`` of a throttled caller."""
DEFAULT_RATE_LIMIT_REASON: Final = "ACCOUNT"
"""``X-RateLimit-Reason`` when a 429 names none."""
RATE_LIMIT_REASON_PATTERN: Final = "[A-Za-z0-9_.-]{1,64}"
"""An ``X-RateLimit-Reason`` value: a token such as ``API_KEY``, safe in a header."""
ALLOW_HEADER: Final = "Allow"
"""The methods a resource allows, kept on 405."""

# --- Request IDs (SPEC §1) -------------------------------------------------------------------

REQUEST_ID_CHARACTERS: Final = "A-Za-z0-9._:-"
"""The characters an incoming request ID may use (a regex character class body)."""
REQUEST_ID_MAX_LENGTH: Final = 128
"""The longest incoming request ID trusted."""
REQUEST_ID_PATTERN: Final = f"[{REQUEST_ID_CHARACTERS}]{{1,{REQUEST_ID_MAX_LENGTH}}}"
"""The allowlist of incoming request IDs: UUIDs, 32-hex trace IDs, ULIDs, and no more."""

# --- Envelope keys (SPEC §3, §4), in the order they are rendered -----------------------------

DATA: Final = "data"
MESSAGE: Final = "message"
RESULT: Final = "result"
"""OpsGenie's key for a 202's text (``"Request will be processed"``)."""
EXPANDABLE: Final = "expandable"
PAGING: Final = "paging"
TOTAL_COUNT: Final = "totalCount"
TOOK: Final = "took"
REQUEST_ID: Final = "requestId"
CODE: Final = "code"
ERRORS: Final = "errors"
EXTRA_KEYS: Final = (EXPANDABLE, PAGING, TOTAL_COUNT)
"""The optional success keys that follow the message, in rendering order."""

MessageKey = Literal["message", "result", "both"]
"""How a handler's message is rendered: ``message``, OpsGenie's ``result``, or both."""
MESSAGE_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "message": (MESSAGE,),
    "result": (RESULT,),
    "both": (MESSAGE, RESULT),
}
"""Each :data:`MessageKey` and the envelope keys it renders."""

# --- Paging (SPEC §6) ------------------------------------------------------------------------

OFFSET: Final = "offset"
LIMIT: Final = "limit"
SORT: Final = "sort"
ORDER: Final = "order"
DEFAULT_LIMIT: Final = 20
"""OpsGenie's default page size."""
MAX_LIMIT: Final = 100
"""OpsGenie's largest page size."""
Order = Literal["asc", "desc"]
"""Sort direction: ``desc`` (the default) or ``asc``."""
ORDERS: Final[tuple[Order, ...]] = ("asc", "desc")
DEFAULT_ORDER: Final[Order] = "desc"
PAGING_LINKS: Final = ("first", "prev", "next", "last")
"""The keys of ``paging``, in rendering order."""
PAGING_HEADERS: Final[dict[str, str]] = {link: f"X-Paging-{link.title()}" for link in PAGING_LINKS}
"""Link name → response header carrying the same URL (``X-Paging-First``, ...)."""

# --- expand (SPEC §5) ------------------------------------------------------------------------

EXPAND: Final = "expand"
FIELD_NAME_CHARACTERS: Final = "A-Za-z0-9_.-"
"""The characters of a field name in ``sort`` and ``expand`` (a regex character class body)."""
FIELD_NAME_MAX_LENGTH: Final = 64
"""The longest field name in ``sort`` and ``expand``."""
FIELD_NAME_PATTERN: Final = f"[{FIELD_NAME_CHARACTERS}]{{1,{FIELD_NAME_MAX_LENGTH}}}"
"""A field name in ``sort`` and ``expand``: 1 to 64 of ``[A-Za-z0-9_.-]``."""
FIELD_NAME_RULE: Final = f"1..{FIELD_NAME_MAX_LENGTH} characters of [{FIELD_NAME_CHARACTERS}]"
""":data:`FIELD_NAME_PATTERN` in words, for the messages that refuse a name."""
MAX_EXPAND_LENGTH: Final = 2048
"""Longest ``expand`` accepted, in characters over all its values; longer is a 400."""
MAX_EXPAND_NAMES: Final = 64
"""Most names (duplicates included) one request may ask to expand; more is a 400."""

# --- CORS ----------------------------------------------------------------------------------

EXPOSE_HEADERS: Final = (
    REQUEST_ID_HEADER,
    RESPONSE_TIME_HEADER,
    *RATE_LIMIT_HEADERS,
    *PAGING_HEADERS.values(),
)
"""The response headers the envelope sends that browsers hide from scripts unless exposed.

Pass them to Starlette's ``CORSMiddleware(expose_headers=EXPOSE_HEADERS)`` (or use
``install(app, cors=...)``) so a browser app can read ``X-Request-ID``, ``X-Response-Time``,
``Retry-After``, ``X-RateLimit-*`` and ``X-Paging-*``.
"""

# --- HTTP ------------------------------------------------------------------------------------

BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
"""Methods whose request body is read (and checked for a JSON ``Content-Type``)."""
NO_BODY_STATUSES: Final = frozenset({204, 304})
"""Statuses that never carry a body (besides 1xx)."""
