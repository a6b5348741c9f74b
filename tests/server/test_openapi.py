"""The document rewrite on its own: plain dicts in, the wire format's schemas out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mypy.api
import pytest

import opsgenie_envelope
from opsgenie_envelope import (
    BadRequest,
    Conflict,
    EnvelopeConfig,
    Forbidden,
    NotFound,
    NotSupported,
    RangeNotSatisfiable,
    ServiceUnavailable,
    TooManyRequests,
)
from opsgenie_envelope._openapi import (
    ENVELOPE_KEY,
    ERRORS_KEY,
    Declaration,
    describe_error,
    rewrite_openapi,
)

ALERT_REF = {"$ref": "#/components/schemas/Alert"}
JSON_BODY = {"content": {"application/json": {"schema": ALERT_REF}}, "required": True}


class AlertLocked(Conflict):
    """An app's own error with an internal code."""

    code = 40901
    default_message = "Alert is locked by another operation"


def _doc(operation: dict[str, Any], path: str = "/v2/alerts", method: str = "get") -> Any:
    """A minimal FastAPI-like document with one operation and an ``Alert`` schema."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {path: {method: operation}},
        "components": {"schemas": {"Alert": {"type": "object"}}},
    }


def _ok(schema: dict[str, Any] | None = None, status: str = "200") -> dict[str, Any]:
    """An operation whose ``status`` answers JSON with ``schema``."""
    content = {"application/json": {"schema": ALERT_REF if schema is None else schema}}
    return {"responses": {status: {"description": "OK", "content": content}}}


def _rewrite(
    operation: dict[str, Any], method: str = "get", path: str = "/v2/alerts", **options: Any
) -> dict[str, Any]:
    """Rewrite a one-operation document and return that operation."""
    doc = rewrite_openapi(_doc(operation, path, method), EnvelopeConfig(**options))
    result: dict[str, Any] = doc["paths"][path][method]
    return result


def _schema(operation: dict[str, Any], status: str) -> Any:
    """The JSON schema of one response."""
    return operation["responses"][status]["content"]["application/json"]["schema"]


def test_success_schema_becomes_the_envelope() -> None:
    """A 200 model becomes ``{data: model, took, requestId}``, closed to other keys."""
    schema = _schema(_rewrite(_ok()), "200")
    assert schema["properties"]["data"] == ALERT_REF
    assert list(schema["properties"]) == ["data", "took", "requestId"]
    assert schema["required"] == ["data", "took", "requestId"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["took"]["type"] == "number"


def test_no_response_model_gives_data_of_any_type() -> None:
    """FastAPI's empty schema (no response model) becomes ``data: {}``."""
    assert _schema(_rewrite(_ok({})), "200")["properties"]["data"] == {}


def test_non_json_success_is_untouched() -> None:
    """An HTML 200 is passed through on the wire, so its schema stays."""
    html = {"text/html": {"schema": {"type": "string"}}}
    operation = _rewrite({"responses": {"200": {"description": "OK", "content": html}}})
    assert operation["responses"]["200"]["content"] == html


def test_vendor_json_media_type_is_wrapped() -> None:
    """A ``+json`` media type is wrapped like ``application/json``."""
    content = {"application/vnd.api+json": {"schema": ALERT_REF}}
    operation = _rewrite({"responses": {"200": {"description": "OK", "content": content}}})
    schema = operation["responses"]["200"]["content"]["application/vnd.api+json"]["schema"]
    assert schema["properties"]["data"] == ALERT_REF


@pytest.mark.parametrize("status", ["201", "202"])
def test_created_and_accepted_document_a_message(status: str) -> None:
    """201 and 202 may carry ``message`` (not required)."""
    schema = _schema(_rewrite(_ok({}, status)), status)
    assert schema["properties"]["message"] == {
        "type": "string",
        "description": "Human-friendly text.",
    }
    assert "message" not in schema["required"]


@pytest.mark.parametrize(
    ("message_key", "keys"),
    [("message", ["message"]), ("result", ["result"]), ("both", ["message", "result"])],
)
def test_message_follows_message_key(message_key: str, keys: list[str]) -> None:
    """The message is documented under the key(s) the middleware renders."""
    schema = _schema(_rewrite(_ok({}, "202"), message_key=message_key), "202")
    assert [k for k in schema["properties"] if k in ("message", "result")] == keys


def test_declared_message_on_200() -> None:
    """``message=True`` documents ``message`` on a 200."""
    operation = _ok() | {ENVELOPE_KEY: {"message": True}}
    assert "message" in _schema(_rewrite(operation), "200")["properties"]


def test_plain_200_has_no_message() -> None:
    """A 200 that declares nothing has no ``message``."""
    assert "message" not in _schema(_rewrite(_ok()), "200")["properties"]


def test_envelope_expandable_documents_the_key_only() -> None:
    """``expandable`` lists the fields; the parameters stay what the route declares."""
    operation = _rewrite(_ok() | {ENVELOPE_KEY: {"expandable": ["contact", "rotation"]}})
    expandable = _schema(operation, "200")["properties"]["expandable"]
    assert expandable["items"]["enum"] == ["contact", "rotation"]
    assert "parameters" not in operation
    assert "400" not in operation["responses"]


def test_paged_documents_paging_total_count_and_headers() -> None:
    """A paged route has ``paging``, ``totalCount`` and the ``X-Paging-*`` headers."""
    operation = _rewrite(_ok() | {ENVELOPE_KEY: {"paged": True}})
    properties = _schema(operation, "200")["properties"]
    assert list(properties) == ["data", "paging", "totalCount", "took", "requestId"]
    assert set(properties["paging"]["properties"]) == {"first", "prev", "next", "last"}
    headers = operation["responses"]["200"]["headers"]
    assert {"X-Paging-First", "X-Paging-Prev", "X-Paging-Next", "X-Paging-Last"} <= set(headers)


def test_paging_links_are_documented_as_uri_references() -> None:
    """Links may be relative (no ``base_url``): each is a ``uri-reference``."""
    operation = _rewrite(_ok() | {ENVELOPE_KEY: {"paged": True}})
    links = _schema(operation, "200")["properties"]["paging"]["properties"]
    assert {link["format"] for link in links.values()} == {"uri-reference"}


def test_envelope_paged_adds_no_parameters() -> None:
    """``envelope(paged=True)`` documents the answer, not parameters the route may not read."""
    limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 50}}
    operation = _rewrite(_ok() | {ENVELOPE_KEY: {"paged": True}, "parameters": [limit]})
    assert operation["parameters"] == [limit]
    assert "416" not in operation["responses"]


def _declared(operation: dict[str, Any], *declarations: Declaration, **options: Any) -> Any:
    """Rewrite a one-operation document with ``declarations`` for its operation."""
    doc = _doc(operation)
    declared = {("/v2/alerts", "get"): declarations}
    return rewrite_openapi(doc, EnvelopeConfig(**options), declared)["paths"]["/v2/alerts"]["get"]


def test_declared_paging_documents_the_page_and_its_errors() -> None:
    """A paged declaration adds ``paging``, ``totalCount``, the headers and its 416."""
    out_of_range = RangeNotSatisfiable("The given range is not supported: limit should be 1..9")
    declaration = Declaration(paged=True, errors=(describe_error(out_of_range, "range"),))
    operation = _declared(_ok(), declaration)
    assert {"paging", "totalCount"} <= set(_schema(operation, "200")["properties"])
    assert "X-Paging-Next" in operation["responses"]["200"]["headers"]
    examples = operation["responses"]["416"]["content"]["application/json"]["examples"]
    assert examples["RangeNotSatisfiable (range)"]["value"]["message"] == out_of_range.message


def test_declared_expandable_names_join_the_envelope_options() -> None:
    """Names from a declaration and from ``envelope()`` are listed once, in order."""
    operation = _ok() | {ENVELOPE_KEY: {"expandable": ["contact"]}}
    declared = _declared(operation, Declaration(expandable=("rotation", "contact")))
    enum = _schema(declared, "200")["properties"]["expandable"]["items"]["enum"]
    assert enum == ["contact", "rotation"]


def test_declared_errors_keep_the_common_ones() -> None:
    """A declared 400 on a route with a JSON body still lists ``Invalid JSON body``."""
    unknown = BadRequest("expand should be one of [ contact ]", errors={"expand": "bad"})
    operation = _ok() | {"requestBody": JSON_BODY}
    declared = _declared(operation, Declaration(errors=(describe_error(unknown, "expand"),)))
    examples = declared["responses"]["400"]["content"]["application/json"]["examples"]
    assert list(examples) == ["BadRequest (expand)", "BadRequest"]
    assert examples["BadRequest (expand)"]["value"]["errors"] == {"expand": "bad"}
    assert examples["BadRequest"]["value"]["message"] == "Invalid JSON body"


def test_declared_errors_are_listed_once() -> None:
    """One dependency met twice in a route documents its error once."""
    described = describe_error(RangeNotSatisfiable())
    twice = (Declaration(errors=(described,)), Declaration(errors=(described,)))
    operation = _declared(_ok(), *twice)
    assert list(operation["responses"]["416"]["content"]["application/json"]["examples"]) == [
        "RangeNotSatisfiable"
    ]


def test_no_entity_documents_no_data() -> None:
    """A handler that returns nothing: the 202 is ``{message?, took, requestId}``."""
    operation = _declared(_ok({}, "202"), Declaration(entity=False))
    schema = _schema(operation, "202")
    assert list(schema["properties"]) == ["message", "took", "requestId"]
    assert schema["required"] == ["took", "requestId"]


@pytest.mark.parametrize(
    "data",
    [{}, {"type": "null"}, {"anyOf": [ALERT_REF, {"type": "null"}]}, {"type": ["string", "null"]}],
)
def test_data_that_may_be_null_is_optional(data: dict[str, Any]) -> None:
    """A payload schema accepting ``null`` makes ``data`` optional: no entity, no ``data``."""
    schema = _schema(_rewrite(_ok(data)), "200")
    assert schema["properties"]["data"] == data
    assert schema["required"] == ["took", "requestId"]


def test_null_example_is_an_envelope_without_data() -> None:
    """An example payload of ``null`` becomes an envelope without ``data``."""
    operation = _ok({})
    operation["responses"]["200"]["content"]["application/json"]["example"] = None
    example = _rewrite(operation)["responses"]["200"]["content"]["application/json"]["example"]
    assert list(example) == ["took", "requestId"]


def test_success_examples_are_wrapped() -> None:
    """A payload example becomes an envelope example."""
    operation = _ok()
    operation["responses"]["200"]["content"]["application/json"]["example"] = {"id": "1"}
    example = _rewrite(operation)["responses"]["200"]["content"]["application/json"]["example"]
    assert example["data"] == {"id": "1"}
    assert set(example) == {"data", "took", "requestId"}


def test_named_success_examples_are_wrapped() -> None:
    """Each named payload example becomes an envelope example."""
    operation = _ok()
    media = operation["responses"]["200"]["content"]["application/json"]
    media["examples"] = {"one": {"summary": "One alert", "value": {"id": "1"}}}
    example = _rewrite(operation)["responses"]["200"]["content"]["application/json"]["examples"]
    assert example["one"]["summary"] == "One alert"
    assert example["one"]["value"]["data"] == {"id": "1"}


def test_declared_errors_get_the_error_envelope() -> None:
    """A response declared with ``errors(NotFound)`` refers to ``ErrorEnvelope``."""
    operation = _ok()
    operation["responses"]["404"] = {ERRORS_KEY: [describe_error(NotFound)]}
    result = _rewrite(operation)
    assert _schema(result, "404") == {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert ERRORS_KEY not in result["responses"]["404"]


def test_codes_are_listed_and_required_when_every_class_has_one() -> None:
    """403 with ``Forbidden`` and ``NotSupported``: ``code`` is 40301 or 40302, required."""
    operation = _ok()
    operation["responses"]["403"] = {
        ERRORS_KEY: [describe_error(Forbidden), describe_error(NotSupported)]
    }
    narrowed = _schema(_rewrite(operation), "403")["allOf"][1]
    assert narrowed == {"properties": {"code": {"enum": [40301, 40302]}}, "required": ["code"]}


def test_codes_are_optional_when_a_class_has_none() -> None:
    """409 with ``Conflict`` and a coded subclass: ``code`` listed but optional."""
    operation = _ok()
    operation["responses"]["409"] = {
        ERRORS_KEY: [describe_error(Conflict), describe_error(AlertLocked)]
    }
    narrowed = _schema(_rewrite(operation), "409")["allOf"][1]
    assert narrowed == {"properties": {"code": {"enum": [40901]}}}


def test_each_declared_class_has_an_example() -> None:
    """Each class is an example of its status, with its code and default message."""
    operation = _ok()
    operation["responses"]["409"] = {
        ERRORS_KEY: [describe_error(Conflict), describe_error(AlertLocked)]
    }
    examples = _rewrite(operation)["responses"]["409"]["content"]["application/json"]["examples"]
    assert examples["AlertLocked"]["value"]["code"] == 40901
    assert examples["Conflict"]["value"]["message"] == "ID or name conflicts with another entity"


def test_user_declared_error_content_is_replaced() -> None:
    """A 404 declared with another model still documents the error envelope."""
    operation = _ok()
    operation["responses"]["404"] = {
        "description": "Gone missing",
        "content": {"application/json": {"schema": ALERT_REF}},
    }
    result = _rewrite(operation)["responses"]["404"]
    assert result["description"] == "Gone missing"
    assert result["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")


def test_fastapi_validation_error_is_replaced_and_its_schemas_dropped() -> None:
    """FastAPI's 422 becomes the error envelope; ``HTTPValidationError`` goes away."""
    operation = _ok()
    operation["responses"]["422"] = {
        "description": "Validation Error",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
        },
    }
    doc = _doc(operation)
    doc["components"]["schemas"]["HTTPValidationError"] = {
        "properties": {"detail": {"items": {"$ref": "#/components/schemas/ValidationError"}}}
    }
    doc["components"]["schemas"]["ValidationError"] = {"type": "object"}
    rewrite_openapi(doc, EnvelopeConfig())
    response = doc["paths"]["/v2/alerts"]["get"]["responses"]["422"]
    example = response["content"]["application/json"]["examples"]["UnprocessableEntity"]
    assert "errors" in example["value"]
    assert set(doc["components"]["schemas"]) == {"Alert", "ErrorEnvelope"}


def test_validation_schemas_still_referenced_are_kept() -> None:
    """A route that returns FastAPI's ``HTTPValidationError`` model keeps the schema."""
    doc = _doc(_ok({"$ref": "#/components/schemas/HTTPValidationError"}))
    doc["components"]["schemas"]["HTTPValidationError"] = {"type": "object"}
    rewrite_openapi(doc, EnvelopeConfig())
    assert "HTTPValidationError" in doc["components"]["schemas"]


def test_every_operation_documents_500_and_406() -> None:
    """500 always; 406 with negotiation on (the default)."""
    assert {"500", "406"} <= set(_rewrite(_ok())["responses"])


def test_406_is_not_documented_without_negotiation() -> None:
    """``negotiate=False`` never answers 406, so it is not documented."""
    assert "406" not in _rewrite(_ok(), negotiate=False)["responses"]


def test_json_body_documents_400() -> None:
    """A route that parses a JSON body can answer 400 for malformed JSON."""
    operation = _ok() | {"requestBody": JSON_BODY}
    assert "400" in _rewrite(operation, "post")["responses"]
    assert "400" not in _rewrite(_ok())["responses"]


@pytest.mark.parametrize(("method", "documented"), [("post", True), ("get", False)])
def test_415_with_enforcement_on_body_methods(method: str, documented: bool) -> None:
    """``require_json_body=True`` documents 415 on POST/PUT/PATCH only."""
    responses = _rewrite(_ok(), method, require_json_body=True)["responses"]
    assert ("415" in responses) is documented


@pytest.mark.parametrize(("method", "documented"), [("post", True), ("get", False)])
def test_413_on_body_methods(method: str, documented: bool) -> None:
    """``max_body_size`` (on by default) documents 413 on POST/PUT/PATCH; off, nowhere."""
    assert ("413" in _rewrite(_ok(), method)["responses"]) is documented
    assert "413" not in _rewrite(_ok(), method, max_body_size=None)["responses"]


def test_415_is_not_documented_without_enforcement() -> None:
    """Enforcement is off by default: no 415."""
    assert "415" not in _rewrite(_ok(), "post")["responses"]


def test_every_response_documents_the_two_headers() -> None:
    """Each response refers to ``X-Request-ID`` and ``X-Response-Time``."""
    operation = _ok()
    operation["responses"]["302"] = {"description": "Found"}
    operation["responses"]["default"] = {"description": "Other"}
    for response in _rewrite(operation)["responses"].values():
        assert response["headers"]["X-Request-ID"] == {"$ref": "#/components/headers/X-Request-ID"}
        assert "X-Response-Time" in response["headers"]


def test_headers_are_defined_once_in_components() -> None:
    """Referred headers are defined in ``components/headers``; unused ones are not."""
    doc = rewrite_openapi(_doc(_ok()), EnvelopeConfig())
    headers = doc["components"]["headers"]
    assert set(headers) == {"X-Request-ID", "X-Response-Time"}
    assert headers["X-Request-ID"]["required"] is True
    assert headers["X-Request-ID"]["schema"]["pattern"] == "^[A-Za-z0-9._:-]{1,128}$"


def test_request_id_pattern_is_left_out_with_a_custom_trusted_validator() -> None:
    """A custom validator may trust IDs outside the allowlist: no pattern then."""
    config = EnvelopeConfig(trust_incoming_id=True, validator=lambda value: True)
    doc = rewrite_openapi(_doc(_ok()), config)
    assert "pattern" not in doc["components"]["headers"]["X-Request-ID"]["schema"]


@pytest.mark.parametrize(
    ("cls", "headers"),
    [
        (TooManyRequests, {"Retry-After", "X-RateLimit-State", "X-RateLimit-Reason"}),
        (ServiceUnavailable, {"Retry-After"}),
    ],
)
def test_throttling_errors_document_their_headers(cls: Any, headers: set[str]) -> None:
    """429 and 503 document ``Retry-After`` (and 429 the ``X-RateLimit-*`` headers)."""
    operation = _ok()
    status = str(cls.status_code)
    operation["responses"][status] = {ERRORS_KEY: [describe_error(cls)]}
    assert headers <= set(_rewrite(operation)["responses"][status]["headers"])


def test_undeclared_error_status_uses_the_taxonomy() -> None:
    """A plain ``responses={409: ...}`` gets the taxonomy class's example."""
    operation = _ok()
    operation["responses"]["409"] = {"description": "Taken"}
    examples = _rewrite(operation)["responses"]["409"]["content"]["application/json"]["examples"]
    assert list(examples) == ["Conflict"]


def test_status_ranges_are_error_envelopes() -> None:
    """A ``4XX`` response is an error envelope with ``ClientError``'s example."""
    operation = _ok()
    operation["responses"]["4XX"] = {"description": "Client errors"}
    content = _rewrite(operation)["responses"]["4XX"]["content"]["application/json"]
    assert list(content["examples"]) == ["ClientError"]


def test_responses_are_sorted_by_status() -> None:
    """Added statuses take their place in order, ``default`` last."""
    operation = _ok()
    operation["responses"]["default"] = {"description": "Other"}
    operation["responses"]["404"] = {"description": "Missing"}
    assert list(_rewrite(operation)["responses"]) == ["200", "404", "406", "500", "default"]


def test_excluded_paths_only_get_the_headers() -> None:
    """An excluded path is untouched on the wire: no envelope, no added errors."""
    operation = _ok() | {ENVELOPE_KEY: {"paged": True}}
    operation["responses"]["404"] = {"description": "x", ERRORS_KEY: [describe_error(NotFound)]}
    result = _rewrite(operation, path="/health", exclude_paths=["/health"])
    assert list(result["responses"]) == ["200", "404"]
    assert _schema(result, "200") == ALERT_REF
    assert ERRORS_KEY not in result["responses"]["404"]
    assert ENVELOPE_KEY not in result
    assert "X-Request-ID" in result["responses"]["200"]["headers"]


def test_vendor_keys_are_removed() -> None:
    """No ``x-opsgenie-*`` key is left in the document."""
    operation = _ok() | {ENVELOPE_KEY: {"message": True}}
    operation["responses"]["404"] = {ERRORS_KEY: [describe_error(NotFound)]}
    assert "x-opsgenie" not in repr(_rewrite(operation))


def test_a_foreign_error_envelope_schema_is_refused() -> None:
    """An app schema named ``ErrorEnvelope`` is not silently replaced."""
    doc = _doc(_ok())
    doc["components"]["schemas"]["ErrorEnvelope"] = {"type": "string"}
    with pytest.raises(ValueError, match="ErrorEnvelope"):
        rewrite_openapi(doc, EnvelopeConfig())


def test_describe_error_of_an_app_error() -> None:
    """An app's subclass is described with its own code and message."""
    assert describe_error(AlertLocked) == {
        "error": "AlertLocked",
        "status": 409,
        "message": "Alert is locked by another operation",
        "code": 40901,
    }


DECLARED = """
from opsgenie_envelope import NotFound, QueryParameter
from opsgenie_envelope._openapi import Declaration, EnvelopeKeys, describe_error

declared = Declaration({paged}=True, errors=(describe_error(NotFound, "gone"),))
keys: EnvelopeKeys = {{"{paged}": True, "expandable": ["owner"]}}
code = describe_error(NotFound)["{code}"]
limit = QueryParameter("limit", "integer", {maximum}=100)
"""


def _mypy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **spelling: str) -> tuple[str, int]:
    """Type-check :data:`DECLARED` with the given spellings under ``mypy --strict``."""
    monkeypatch.setenv("MYPYPATH", str(Path(opsgenie_envelope.__file__).parents[1]))
    (tmp_path / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")
    source = tmp_path / "declared.py"
    source.write_text(DECLARED.format(**spelling), encoding="utf-8")
    report, _, status = mypy.api.run(
        [
            str(source),
            "--strict",
            "--config-file",
            str(tmp_path / "mypy.ini"),
            "--cache-dir",
            str(tmp_path.parent / "mypy-cache"),
        ]
    )
    return report, status


def test_declarations_are_type_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Declarations spelt right pass ``mypy --strict``; each misspelt key is an error."""
    report, status = _mypy(tmp_path, monkeypatch, paged="paged", code="code", maximum="maximum")
    assert status == 0, report
    report, status = _mypy(tmp_path, monkeypatch, paged="pagd", code="cod", maximum="maxmum")
    assert status == 1
    assert 'Unexpected keyword argument "pagd" for "Declaration"' in report
    assert 'Extra key "pagd" for TypedDict "EnvelopeKeys"' in report
    assert 'TypedDict "ErrorDescription" has no key "cod"' in report
    assert 'Unexpected keyword argument "maxmum" for "QueryParameter"' in report
