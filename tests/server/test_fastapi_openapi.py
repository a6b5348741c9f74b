"""The FastAPI integration: the OpenAPI document is valid and agrees with the wire."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import HTMLResponse
from jsonschema import ValidationError
from openapi_spec_validator import validate
from pydantic import BaseModel
from starlette.responses import Response

from opsgenie_envelope import (
    EnvelopeConfig,
    EnvelopeMiddleware,
    Expander,
    Expansion,
    Forbidden,
    NotFound,
    NotSupported,
    Page,
    Pager,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
    paged,
    set_message,
)
from opsgenie_envelope._openapi import ENVELOPE_KEY, ERRORS_KEY
from opsgenie_envelope.fastapi import envelope, errors, install, query
from tests.support.asgi import make_client
from tests.support.openapi_check import assert_documented

pytestmark = pytest.mark.anyio

ALERT = {"id": "70413a06-38d6-4c85-92b8-5ebc900d42e2", "message": "Our servers are in danger"}


class Alert(BaseModel):
    """An alert as the API answers it."""

    id: str
    message: str
    priority: str = "P3"


class AlertIn(BaseModel):
    """The body of ``POST /v2/alerts``."""

    message: str
    priority: str = "P3"


alert_pages = Pager(sort_fields=["createdAt", "priority"], max_offset=1000)


async def load_owner(alert: dict[str, Any], request: Request) -> dict[str, str]:
    """The ``owner`` of ``expand=owner``."""
    return {"username": "ada@example.com"}


alert_expand = Expander({"owner": load_owner, "rotation": load_owner})


async def pages(page: Annotated[Page, Depends(query(alert_pages))]) -> Page:
    """A dependency that reaches the pager through its own dependency."""
    return page


async def api_key(authorization: str | None = Header(default=None)) -> None:
    """A router dependency that refuses one key."""
    if authorization == "GenieKey revoked":
        raise Unauthenticated()


def documented_app(**options: Any) -> FastAPI:
    """An app using the integration: a prefixed router, dependencies, a few error kinds."""
    app = FastAPI(title="alerts")
    install(app, **options)
    router = APIRouter(prefix="/v2/alerts", responses=errors(Unauthenticated))

    @router.get(
        "/{alert_id}", response_model=Alert, responses=errors(NotFound, Forbidden, NotSupported)
    )
    async def get_alert(alert_id: str) -> dict[str, str]:
        if alert_id == "missing":
            raise NotFound("Alert does not exist")
        if alert_id == "forbidden":
            raise Forbidden()
        if alert_id == "unsupported":
            raise NotSupported()
        return ALERT

    @router.get("")
    async def list_alerts(page: Annotated[Page, Depends(query(alert_pages))]) -> list[Alert]:
        return page.items([Alert(**ALERT)], total=1)

    @router.get("/{alert_id}/details")
    async def alert_details(
        alert_id: str, expansion: Annotated[Expansion, Depends(query(alert_expand))]
    ) -> dict[str, Any]:
        return await expansion.apply(ALERT)

    @router.post("", status_code=202, response_model=None, responses=errors(TooManyRequests))
    async def create_alert(body: AlertIn, throttle: bool = False) -> None:
        if throttle:
            raise TooManyRequests(retry_after=1.5, reason="API_KEY", period=60)
        set_message("Request will be processed")

    @router.delete("/{alert_id}", status_code=204)
    async def delete_alert(alert_id: str) -> None:
        return None

    app.include_router(router, dependencies=[Depends(api_key)])

    @app.get("/health", response_model=None)
    async def health() -> Any:
        return {"status": "ok", "checks": [1, 2]}

    @app.get("/boom")
    async def boom() -> dict[str, str]:
        raise RuntimeError("database password is hunter2")

    @app.get("/busy", responses=errors(ServiceUnavailable))
    async def busy() -> dict[str, str]:
        raise ServiceUnavailable(retry_after=3)

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<h1>alerts</h1>"

    return app


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """The documented sample app."""
    return documented_app()


@pytest.fixture(scope="module")
def doc(app: FastAPI) -> dict[str, Any]:
    """Its OpenAPI document."""
    return app.openapi()


def test_document_is_valid_openapi(doc: dict[str, Any]) -> None:
    """The rewritten document passes the OpenAPI validator."""
    validate(doc)


def test_document_has_no_vendor_keys(doc: dict[str, Any]) -> None:
    """The helpers' ``x-opsgenie-*`` keys are all consumed."""
    assert "x-opsgenie" not in repr(doc)


def test_fastapi_validation_schemas_are_gone(doc: dict[str, Any]) -> None:
    """``HTTPValidationError``/``ValidationError`` are replaced by ``ErrorEnvelope``."""
    schemas = doc["components"]["schemas"]
    assert "ErrorEnvelope" in schemas
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)


def test_success_data_refers_to_the_response_model(doc: dict[str, Any]) -> None:
    """The 200 of ``GET /v2/alerts/{alert_id}`` is the envelope around ``Alert``."""
    content = doc["paths"]["/v2/alerts/{alert_id}"]["get"]["responses"]["200"]["content"]
    data = content["application/json"]["schema"]["properties"]["data"]
    assert data == {"$ref": "#/components/schemas/Alert"}


def test_router_and_route_errors_are_merged(doc: dict[str, Any]) -> None:
    """Router-level ``errors(Unauthenticated)`` and the route's own are both documented."""
    responses = doc["paths"]["/v2/alerts/{alert_id}"]["get"]["responses"]
    assert list(responses) == ["200", "401", "403", "404", "406", "422", "500"]


WIRE_CASES = [
    ("GET", "/v2/alerts/1", "/v2/alerts/{alert_id}", {}, 200),
    ("GET", "/v2/alerts", "/v2/alerts", {}, 200),
    ("GET", "/v2/alerts?limit=1&sort=priority", "/v2/alerts", {}, 200),
    ("GET", "/v2/alerts?limit=500", "/v2/alerts", {}, 416),
    ("GET", "/v2/alerts?offset=-1", "/v2/alerts", {}, 416),
    ("GET", "/v2/alerts?offset=1001", "/v2/alerts", {}, 416),
    ("GET", "/v2/alerts?order=up", "/v2/alerts", {}, 422),
    ("GET", "/v2/alerts/1/details", "/v2/alerts/{alert_id}/details", {}, 200),
    ("GET", "/v2/alerts/1/details?expand=owner", "/v2/alerts/{alert_id}/details", {}, 200),
    ("GET", "/v2/alerts/1/details?expand=team", "/v2/alerts/{alert_id}/details", {}, 400),
    ("GET", "/v2/alerts/1/details?expand=" + "x," * 70, "/v2/alerts/{alert_id}/details", {}, 400),
    ("GET", "/v2/alerts/missing", "/v2/alerts/{alert_id}", {}, 404),
    ("GET", "/v2/alerts/forbidden", "/v2/alerts/{alert_id}", {}, 403),
    ("GET", "/v2/alerts/unsupported", "/v2/alerts/{alert_id}", {}, 403),
    (
        "GET",
        "/v2/alerts/1",
        "/v2/alerts/{alert_id}",
        {"headers": {"authorization": "GenieKey revoked"}},
        401,
    ),
    ("GET", "/v2/alerts/1", "/v2/alerts/{alert_id}", {"headers": {"accept": "text/html"}}, 406),
    ("POST", "/v2/alerts", "/v2/alerts", {"json": {"message": "Disk full"}}, 202),
    ("POST", "/v2/alerts", "/v2/alerts", {"json": {"priority": 1}}, 422),
    (
        "POST",
        "/v2/alerts",
        "/v2/alerts",
        {"content": b"{bad", "headers": {"content-type": "application/json"}},
        400,
    ),
    ("POST", "/v2/alerts?throttle=true", "/v2/alerts", {"json": {"message": "x"}}, 429),
    ("DELETE", "/v2/alerts/1", "/v2/alerts/{alert_id}", {}, 204),
    ("GET", "/health", "/health", {}, 200),
    ("GET", "/boom", "/boom", {}, 500),
    ("GET", "/busy", "/busy", {}, 503),
    ("GET", "/page", "/page", {}, 200),
]


@pytest.mark.parametrize(
    ("method", "url", "template", "kwargs", "status"),
    WIRE_CASES,
    ids=[f"{m} {u} {s}" for m, u, _, k, s in WIRE_CASES],
)
async def test_wire_agrees_with_the_document(
    app: FastAPI,
    doc: dict[str, Any],
    method: str,
    url: str,
    template: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    """The real response validates against the schema and headers the document gives."""
    async with make_client(app) as client:
        response = await client.request(method, url, **kwargs)
    assert response.status_code == status
    assert_documented(doc, template, response)


async def test_without_the_integration_the_document_disagrees() -> None:
    """The check has teeth: FastAPI's own document does not describe the envelope."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware)

    @app.get("/v2/alerts/{alert_id}")
    async def get_alert(alert_id: str) -> Alert:
        return Alert(**ALERT)

    async with make_client(app) as client:
        response = await client.get("/v2/alerts/1")
    with pytest.raises(ValidationError, match="required property"):
        assert_documented(app.openapi(), "/v2/alerts/{alert_id}", response)


async def test_wire_agrees_on_415() -> None:
    """With ``require_json_body=True`` the 415 is documented and matches the wire."""
    app = documented_app(require_json_body=True)
    async with make_client(app) as client:
        response = await client.post(
            "/v2/alerts", content=b"x", headers={"content-type": "text/plain"}
        )
    assert response.status_code == 415
    assert_documented(app.openapi(), "/v2/alerts", response)


async def test_wire_agrees_on_413() -> None:
    """A body over ``max_body_size`` answers the 413 the document describes."""
    app = documented_app(max_body_size=16)
    async with make_client(app) as client:
        response = await client.post("/v2/alerts", json={"message": "x" * 100})
    assert response.status_code == 413
    assert_documented(app.openapi(), "/v2/alerts", response)


async def test_wire_agrees_with_result_message_key() -> None:
    """With ``message_key="result"`` the 202 documents and sends ``result``."""
    app = documented_app(message_key="result")
    async with make_client(app) as client:
        response = await client.post("/v2/alerts", json={"message": "Disk full"})
    assert response.json()["result"] == "Request will be processed"
    assert_documented(app.openapi(), "/v2/alerts", response)


async def test_document_is_served_untouched(app: FastAPI, doc: dict[str, Any]) -> None:
    """``/openapi.json`` is the rewritten document itself, not wrapped in an envelope."""
    async with make_client(app) as client:
        response = await client.get("/openapi.json")
    assert response.json() == doc
    assert "x-request-id" in response.headers


async def test_document_at_a_custom_url_is_served_untouched() -> None:
    """A custom ``openapi_url`` serves the rewritten document unwrapped."""
    app = FastAPI(openapi_url="/api/openapi.json", docs_url=None)
    install(app)

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    async with make_client(app) as client:
        response = await client.get("/api/openapi.json")
    served = response.json()
    validate(served)
    assert (
        "data"
        in served["paths"]["/ping"]["get"]["responses"]["200"]["content"]["application/json"][
            "schema"
        ]["properties"]
    )


def test_document_is_rewritten_once(app: FastAPI) -> None:
    """Asking twice gives the same document, not an envelope around an envelope."""
    first = app.openapi()
    second = app.openapi()
    assert first is second
    schema = second["paths"]["/health"]["get"]["responses"]["200"]["content"]["application/json"]
    assert schema["schema"]["properties"]["data"] == {}


def test_regenerated_document_is_rewritten() -> None:
    """Routes added later appear, wrapped, once the document is regenerated."""
    app = documented_app()
    app.openapi()

    @app.get("/later")
    async def later() -> list[int]:
        return [1]

    app.openapi_schema = None
    doc = app.openapi()
    schema = doc["paths"]["/later"]["get"]["responses"]["200"]["content"]["application/json"]
    assert schema["schema"]["properties"]["data"]["type"] == "array"
    validate(doc)


def test_install_adds_the_middleware_once() -> None:
    """``install`` adds one ``EnvelopeMiddleware`` with the given options."""
    app = FastAPI()
    config = install(app, negotiate=False)
    ((cls, args, kwargs),) = app.user_middleware
    assert (cls, args, kwargs) == (EnvelopeMiddleware, (), {"config": config})
    assert config.negotiate is False


def test_install_takes_a_prepared_config() -> None:
    """``install(app, config=...)`` uses that configuration."""
    config = EnvelopeConfig(require_json_body=True)
    assert install(FastAPI(), config=config) is config


def test_install_refuses_config_and_options_together() -> None:
    """``config`` and loose options are not mixed."""
    with pytest.raises(TypeError, match="either config or the options"):
        install(FastAPI(), config=EnvelopeConfig(), negotiate=False)


def test_install_reads_an_added_middleware() -> None:
    """With the middleware already added, its options decide the document."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware, negotiate=False)

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {}

    assert install(app).negotiate is False
    assert len(app.user_middleware) == 1
    assert "406" not in app.openapi()["paths"]["/ping"]["get"]["responses"]


def test_install_refuses_options_for_an_added_middleware() -> None:
    """Options given twice (middleware and ``install``) are refused."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware)
    with pytest.raises(TypeError, match="already added"):
        install(app, negotiate=False)


def test_install_twice_is_refused() -> None:
    """A second ``install`` on the same app is an error, not a double rewrite."""
    app = FastAPI()
    install(app)
    with pytest.raises(RuntimeError, match="already"):
        install(app)


def test_install_validates_options() -> None:
    """A bad option is refused by the configuration, naming it."""
    with pytest.raises(ValueError, match="message_key"):
        install(FastAPI(), message_key="text")  # type: ignore[arg-type]


def test_errors_groups_classes_by_status() -> None:
    """``errors`` gives one response per status, listing each class."""
    responses = errors(NotFound, Forbidden, NotSupported)
    assert list(responses) == [404, 403]
    assert [c["error"] for c in responses[403][ERRORS_KEY]] == ["Forbidden", "NotSupported"]
    assert "(code 40302)" in responses[403]["description"]


@pytest.mark.parametrize("bad", [ValueError, "NotFound", NotFound()])
def test_errors_refuses_anything_but_api_error_classes(bad: Any) -> None:
    """``errors`` takes ``ApiError`` subclasses only."""
    with pytest.raises(TypeError, match="ApiError"):
        errors(bad)


def _parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An operation's query parameters by name."""
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}


def test_pager_dependency_documents_a_paged_route(doc: dict[str, Any]) -> None:
    """``Depends(query(pager))`` alone documents the page, its headers, its 416 and parameters."""
    operation = doc["paths"]["/v2/alerts"]["get"]
    ok = operation["responses"]["200"]
    properties = ok["content"]["application/json"]["schema"]["properties"]
    assert list(properties) == ["data", "paging", "totalCount", "took", "requestId"]
    assert {"X-Paging-First", "X-Paging-Prev", "X-Paging-Next", "X-Paging-Last"} <= set(
        ok["headers"]
    )
    assert "416" in operation["responses"]
    parameters = _parameters(operation)
    assert list(parameters) == ["offset", "limit", "sort", "order"]
    assert parameters["offset"]["schema"]["maximum"] == 1000
    assert parameters["limit"]["schema"]["maximum"] == 100
    assert parameters["sort"]["schema"]["anyOf"][0]["enum"] == ["createdAt", "priority"]


def test_416_example_shows_the_pager_bounds(doc: dict[str, Any]) -> None:
    """The documented 416 names the pager's own bounds."""
    content = doc["paths"]["/v2/alerts"]["get"]["responses"]["416"]["content"]
    (example,) = content["application/json"]["examples"].values()
    assert example["value"]["errors"] == {
        "offset": "should be at most 1000",
        "limit": "should be between 1 and 100",
    }


def test_expander_dependency_documents_an_expandable_route(doc: dict[str, Any]) -> None:
    """``Depends(query(expander))`` alone documents ``expandable``, ``expand`` and its 400."""
    operation = doc["paths"]["/v2/alerts/{alert_id}/details"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["properties"]["expandable"]["items"]["enum"] == ["owner", "rotation"]
    assert _parameters(operation)["expand"]["schema"]["items"]["enum"] == ["owner", "rotation"]
    examples = operation["responses"]["400"]["content"]["application/json"]["examples"]
    assert list(examples) == ["BadRequest (expand)", "BadRequest (expand length)"]
    assert "paging" not in schema["properties"]


def test_route_without_the_dependencies_is_not_paged(doc: dict[str, Any]) -> None:
    """A route using neither dependency has no paging, expand, 416 or 400."""
    operation = doc["paths"]["/v2/alerts/{alert_id}"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"data", "took", "requestId"}
    assert not {"offset", "limit", "sort", "order", "expand"} & set(_parameters(operation))
    assert not {"400", "416"} & set(operation["responses"])


async def test_envelope_documents_keys_but_no_parameters() -> None:
    """``envelope(paged=True, expandable=...)`` without the dependencies adds no parameter."""
    app = FastAPI()
    install(app)

    @app.get("/v2/teams", openapi_extra=envelope(paged=True, expandable=["members"]))
    async def list_teams(request: Request, offset: int = 0, limit: int = 20) -> Response:
        return paged(request, [{"id": "t1"}], offset=offset, limit=limit, total=1)

    operation = app.openapi()["paths"]["/v2/teams"]["get"]
    assert list(_parameters(operation)) == ["offset", "limit"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"paging", "totalCount", "expandable"} <= set(schema["properties"])
    async with make_client(app) as client:
        response = await client.get("/v2/teams?limit=5")
    assert_documented(app.openapi(), "/v2/teams", response)


def test_nested_and_router_dependencies_are_found() -> None:
    """A pager reached through another dependency, on an included router, still declares."""
    app = FastAPI()
    install(app)
    router = APIRouter(prefix="/v2")

    @router.get("/incidents", dependencies=[Depends(query(alert_expand))])
    async def list_incidents(page: Annotated[Page, Depends(pages)]) -> list[int]:
        return page.items([1, 2], total=2)

    app.include_router(router, prefix="/api")
    operation = app.openapi()["paths"]["/api/v2/incidents"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"paging", "expandable"} <= set(schema["properties"])
    assert {"400", "416"} <= set(operation["responses"])


def test_routes_are_read_without_route_contexts(monkeypatch: pytest.MonkeyPatch) -> None:
    """On FastAPI versions that copy routes onto the app, the app's routes are read directly."""
    import opsgenie_envelope.fastapi

    monkeypatch.setattr(opsgenie_envelope.fastapi, "_route_contexts", None)
    app = FastAPI()
    install(app)

    @app.get("/v2/alerts")
    async def list_alerts(page: Annotated[Page, Depends(query(alert_pages))]) -> list[int]:
        return page.items([1], total=1)

    assert "416" in app.openapi()["paths"]["/v2/alerts"]["get"]["responses"]


def _expand_operation(expander: Expander) -> dict[str, Any]:
    """The documented ``GET /v2/alerts/{alert_id}`` of an app whose route uses ``expander``."""
    app = FastAPI()
    install(app)
    expansion_dependency = Depends(query(expander))

    @app.get("/v2/alerts/{alert_id}")
    async def get_alert(
        alert_id: str, expansion: Expansion = expansion_dependency
    ) -> dict[str, Any]:
        return await expansion.apply(ALERT)

    operation: dict[str, Any] = app.openapi()["paths"]["/v2/alerts/{alert_id}"]["get"]
    return operation


def test_lenient_expander_documents_only_the_length_refusal() -> None:
    """A lenient expander ignores unknown names: only an oversized ``expand`` is a 400."""
    operation = _expand_operation(Expander({"owner": load_owner}, lenient=True))
    examples = operation["responses"]["400"]["content"]["application/json"]["examples"]
    assert list(examples) == ["BadRequest (expand length)"]


def test_expander_without_names_declares_nothing() -> None:
    """An expander with no names lists nothing and refuses nothing."""
    operation = _expand_operation(Expander({}))
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert "expandable" not in schema["properties"]
    assert "400" not in operation["responses"]


def test_handler_returning_none_documents_no_data(doc: dict[str, Any]) -> None:
    """A ``-> None`` handler's 202 is ``{message?, took, requestId}``: no ``data``."""
    content = doc["paths"]["/v2/alerts"]["post"]["responses"]["202"]["content"]
    schema = content["application/json"]["schema"]
    assert list(schema["properties"]) == ["message", "took", "requestId"]


def test_untyped_handler_documents_optional_data(doc: dict[str, Any]) -> None:
    """Without a response model, ``data`` may be any value, so it may be absent."""
    content = doc["paths"]["/health"]["get"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"]["required"] == ["took", "requestId"]


def test_envelope_options() -> None:
    """``envelope`` keeps the declared options, dropping repeated field names."""
    assert envelope(message=True, expandable=["a", "b", "a"], paged=True) == {
        ENVELOPE_KEY: {"message": True, "expandable": ["a", "b"], "paged": True}
    }


@pytest.mark.parametrize(
    "options", [{"expandable": "contact"}, {"expandable": [1]}, {"paged": "yes"}]
)
def test_envelope_refuses_bad_options(options: dict[str, Any]) -> None:
    """A string or non-string names for ``expandable``, or a non-bool flag, are refused."""
    with pytest.raises(TypeError):
        envelope(**options)


def test_core_imports_without_fastapi() -> None:
    """The core package does not need FastAPI; the integration does."""
    code = (
        "import sys; sys.modules['fastapi'] = None\n"
        "import opsgenie_envelope\n"
        "try:\n"
        "    import opsgenie_envelope.fastapi\n"
        "except ImportError:\n"
        "    print('integration needs fastapi')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "integration needs fastapi"
