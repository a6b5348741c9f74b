"""The client's own failures share one root, ``RequestFailed``, apart from error envelopes."""

from __future__ import annotations

import inspect

import httpx
import pytest

from opsgenie_envelope import ApiError, NotFound
from opsgenie_envelope import client as client_module
from opsgenie_envelope.client import NotAnEnvelope, PagingError, RequestFailed, RetriesExhausted


def test_every_client_failure_class_is_under_the_root() -> None:
    """Each exception class the client package exports (but the root) derives from it."""
    failures = [
        value
        for value in vars(client_module).values()
        if inspect.isclass(value) and issubclass(value, BaseException)
    ]
    assert {cls.__name__ for cls in failures} >= {
        "NotAnEnvelope",
        "PagingError",
        "RequestFailed",
        "RetriesExhausted",
    }
    for cls in failures:
        assert issubclass(cls, RequestFailed), cls
        assert not issubclass(cls, ApiError), cls


def test_every_client_failure_is_an_instance_of_the_root() -> None:
    """What the client raises of its own is caught by ``except RequestFailed``."""
    request = httpx.Request("GET", "https://api.example.com/v2/alerts")
    response = httpx.Response(502, text="<html>Bad Gateway</html>", request=request)
    not_envelope = NotAnEnvelope(response)
    failures: list[Exception] = [
        not_envelope,
        RetriesExhausted(3, 1.5, not_envelope, "attempts used up"),
        PagingError("too many pages", pages=10, next_url=None),
    ]
    for failure in failures:
        assert isinstance(failure, RequestFailed), failure


def test_an_error_envelope_is_the_server_taxonomy_not_a_client_failure() -> None:
    """An error envelope raises the server's class (``NotFound``), outside ``RequestFailed``."""
    response = httpx.Response(
        404, json={"message": "Alert does not exist", "took": 0.0, "requestId": "r-1"}
    )
    with pytest.raises(NotFound) as info:
        client_module.unwrap(response)
    assert not isinstance(info.value, RequestFailed)
    assert info.value.status_code == 404


def test_a_status_beyond_599_is_not_an_envelope() -> None:
    """No error envelope has a status over 599: such an answer raises ``NotAnEnvelope``."""
    response = httpx.Response(600, json={"message": "odd", "took": 0.0, "requestId": "r-1"})
    with pytest.raises(NotAnEnvelope) as info:
        client_module.unwrap(response)
    assert info.value.status_code == 600
