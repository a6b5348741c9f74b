"""Mapping framework answers and exceptions to taxonomy errors, without ASGI."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.exceptions import HTTPException

from opsgenie_envelope import BadRequest, ClientError, InternalServerError, NotFound, ServerError
from opsgenie_envelope._framework import (
    MAX_MESSAGE,
    error_from_exception,
    error_from_response,
    field_path,
    validation_errors,
)
from opsgenie_envelope.fastapi import install
from tests.support.asgi import make_client


def test_validation_errors_strip_location_and_drop_input() -> None:
    """``loc`` loses its source prefix, which groups the fields; ``input``/``ctx`` are never read."""
    items = [
        {
            "type": "missing",
            "loc": ["body", "message"],
            "msg": "Field required",
            "input": {"x": "SECRET"},
        },
        {"type": "int_parsing", "loc": ["query", "limit"], "msg": "bad int", "input": "SECRET"},
        {"type": "x", "loc": ["body", "tags", 0], "msg": "bad tag", "ctx": {"secret": 1}},
    ]
    json_invalid, located = validation_errors(items)
    assert not json_invalid
    assert located == {
        "body": {"message": "Field required", "tags.0": "bad tag"},
        "query": {"limit": "bad int"},
    }
    assert "SECRET" not in repr(located)


def test_validation_errors_join_messages_for_one_field() -> None:
    """Two problems with one field are joined."""
    _, located = validation_errors(
        [{"loc": ["body", "a"], "msg": "one"}, {"loc": ["body", "a"], "msg": "two"}]
    )
    assert located == {"body": {"a": "one; two"}}


def test_validation_errors_detect_json_syntax_errors() -> None:
    """FastAPI's ``json_invalid`` is reported as a syntax error."""
    json_invalid, _ = validation_errors(
        [{"type": "json_invalid", "loc": ["body", 1], "msg": "JSON decode error"}]
    )
    assert json_invalid


def test_validation_errors_tolerate_odd_items() -> None:
    """Items that are not mappings, or lack fields, do not break the mapping."""
    _, located = validation_errors(["junk", {"loc": "body"}, {}])
    assert located == {"body": {"body": "is invalid"}}


@pytest.mark.parametrize("where", ["path", "query", "header", "cookie"])
def test_validation_errors_keep_each_part_of_the_request(where: str) -> None:
    """Path, query, header and cookie fields are grouped under their part."""
    _, located = validation_errors([{"loc": [where, "name"], "msg": "bad"}])
    assert located == {where: {"name": "bad"}}


def test_plain_text_becomes_message() -> None:
    """A ``text/plain`` error body is the message, whitespace folded."""
    error = error_from_response(409, b"Alias\n  already used", b"text/plain")
    assert (error.status_code, error.message) == (409, "Alias already used")


def test_default_phrase_becomes_opsgenie_message() -> None:
    """Starlette's bare phrase ("Not Found") gives way to OpsGenie's default text."""
    error = error_from_response(404, b"Not Found", b"text/plain")
    assert isinstance(error, NotFound)
    assert error.message == "Resource or handler not found"


def test_control_characters_in_text_are_not_used() -> None:
    """Text with control characters is replaced by the default message."""
    assert error_from_response(400, b"bad\x00byte", b"text/plain").message == "Invalid JSON body"


def test_invalid_utf8_text_is_not_used() -> None:
    """Undecodable text is replaced by the default message."""
    assert (
        error_from_response(404, b"\xff\xfe", b"text/plain").message
        == "Resource or handler not found"
    )


def test_long_text_is_cut() -> None:
    """A very long message is cut to MAX_MESSAGE characters."""
    assert len(error_from_response(400, b"x" * 5000, b"text/plain").message) == MAX_MESSAGE


def test_unlisted_status_gets_its_phrase() -> None:
    """An unlisted status keeps its number and gets the standard phrase."""
    error = error_from_response(418, b"", b"")
    assert isinstance(error, ClientError)
    assert (error.status_code, error.message) == (418, "I'm a Teapot")


def test_unknown_status_number_gets_class_default() -> None:
    """A status with no standard phrase falls back to the base class's message."""
    error = error_from_response(599, b"", b"")
    assert isinstance(error, ServerError)
    assert error.message == "Internal Server Error"


def test_malformed_json_error_body_gets_default() -> None:
    """An error body labelled JSON that does not parse gets the default message."""
    assert (
        error_from_response(404, b"{oops", b"application/json").message
        == "Resource or handler not found"
    )


def test_json_array_error_body_gets_default() -> None:
    """A JSON error body that is not an object gets the default message."""
    assert (
        error_from_response(409, b"[1]", b"application/json").message
        == "ID or name conflicts with another entity"
    )


def test_fastapi_422_json_invalid_is_bad_request() -> None:
    """FastAPI's 422 for a JSON syntax error becomes 400."""
    body = b'{"detail":[{"type":"json_invalid","loc":["body",1],"msg":"JSON decode error","input":{}}]}'
    error = error_from_response(422, body, b"application/json")
    assert isinstance(error, BadRequest)


def test_http_exception_maps_status_detail_headers() -> None:
    """``HTTPException`` keeps status, detail and headers."""
    error, unexpected = error_from_exception(HTTPException(404, "No alert", headers={"x-a": "1"}))
    assert not unexpected
    assert (error.status_code, error.message, error.headers) == (404, "No alert", {"x-a": "1"})


def test_http_exception_with_non_text_detail_uses_default() -> None:
    """A non-string detail is not rendered; the default message is used."""
    error, _ = error_from_exception(HTTPException(404, {"nested": "SECRET"}))  # type: ignore[arg-type]
    assert error.message == "Resource or handler not found"


def test_unexpected_exception_hides_text() -> None:
    """Other exceptions map to a text-free 500 unless debug is on."""
    error, unexpected = error_from_exception(KeyError("SECRET"))
    assert unexpected
    assert isinstance(error, InternalServerError)
    assert "SECRET" not in error.message
    debug_error, _ = error_from_exception(KeyError("SECRET"), debug=True)
    assert debug_error.message == "KeyError: 'SECRET'"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 503])
def test_error_from_response_keeps_status(status: int) -> None:
    """The rendered status is the response's status."""
    assert error_from_response(status, b"", b"text/html").status_code == status


def test_field_path_replaces_parts_that_are_not_names() -> None:
    """Client-chosen keys become the placeholder; names and list indices stay."""
    assert field_path(["details", "<img src=x onerror=alert(1)>", 0]) == "details.*.0"
    assert field_path(["tags", 3]) == "tags.3"
    assert field_path(["a" * 65]) == "*"


def test_field_path_is_bounded_in_depth() -> None:
    """Parts past the depth bound collapse into one placeholder."""
    path = field_path([f"level{n}" for n in range(50)])
    assert path.split(".") == [f"level{n}" for n in range(8)] + ["*"]


def test_validation_errors_list_a_bounded_number_of_fields() -> None:
    """Thousands of failing fields give at most MAX_FIELDS entries."""
    items = [{"type": "x", "loc": ["body", f"f{n}"], "msg": "bad"} for n in range(5000)]
    _, located = validation_errors(items)
    assert len(located["body"]) == 100


@pytest.mark.anyio
async def test_fastapi_422_never_echoes_a_client_chosen_key() -> None:
    """A 5 KB HTML key in a JSON body is not echoed by the 422 (through a real ASGI call)."""
    app = FastAPI()

    @app.post("/alerts")
    async def create(details: dict[str, int]) -> dict[str, int]:
        return details

    install(app)
    hostile = "<img src=x onerror=alert(1)>" + "x" * 5000
    async with make_client(app) as client:
        response = await client.post("/alerts", json={hostile: "not a number"})
    assert response.status_code == 422
    assert "<img" not in response.text
    assert response.json()["errors"] == {
        "*": "Input should be a valid integer, unable to parse string as an integer"
    }
