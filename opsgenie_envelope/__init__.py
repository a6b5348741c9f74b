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
from ._config import DEFAULT_EXCLUDE_PATHS, EnvelopeConfig, docs_paths
from ._context import REQUEST_ID_KEY, get_request_id, set_message
from ._errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
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
from ._expand import Expander, Expansion
from ._integration import Integration
from ._logging import RequestIdFilter
from ._middleware import EnvelopeMiddleware
from ._paging import Page, Pager, paged
from ._request_id import is_valid_request_id, uuid4_hex

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_EXCLUDE_PATHS",
    "REQUEST_ID_KEY",
    "ApiError",
    "BadRequest",
    "ClientError",
    "Conflict",
    "EnvelopeConfig",
    "EnvelopeMiddleware",
    "Expander",
    "Expansion",
    "Forbidden",
    "Gone",
    "Integration",
    "InternalServerError",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "NotImplementedYet",
    "NotSupported",
    "Page",
    "Pager",
    "PaymentRequired",
    "PreconditionRequired",
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
    "get_request_id",
    "is_valid_request_id",
    "paged",
    "read_json",
    "request_id_from_exception",
    "set_message",
    "uuid4_hex",
]
