"""Option checks: ``TypeError`` for a wrong type, ``ValueError`` for a wrong value, the
option's name first in the message, the same everywhere an option is taken."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from starlette.requests import HTTPConnection

from opsgenie_envelope import (
    CursorPager,
    EnvelopeConfig,
    Expander,
    Pager,
    TooManyRequests,
    set_caller,
)
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
from opsgenie_envelope.fastapi import envelope
from opsgenie_envelope.otel import OpenTelemetryIntegration
from opsgenie_envelope.ratelimit import BoundedMemoryStorage, RateLimit
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


def _connection() -> HTTPConnection:
    """A connection to record a caller on."""
    return HTTPConnection({"type": "http", "headers": []})


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
        (lambda: EnvelopeConfig(message_key=5), TypeError, "message_key"),  # type: ignore[arg-type]
        (lambda: EnvelopeConfig(exclude_paths=[b"/health"]), TypeError, "exclude_paths"),  # type: ignore[list-item]
        (lambda: EnvelopeConfig(exclude_paths=["health"]), ValueError, "exclude_paths"),
        (lambda: Pager(default_limit="20"), TypeError, "default_limit"),  # type: ignore[arg-type]
        (lambda: Pager(max_limit=0), ValueError, "max_limit"),
        (lambda: Pager(max_offset=1.5), TypeError, "max_offset"),  # type: ignore[arg-type]
        (lambda: Pager(max_offset=-1), ValueError, "max_offset"),
        (lambda: Pager(sort_fields=[1]), TypeError, "sort_fields"),  # type: ignore[list-item]
        (lambda: Pager(sort_fields=["a b"]), ValueError, "sort_fields"),
        (lambda: Pager(default_sort=5), TypeError, "default_sort"),  # type: ignore[arg-type]
        (lambda: Pager(default_order=1), TypeError, "default_order"),  # type: ignore[arg-type]
        (lambda: Pager(default_order="up"), ValueError, "default_order"),  # type: ignore[arg-type]
        (lambda: CursorPager(max_limit=True), TypeError, "max_limit"),
        (lambda: CursorPager(default_limit=0), ValueError, "default_limit"),
        (lambda: CursorPager(default_order="up"), ValueError, "default_order"),  # type: ignore[arg-type]
        (lambda: Expander({1: print}), TypeError, "loaders"),  # type: ignore[dict-item]
        (lambda: Expander({"a,b": print}), ValueError, "loaders"),
        (lambda: Expander({"owner": "print"}), TypeError, "loaders"),  # type: ignore[dict-item]
        (lambda: Expander({"owner": print}, keys={"owner": 1}), TypeError, "keys"),  # type: ignore[dict-item]
        (lambda: Expander({"owner": print}, keys={"team": "t"}), ValueError, "keys"),
        (lambda: Expander({}, lenient="yes"), TypeError, "lenient"),  # type: ignore[arg-type]
        (lambda: Expander({}, concurrency=1.5), TypeError, "concurrency"),  # type: ignore[arg-type]
        (lambda: Expander({}, concurrency=0), ValueError, "concurrency"),
        (lambda: envelope(paged="yes"), TypeError, "paged"),  # type: ignore[arg-type]
        (lambda: RateLimit("1/minute", strategy="leaky"), ValueError, "strategy"),  # type: ignore[arg-type]
        (lambda: RateLimit("1/minute", on_storage_error=0), TypeError, "on_storage_error"),  # type: ignore[arg-type]
        (lambda: BoundedMemoryStorage(max_keys=0), ValueError, "max_keys"),
        (lambda: set_caller(_connection(), ""), ValueError, "caller"),
        (lambda: set_caller(_connection(), 7), TypeError, "caller"),  # type: ignore[arg-type]
    ],
)
def test_the_rule_holds_across_the_package(
    build: Callable[[], Any], error: type[Exception], name: str
) -> None:
    """Options of the middleware, errors, client, paging, expand, limits, statuses, helpers."""
    with pytest.raises(error, match=rf"^{name} must be"):
        build()
