"""Check a real response against what an OpenAPI document says of it."""

from __future__ import annotations

import json
from collections.abc import Mapping
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
    "x-paging-first",
    "x-paging-prev",
    "x-paging-next",
    "x-paging-last",
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
    assert_answer_documented(
        doc,
        template,
        response.request.method,
        response.status_code,
        dict(response.headers),
        response.content,
    )


def assert_answer_documented(
    doc: dict[str, Any],
    template: str,
    method: str,
    status: int,
    headers: Mapping[str, str],
    content: bytes,
) -> None:
    """Assert that an answer (``headers`` with lower-case names) is what the document says.

    Its status is documented for the operation; its body validates against that status's
    schema; its headers are documented, the required ones present, each of its type.
    """
    operation = doc["paths"][template][method.lower()]
    assert str(status) in operation["responses"], f"{method} {template}: {status} undocumented"
    spec = operation["responses"][str(status)]
    body_spec = spec.get("content")
    if body_spec is None:
        assert content == b""
    else:
        media_type = headers["content-type"].split(";")[0]
        body = json.loads(content) if "json" in media_type else content.decode()
        _check(doc, body_spec[media_type]["schema"], body)
    documented = {name.lower(): _resolve(doc, h) for name, h in spec.get("headers", {}).items()}
    for name, header in documented.items():
        if header.get("required"):
            assert name in headers, name
        if name in headers:
            _check(doc, header["schema"], _header_value(headers[name], header["schema"]))
    assert OUR_HEADERS & set(headers) <= set(documented)
