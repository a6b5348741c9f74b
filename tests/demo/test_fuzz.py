"""Fuzzing the demo with schemathesis: every answer is one its ``/docs`` documents.

Schemathesis reads the demo's own OpenAPI document and generates requests for each
operation, valid ones and ones that break the schema (out-of-range numbers, unknown enum
values, wrong types), with the full-access key, the read-only key or none. Each answer's
status must be documented for that operation, and the answer must match what the document
says of it (body and headers) and what OpsGenie's official definitions say of that path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import schemathesis
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.support.demo_app import FULL, READONLY, demo
from tests.support.openapi_check import assert_answer_documented
from tests.support.opsgenie_oas import assert_valid, response_definition

APP = demo(rate_limit=10**9)  # 429 is documented too; here it would only hide the rest
DOC = APP.openapi()
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
SCHEMA.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=40,
    deterministic=True,
    database="none",
)


def _one_segment(value: Any) -> bool:
    """A path value that stays in its segment (a ``/``, ``.`` or ``..`` leaves the route)."""
    text = unquote(str(value))  # schemathesis sends path values quoted; the server unquotes
    return "/" not in text and text not in (".", "..")


def _check(case: schemathesis.Case[Any], key: dict[str, str]) -> None:
    """Send ``case`` with ``key``; its answer must be what the documents say of it."""
    assume(all(_one_segment(value) for value in (case.path_parameters or {}).values()))
    response = case.call(headers={**dict(case.headers or {}), **key})
    method, path = case.method.upper(), case.operation.path
    status = response.status_code
    if method != case.operation.method.upper():  # a method the path does not serve
        assert (status, response.json()["message"]) == (405, "Method Not Allowed")
        return
    headers = {name: values[0] for name, values in response.headers.items()}
    assert status != 500, response.content
    assert_answer_documented(DOC, path, method, status, headers, response.content)
    assert_valid(response_definition(method, path, status), response.json())


@SCHEMA.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented(case: schemathesis.Case[Any]) -> None:
    """With the full-access key, each answer's status, body and headers are documented."""
    _check(case, FULL)


@SCHEMA.parametrize()
@SCHEMA.given(key=st.sampled_from([READONLY, {}]))
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=10)
def test_every_refusal_is_documented(case: schemathesis.Case[Any], key: dict[str, str]) -> None:
    """With the read-only key or none, each answer (401, 403, ...) is documented."""
    _check(case, key)
