"""The error taxonomy: classes, statuses, codes, default messages, headers."""

from __future__ import annotations

import pytest

import opsgenie_envelope as oe
from opsgenie_envelope import (
    ApiError,
    ClientError,
    Conflict,
    Forbidden,
    NotFound,
    NotSupported,
    ServerError,
    ServiceUnavailable,
    TooManyRequests,
    UnprocessableEntity,
    _errors,
    error_class_for,
)

SPEC_TABLE = [
    (400, None, "BadRequest", "Invalid JSON body"),
    (401, None, "Unauthenticated", "Could not authenticate"),
    (
        402,
        None,
        "PaymentRequired",
        "The account cannot do this action because of its subscription plan",
    ),
    (403, 40301, "Forbidden", "You are not allowed to perform this operation"),
    (403, 40302, "NotSupported", "The request is not supported"),
    (404, None, "NotFound", "Resource or handler not found"),
    (405, None, "MethodNotAllowed", "Method Not Allowed"),
    (406, None, "NotAcceptable", "Requested format is not supported"),
    (409, None, "Conflict", "ID or name conflicts with another entity"),
    (410, None, "Gone", "Feature is deprecated"),
    (413, None, "ContentTooLarge", "Request body is too large"),
    (415, None, "UnsupportedMediaType", "Request body format is not supported"),
    (416, None, "RangeNotSatisfiable", "The given range is not supported"),
    (422, None, "UnprocessableEntity", "Request body is not processable. Please check the errors."),
    (428, None, "PreconditionRequired", "Entity is used by another entity"),
    (429, None, "TooManyRequests", "You are making too many requests!"),
    (500, None, "InternalServerError", "Internal Server Error"),
    (501, None, "NotImplementedYet", "Not Implemented"),
    (503, None, "ServiceUnavailable", "Back-end servers are at capacity"),
]


@pytest.mark.parametrize(("status", "code", "name", "message"), SPEC_TABLE)
def test_taxonomy_matches_spec(status: int, code: int | None, name: str, message: str) -> None:
    """Each SPEC class exists with its status, internal code and default message."""
    cls = getattr(oe, name)
    error = cls()
    assert issubclass(cls, ApiError)
    assert (error.status_code, error.code, error.message) == (status, code, message)


@pytest.mark.parametrize(("status", "code", "name", "message"), SPEC_TABLE)
def test_error_class_for_finds_each_class(
    status: int, code: int | None, name: str, message: str
) -> None:
    """``error_class_for`` maps a status (and code) back to the SPEC class."""
    assert error_class_for(status, code).__name__ == name


def test_error_class_for_falls_back_to_closest_base() -> None:
    """Unlisted statuses map to ClientError, ServerError or ApiError."""
    assert error_class_for(418) is ClientError
    assert error_class_for(502) is ServerError
    assert error_class_for(302) is ApiError
    assert error_class_for(403, 49999) is Forbidden


def test_module_docstring_draws_the_tree() -> None:
    """The module opens with the hierarchy, status and code beside each name."""
    doc = _errors.__doc__ or ""
    for _, code, name, _ in SPEC_TABLE:
        assert name in doc
        if code:
            assert str(code) in doc


def test_not_supported_is_a_forbidden() -> None:
    """NotSupported is a kind of Forbidden, so ``except Forbidden`` catches both."""
    assert issubclass(NotSupported, Forbidden)
    assert issubclass(NotFound, ClientError)
    assert issubclass(ServiceUnavailable, ServerError)


def test_custom_message_errors_headers_code() -> None:
    """Every error takes a message, field errors, headers and a code."""
    error = Conflict("Alias taken", errors={"alias": "in use"}, headers={"x-a": "1"}, code=40901)
    assert (error.message, error.errors, error.headers, error.code) == (
        "Alias taken",
        {"alias": "in use"},
        {"x-a": "1"},
        40901,
    )
    assert str(error) == "Alias taken"


def test_subclass_with_own_status_and_code() -> None:
    """Apps subclass ApiError with their own status, code and message."""

    class Teapot(ClientError):
        status_code = 418
        code = 41801
        default_message = "I brew tea"

    error = Teapot()
    assert (error.status_code, error.code, error.message) == (418, 41801, "I brew tea")


def test_status_code_override_is_checked() -> None:
    """A per-instance status must be an error status."""
    assert ApiError(status_code=418).status_code == 418
    with pytest.raises(ValueError, match="status_code"):
        ApiError(status_code=200)


@pytest.mark.parametrize(
    ("seconds", "header"), [(0, "1"), (0.2, "1"), (1, "1"), (1.01, "2"), (30, "30")]
)
def test_retry_after_is_integer_rounded_up_at_least_one(seconds: float, header: str) -> None:
    """``retry_after`` becomes an integer Retry-After, rounded up, at least 1."""
    assert ServiceUnavailable(retry_after=seconds).headers["Retry-After"] == header


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_retry_after_rejects_nonsense(bad: float) -> None:
    """Negative or non-finite ``retry_after`` is refused."""
    with pytest.raises(ValueError, match="retry_after"):
        TooManyRequests(retry_after=bad)


def test_retry_after_rejects_non_numbers() -> None:
    """A non-number ``retry_after`` is a TypeError."""
    with pytest.raises(TypeError, match="retry_after"):
        ServiceUnavailable(retry_after="5")  # type: ignore[arg-type]


def test_too_many_requests_sets_rate_limit_headers() -> None:
    """429 sets X-RateLimit-State, -Reason and -Period-In-Sec."""
    error = TooManyRequests(retry_after=3, reason="API_KEY", period=60)
    assert error.headers == {
        "Retry-After": "3",
        "X-RateLimit-State": "THROTTLED",
        "X-RateLimit-Reason": "API_KEY",
        "X-RateLimit-Period-In-Sec": "60",
    }


def test_too_many_requests_defaults() -> None:
    """Without options 429 still says THROTTLED for ACCOUNT, with no Retry-After."""
    error = TooManyRequests()
    assert error.headers == {"X-RateLimit-State": "THROTTLED", "X-RateLimit-Reason": "ACCOUNT"}


def test_too_many_requests_keeps_rate_limit_headers_given() -> None:
    """A rate-limit header given in ``headers`` (any case) is kept, not replaced by a default."""
    error = TooManyRequests(headers={"x-ratelimit-reason": "API_KEY"})
    assert error.headers == {"x-ratelimit-reason": "API_KEY", "X-RateLimit-State": "THROTTLED"}


def test_repr_names_class_and_status() -> None:
    """The repr shows class, message and status."""
    assert repr(NotFound("x")) == "NotFound('x', status_code=404)"


@pytest.mark.parametrize("name", ["request_id", "took", "response"])
def test_server_errors_have_no_client_attributes(name: str) -> None:
    """What the client reads (request ID, time, response) is no attribute of the server's tree."""
    for cls in (ApiError, NotFound, TooManyRequests):
        assert not hasattr(cls, name), cls
        assert not hasattr(cls(), name), cls


def test_unprocessable_body_fields_keep_opsgenie_wording() -> None:
    """Body fields alone answer OpsGenie's ``Request body is not processable`` text."""
    error = UnprocessableEntity.at(body={"priority": "should be one of [ P1, P2 ]"})
    assert error.message == "Request body is not processable. Please check the errors."
    assert error.errors == {"priority": "should be one of [ P1, P2 ]"}


def test_unprocessable_query_field_is_named_with_its_problem() -> None:
    """One invalid query parameter: the message names it and says what is wrong."""
    error = UnprocessableEntity.at(query={"limit": "should be an integer"})
    assert error.message == "Invalid query parameter 'limit': should be an integer"
    assert error.errors == {"limit": "should be an integer"}


def test_unprocessable_fields_in_several_parts_are_listed() -> None:
    """Several fields in several parts: each part and its fields, in request order."""
    error = UnprocessableEntity.at(
        body={"priority": "bad"},
        query={"limit": "bad", "order": "bad"},
        path={"identifier": "bad"},
    )
    assert error.message == (
        "Invalid path parameter 'identifier', query parameters 'limit', 'order' and "
        "body field 'priority'. Please check the errors."
    )
    assert list(error.errors or {}) == ["identifier", "limit", "order", "priority"]


def test_unprocessable_header_fields_are_named() -> None:
    """Header fields are named as headers."""
    error = UnprocessableEntity.at(header={"x-team": "Field required", "x-user": "Field required"})
    assert error.message == "Invalid headers 'x-team', 'x-user'. Please check the errors."


def test_unprocessable_same_name_in_two_parts_keeps_both_problems() -> None:
    """A name invalid in the query and in the body keeps both problems."""
    error = UnprocessableEntity.at(query={"user": "too long"}, body={"user": "Field required"})
    assert error.errors == {"user": "too long; Field required"}


def test_unprocessable_subclass_keeps_its_class() -> None:
    """``at`` builds the class it is called on."""

    class AlertInvalid(UnprocessableEntity):
        code = 42201

    error = AlertInvalid.at(query={"query": "bad"})
    assert (type(error), error.code) == (AlertInvalid, 42201)
