"""Make any Starlette or FastAPI app answer in the OpsGenie REST API response format.

Example::

    from fastapi import FastAPI
    from opsgenie_envelope import EnvelopeMiddleware, NotFound

    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware)

    @app.get("/v2/alerts/{alert_id}")
    async def get_alert(alert_id: str) -> dict[str, str]:
        raise NotFound("Alert does not exist")
"""

from __future__ import annotations

from ._body import read_json
from ._caller import genie_key, get_caller, set_caller
from ._config import DEFAULT_EXCLUDE_PATHS, EnvelopeConfig, EnvelopeOptions, docs_paths
from ._context import REQUEST_ID_KEY, get_request_id, set_message
from ._cursor import CURSOR_PATTERN, CursorPage, CursorPager, Direction
from ._errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    ContentTooLarge,
    Forbidden,
    Gone,
    InternalServerError,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    NotImplementedYet,
    NotSupported,
    PaymentRequired,
    PreconditionRequired,
    RangeNotSatisfiable,
    ServerError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
    UnprocessableEntity,
    UnsupportedMediaType,
    error_class_for,
)
from ._exception_id import request_id_from_exception
from ._expand import Expander, Expansion, Loader
from ._integration import Integration
from ._logging import RequestIdFilter
from ._middleware import EnvelopeMiddleware
from ._paging import Page, Pager, paged
from ._query import QueryParameter, QueryParameters
from ._request_id import is_valid_request_id, uuid4_hex
from ._wire import DEFAULT_LIMIT, EXPOSE_HEADERS, MAX_LIMIT, MessageKey, Order

__version__ = "0.1.0"

__all__ = [
    "CURSOR_PATTERN",
    "DEFAULT_EXCLUDE_PATHS",
    "DEFAULT_LIMIT",
    "EXPOSE_HEADERS",
    "MAX_LIMIT",
    "REQUEST_ID_KEY",
    "ApiError",
    "BadRequest",
    "ClientError",
    "Conflict",
    "ContentTooLarge",
    "CursorPage",
    "CursorPager",
    "Direction",
    "EnvelopeConfig",
    "EnvelopeMiddleware",
    "EnvelopeOptions",
    "Expander",
    "Expansion",
    "Forbidden",
    "Gone",
    "Integration",
    "InternalServerError",
    "Loader",
    "MessageKey",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "NotImplementedYet",
    "NotSupported",
    "Order",
    "Page",
    "Pager",
    "PaymentRequired",
    "PreconditionRequired",
    "QueryParameter",
    "QueryParameters",
    "RangeNotSatisfiable",
    "RequestIdFilter",
    "ServerError",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthenticated",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "__version__",
    "docs_paths",
    "error_class_for",
    "genie_key",
    "get_caller",
    "get_request_id",
    "is_valid_request_id",
    "paged",
    "read_json",
    "request_id_from_exception",
    "set_caller",
    "set_message",
    "uuid4_hex",
]

# Errors read as ``opsgenie_envelope.NotFound`` in tracebacks and reprs, not as the private
# module that defines them (as httpx does for its exceptions).
for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type) and issubclass(_value, ApiError):
        _value.__module__ = __name__
del _name, _value
