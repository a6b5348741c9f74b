"""Reading responses with ``unwrap``: success envelopes, error envelopes, non-envelopes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from opsgenie_envelope import (
    ClientError,
    Forbidden,
    NotFound,
    NotSupported,
    ServerError,
    TooManyRequests,
    client,
)
from opsgenie_envelope.client import NotAnEnvelope, Paging, unwrap
from opsgenie_envelope.client._errors import EXCERPT_CHARS

URL = "https://api.example.com/v2/alerts"
RID = "9ae63dd7-ed00-4c81-86f0-c4ffd33142c9"


def response(
    status: int,
    body: Any = None,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> httpx.Response:
    """A read response to ``method URL``, with a JSON ``body`` or raw ``content``."""
    request = httpx.Request(method, URL)
    if content is None and body is not None:
        return httpx.Response(status, json=body, headers=headers, request=request)
    return httpx.Response(status, content=content or b"", headers=headers, request=request)


def test_success_envelope_fields() -> None:
    """Every key of a success envelope lands on its attribute."""
    paging = {"first": URL + "?offset=0", "next": URL + "?offset=20", "last": URL + "?offset=40"}
    raw = response(
        200,
        {
            "data": [{"id": "a"}],
            "message": "listed",
            "expandable": ["contact"],
            "paging": paging,
            "totalCount": 41,
            "took": 0.006,
            "requestId": RID,
        },
    )
    envelope = unwrap(raw)
    assert envelope.data == [{"id": "a"}]
    assert envelope.message == "listed"
    assert envelope.expandable == ("contact",)
    assert envelope.paging == Paging(
        first=URL + "?offset=0", next=URL + "?offset=20", last=URL + "?offset=40"
    )
    assert envelope.total_count == 41
    assert envelope.took == 0.006
    assert envelope.request_id == RID
    assert envelope.status_code == 200
    assert envelope.headers is raw.headers
    assert envelope.response is raw


def test_result_is_read_as_message() -> None:
    """OpsGenie's 202 ``result`` (with no ``data``) is the envelope's message."""
    body = {"result": "Request will be processed", "took": 0.302, "requestId": RID}
    envelope = unwrap(response(202, body))
    assert envelope.message == "Request will be processed"
    assert envelope.data is None


def test_optional_keys_absent_are_none() -> None:
    """A minimal envelope leaves the optional attributes at ``None``."""
    envelope = unwrap(response(200, {"data": None, "took": 0.0, "requestId": RID}))
    assert (envelope.message, envelope.expandable, envelope.paging, envelope.total_count) == (
        None,
        None,
        None,
        None,
    )


def test_no_content_reads_headers() -> None:
    """A 204 has no body: ``data`` is ``None``, ID and time come from the headers."""
    headers = {"x-request-id": RID, "x-response-time": "0.004"}
    envelope = unwrap(response(204, headers=headers))
    assert envelope.data is None
    assert envelope.request_id == RID
    assert envelope.took == 0.004


def test_head_without_body_is_an_envelope() -> None:
    """A HEAD answer carries no body and still reads as an envelope."""
    envelope = unwrap(response(200, headers={"x-request-id": RID}, method="HEAD"))
    assert envelope.request_id == RID


def test_empty_200_is_not_an_envelope() -> None:
    """A 200 GET with an empty body raises ``NotAnEnvelope``."""
    with pytest.raises(NotAnEnvelope, match="200 OK"):
        unwrap(response(200))


@pytest.mark.parametrize("body", [{"id": "a"}, [1, 2, 3], "text", 7])
def test_json_that_is_not_an_envelope(body: Any) -> None:
    """JSON without ``data`` or ``requestId`` is not an envelope."""
    with pytest.raises(NotAnEnvelope):
        unwrap(response(200, body))


def test_proxy_html_raises_with_status_and_excerpt() -> None:
    """A proxy's HTML 502 raises ``NotAnEnvelope`` naming the status and quoting the body."""
    page = b"<html>\n  <h1>502 Bad Gateway</h1>\n</html>"
    raw = response(502, content=page, headers={"content-type": "text/html"})
    with pytest.raises(NotAnEnvelope) as info:
        unwrap(raw)
    error = info.value
    assert error.status_code == 502
    assert error.excerpt == "<html> <h1>502 Bad Gateway</h1> </html>"
    assert error.response is raw
    assert str(error) == (
        "502 Bad Gateway: expected an OpsGenie envelope, got text/html:"
        " '<html> <h1>502 Bad Gateway</h1> </html>'"
    )


def test_excerpt_is_short() -> None:
    """Only the start of a long body is quoted, marked as cut."""
    raw = response(500, content=b"x" * 10_000, headers={"content-type": "text/plain"})
    with pytest.raises(NotAnEnvelope) as info:
        unwrap(raw)
    assert info.value.excerpt == "x" * EXCERPT_CHARS + "..."
    assert len(str(info.value)) < EXCERPT_CHARS + 100


def test_error_envelope_raises_taxonomy_class() -> None:
    """A 404 envelope raises the client's ``NotFound`` (a ``NotFound``) with its fields."""
    raw = response(
        404,
        {"message": "Alert does not exist", "took": 0.002, "requestId": RID},
        headers={"x-request-id": RID},
    )
    with pytest.raises(client.NotFound) as info:
        unwrap(raw)
    error = info.value
    assert type(error) is client.NotFound
    assert isinstance(error, NotFound)
    assert (error.message, error.code, error.errors) == ("Alert does not exist", None, None)
    assert (error.status_code, error.request_id, error.took) == (404, RID, 0.002)
    assert error.response is raw
    assert error.headers["x-request-id"] == RID


def test_response_built_without_a_request_is_read() -> None:
    """``unwrap`` reads a response made by hand, with no request attached."""
    raw = httpx.Response(200, json={"data": {"id": "1"}, "took": 0.0, "requestId": RID})
    assert unwrap(raw).data == {"id": "1"}


def test_error_headers_read_in_any_case() -> None:
    """An error's ``headers`` are the response's: ``Retry-After`` and ``retry-after`` alike."""
    body = {"message": "You are making too many requests!", "took": 0.0, "requestId": RID}
    with pytest.raises(TooManyRequests) as info:
        unwrap(response(429, body, headers={"retry-after": "7"}))
    headers = info.value.headers
    assert (headers["Retry-After"], headers.get("RETRY-AFTER")) == ("7", "7")


@pytest.mark.parametrize(
    ("code", "cls"), [(40302, NotSupported), (40301, Forbidden), (None, Forbidden)]
)
def test_forbidden_code_picks_class(code: int | None, cls: type[Forbidden]) -> None:
    """A 403's internal code picks ``NotSupported`` or ``Forbidden``, and is kept as sent."""
    body = {"code": code, "message": "no", "took": 0.0, "requestId": RID}
    with pytest.raises(Forbidden) as info:
        unwrap(response(403, body))
    assert type(info.value) is getattr(client, cls.__name__)
    assert info.value.code == code


@pytest.mark.parametrize(("status", "cls"), [(418, ClientError), (502, ServerError)])
def test_unlisted_status_gets_closest_base(status: int, cls: type[Exception]) -> None:
    """A status outside the table raises ``ClientError`` or ``ServerError`` with that status."""
    body = {"message": "odd", "took": 0.0, "requestId": RID}
    with pytest.raises(cls) as info:
        unwrap(response(status, body))
    assert type(info.value) is getattr(client, cls.__name__)
    assert getattr(info.value, "status_code", None) == status


def test_field_errors_are_kept() -> None:
    """``errors`` comes back as field → message strings."""
    errors = {"priority": "should be one of [ P1, P2, P3, P4, P5 ]"}
    body = {"message": "Request body is not processable.", "errors": errors, "requestId": RID}
    with pytest.raises(ClientError) as info:
        unwrap(response(422, body))
    assert info.value.errors == errors


def test_throttle_headers_fill_retry_fields() -> None:
    """A 429's ``Retry-After`` and rate-limit headers fill ``retry_after``, ``reason``, ``period``."""
    headers = {
        "retry-after": "3",
        "x-ratelimit-state": "THROTTLED",
        "x-ratelimit-reason": "API_KEY",
        "x-ratelimit-period-in-sec": "60",
    }
    body = {"message": "You are making too many requests!", "requestId": RID}
    with pytest.raises(TooManyRequests) as info:
        unwrap(response(429, body, headers=headers))
    assert (info.value.retry_after, info.value.reason, info.value.period) == (3, "API_KEY", 60)


def test_head_error_without_body() -> None:
    """A HEAD 404 has no body: ``NotFound`` with its default message and the header's ID."""
    raw = response(404, headers={"x-request-id": RID}, method="HEAD")
    with pytest.raises(client.NotFound) as info:
        unwrap(raw)
    assert info.value.message == NotFound.default_message
    assert info.value.request_id == RID


def test_error_json_without_message_is_not_an_envelope() -> None:
    """FastAPI's bare ``{"detail": ...}`` (no middleware) is not an error envelope."""
    with pytest.raises(NotAnEnvelope, match="404 Not Found"):
        unwrap(response(404, {"detail": "Not Found"}))


def test_ill_typed_optional_keys_are_ignored() -> None:
    """Optional keys of the wrong JSON type read as absent rather than failing."""
    body = {
        "data": 1,
        "message": 5,
        "paging": "nope",
        "totalCount": "41",
        "took": True,
        "requestId": 9,
    }
    envelope = unwrap(response(200, body, headers={"x-request-id": RID}))
    assert envelope.data == 1
    assert (envelope.message, envelope.paging, envelope.total_count, envelope.took) == (
        None,
        None,
        None,
        None,
    )
    assert envelope.request_id == RID
