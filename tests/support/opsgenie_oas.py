"""OpsGenie's official OpenAPI (Swagger 2.0) definitions: check an answer against them.

The file and its licence live in ``tests/demo/opsgenie-oas/``. Swagger 2.0 schemas are JSON
Schema draft 4 (plus vendor keys, ignored here); ``format: date-time`` is checked too.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker

SWAGGER = Path(__file__).parents[1] / "demo" / "opsgenie-oas" / "swagger.json"

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """An ISO 8601 date and time with its offset, as OpsGenie writes ``createdAt``."""
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


@cache
def swagger() -> dict[str, Any]:
    """The official document."""
    document: dict[str, Any] = json.loads(SWAGGER.read_text(encoding="utf-8"))
    return document


@cache
def _validator(definition: str) -> Draft4Validator:
    definitions = swagger()["definitions"]
    assert definition in definitions, definition
    schema = {"$ref": f"#/definitions/{definition}", "definitions": definitions}
    return Draft4Validator(schema, format_checker=_FORMATS)


def assert_valid(definition: str, instance: Any) -> None:
    """Assert that ``instance`` is valid against ``#/definitions/<definition>``."""
    _validator(definition).validate(instance)


def properties(definition: str) -> set[str]:
    """Every property a definition names, through its ``allOf`` parts and ``$ref``s."""
    definitions = swagger()["definitions"]

    def collect(schema: dict[str, Any]) -> set[str]:
        ref = schema.get("$ref")
        if ref is not None:
            return collect(definitions[ref.removeprefix("#/definitions/")])
        names = set(schema.get("properties", {}))
        for part in schema.get("allOf", ()):
            names |= collect(part)
        return names

    return collect(definitions[definition])


def response_definition(method: str, template: str, status: int) -> str:
    """The definition the official path documents for ``status`` (else its ``default``)."""
    document = swagger()
    responses = document["paths"][template][method.lower()]["responses"]
    response = responses.get(str(status), responses["default"])
    ref = response.get("$ref")
    if ref is not None:
        response = document["responses"][ref.removeprefix("#/responses/")]
    schema_ref: str = response["schema"]["$ref"]
    return schema_ref.removeprefix("#/definitions/")
