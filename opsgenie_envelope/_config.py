"""The middleware's configuration: one frozen object, validated once at construction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ._render import MessageKey
from ._request_id import is_valid_request_id

__all__ = ["DEFAULT_EXCLUDE_PATHS", "EnvelopeConfig"]

DEFAULT_EXCLUDE_PATHS: frozenset[str] = frozenset(
    {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)
"""FastAPI's default documentation URLs: answered untouched so Swagger UI and ReDoc work."""

_MESSAGE_KEYS = ("message", "result", "both")


@dataclass(frozen=True)
class EnvelopeConfig:
    """Options of :class:`EnvelopeMiddleware`; each is checked here, never per request.

    Attributes:
        generator: returns a new request ID; a lower-case UUID4 by default. Its IDs must
            pass the allowlist (``[A-Za-z0-9._:-]``, 1..128 characters).
        trust_incoming_id: use a client's ``X-Request-ID`` when it passes ``validator``.
        validator: decides whether an incoming ID is trusted (the SPEC allowlist by default).
        exclude_paths: paths answered untouched but for the two headers.
        negotiate: answer 406 when ``Accept`` rules out JSON.
        require_json_body: answer 415 when a request body's ``Content-Type`` is not JSON.
        message_key: render a handler's message as ``"message"``, OpsGenie's ``"result"``,
            or ``"both"``.
        debug: put the exception type and text in 500 bodies (never in production).
    """

    generator: Callable[[], str] | None = None
    trust_incoming_id: bool = False
    validator: Callable[[str], bool] = is_valid_request_id
    exclude_paths: frozenset[str] = field(default=DEFAULT_EXCLUDE_PATHS)
    negotiate: bool = True
    require_json_body: bool = False
    message_key: MessageKey = "message"
    debug: bool = False

    def __post_init__(self) -> None:
        if self.generator is not None and not callable(self.generator):
            raise TypeError("generator must be a callable returning a str, or None")
        if not callable(self.validator):
            raise TypeError("validator must be a callable taking a str and returning a bool")
        for name in ("trust_incoming_id", "negotiate", "require_json_body", "debug"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type(getattr(self, name)).__name__}")
        if self.message_key not in _MESSAGE_KEYS:
            raise ValueError(
                f"message_key must be one of {_MESSAGE_KEYS}, got {self.message_key!r}"
            )
        paths: object = self.exclude_paths
        if isinstance(paths, (str, bytes)) or not isinstance(paths, Iterable):
            raise TypeError("exclude_paths must be an iterable of path strings")
        checked = frozenset(paths)
        for path in checked:
            if not isinstance(path, str) or not path.startswith("/"):
                raise ValueError(
                    f"exclude_paths entries must be paths starting with '/', got {path!r}"
                )
        object.__setattr__(self, "exclude_paths", checked)
