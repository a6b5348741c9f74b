"""Option checks: ``TypeError`` for a wrong type, ``ValueError`` for a wrong value, the
option's name first in the message, the same everywhere an option is taken."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from opsgenie_envelope import EnvelopeConfig, TooManyRequests
from opsgenie_envelope._options import (
    check_bool,
    check_callable,
    check_choice,
    check_int,
    check_seconds,
    check_str,
    check_type,
)
from opsgenie_envelope.client import Retry
from opsgenie_envelope.otel import OpenTelemetryIntegration
from opsgenie_envelope.ratelimit import RateLimit
from opsgenie_envelope.request_status import MemoryRequestStore, Outcome, RequestTracker
from opsgenie_envelope.testing import request_id


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (lambda v: check_bool("flag", v), 1),
        (lambda v: check_int("count", v), 1.0),
        (lambda v: check_int("count", v), True),
        (lambda v: check_seconds("wait", v), "1"),
        (lambda v: check_seconds("wait", v), False),
        (lambda v: check_str("label", v), b"x"),
        (lambda v: check_callable("hook", v), "print"),
        (lambda v: check_type("names", v, list, "a list"), ("a",)),
    ],
)
def test_a_wrong_type_is_a_type_error_naming_the_option(
    check: Callable[[object], object], value: object
) -> None:
    """Each checker refuses a value of the wrong type with ``TypeError``, name first."""
    with pytest.raises(TypeError, match=r"^\w+ must be .*, got \w+$"):
        check(value)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (lambda v: check_int("count", v, minimum=1), 0),
        (lambda v: check_int("count", v, maximum=9), 10),
        (lambda v: check_int("count", v, minimum=1, maximum=9), 10),
        (lambda v: check_seconds("wait", v), 0),
        (lambda v: check_seconds("wait", v, zero=True), -1),
        (lambda v: check_seconds("wait", v), math.inf),
        (lambda v: check_seconds("wait", v), math.nan),
        (lambda v: check_str("label", v), ""),
        (lambda v: check_choice("mode", v, ("a", "b")), "c"),
    ],
)
def test_a_wrong_value_is_a_value_error_naming_the_option(
    check: Callable[[object], object], value: object
) -> None:
    """Each checker refuses a value of the right type but out of range with ``ValueError``."""
    with pytest.raises(ValueError, match=r"^\w+ must be "):
        check(value)


def test_checkers_return_what_they_accept() -> None:
    """A checker hands back the value (seconds as a float), so a constructor assigns it."""
    assert check_int("count", 3, minimum=1, maximum=9) == 3
    assert check_seconds("wait", 0, zero=True) == 0.0
    assert isinstance(check_seconds("wait", 2), float)
    assert check_str("label", "x") == "x"
    assert check_choice("mode", "a", ("a", "b")) == "a"


@pytest.mark.parametrize(
    ("build", "error", "name"),
    [
        (lambda: EnvelopeConfig(debug=1), TypeError, "debug"),  # type: ignore[arg-type]
        (lambda: EnvelopeConfig(clock=0.0), TypeError, "clock"),  # type: ignore[arg-type]
        (lambda: EnvelopeConfig(message_key="msg"), ValueError, "message_key"),  # type: ignore[arg-type]
        (lambda: TooManyRequests(retry_after="1"), TypeError, "retry_after"),  # type: ignore[arg-type]
        (lambda: TooManyRequests(retry_after=-1), ValueError, "retry_after"),
        (lambda: Retry(attempts=0), ValueError, "attempts"),
        (lambda: Retry(budget="30"), TypeError, "budget"),  # type: ignore[arg-type]
        (lambda: RateLimit("1/minute", name=5), TypeError, "name"),  # type: ignore[arg-type]
        (lambda: RateLimit("1/minute", name="a b"), ValueError, "name"),
        (lambda: RateLimit("1/minute", reason=5), TypeError, "reason"),  # type: ignore[arg-type]
        (lambda: RequestTracker(message=""), ValueError, "message"),
        (lambda: MemoryRequestStore(max_entries=0), ValueError, "max_entries"),
        (lambda: MemoryRequestStore(clock=1), TypeError, "clock"),  # type: ignore[arg-type]
        (lambda: Outcome(""), ValueError, "status"),
        (lambda: Outcome("ok", success="yes"), TypeError, "success"),  # type: ignore[arg-type]
        (lambda: OpenTelemetryIntegration(attribute=""), ValueError, "attribute"),
        (lambda: request_id("1"), TypeError, "n"),  # type: ignore[arg-type]
    ],
)
def test_the_rule_holds_across_the_package(
    build: Callable[[], Any], error: type[Exception], name: str
) -> None:
    """Options of the middleware, errors, client, rate limits, request statuses and helpers."""
    with pytest.raises(error, match=rf"^{name} must be"):
        build()
