"""Check a real response against what an OpenAPI document says of it."""

from __future__ import annotations

from typing import Any

import httpx
from jsonschema import Draft202012Validator

OUR_HEADERS = {
    "x-request-id",
    "x-response-time",
    "retry-after",
    "x-ratelimit-state",
    "x-ratelimit-reason",
    "x-ratelimit-period-in-sec",
}


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` in the document."""
    ref = node.get("$ref")
    if ref is None:
        return node
    for part in ref.removeprefix("#/").split("/"):
        doc = doc[part]
    return doc


def _check(doc: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Validate ``instance`` against a schema of the document (its refs resolved in it)."""
    Draft202012Validator({**schema, "components": doc["components"]}).validate(instance)


def _header_value(raw: str, schema: dict[str, Any]) -> Any:
    """A header's text as the type its schema gives."""
    if schema.get("type") == "integer":
        return int(raw)
    if schema.get("type") == "number":
        return float(raw)
    return raw


def assert_documented(doc: dict[str, Any], template: str, response: httpx.Response) -> None:
    """Assert that ``response`` is what the document says for its path and status."""
    operation = doc["paths"][template][response.request.method.lower()]
    spec = operation["responses"][str(response.status_code)]
    content = spec.get("content")
    if content is None:
        assert response.content == b""
    else:
        media_type = response.headers["content-type"].split(";")[0]
        body = response.json() if "json" in media_type else response.text
        _check(doc, content[media_type]["schema"], body)
    documented = {name.lower(): _resolve(doc, h) for name, h in spec.get("headers", {}).items()}
    for name, header in documented.items():
        if header.get("required"):
            assert name in response.headers, name
        if name in response.headers:
            _check(doc, header["schema"], _header_value(response.headers[name], header["schema"]))
    assert OUR_HEADERS & set(response.headers) <= set(documented)
