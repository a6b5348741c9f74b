"""``expand`` (SPEC §5): declared fields, loading on request, merging, errors, OpenAPI."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import opsgenie_envelope
from opsgenie_envelope import EnvelopeMiddleware, Expander, Expansion, NotFound
from opsgenie_envelope._expand import split_expand
from opsgenie_envelope._wire import MAX_EXPAND_LENGTH, MAX_EXPAND_NAMES
from opsgenie_envelope.fastapi import query
from tests.support.asgi import make_client

pytestmark = pytest.mark.anyio

ALERTS: dict[str, dict[str, Any]] = {
    "a1": {"id": "a1", "ownerId": "u1", "teamId": "t1"},
    "a2": {"id": "a2", "ownerId": "u2", "teamId": "t2"},
}
CALLS: list[tuple[str, str]] = []
"""(field, alert id) of every loader call, in call order."""
ON_MAIN_THREAD: list[bool] = []
CANCELLED: list[str] = []
IN_FLIGHT = {"now": 0, "most": 0}


async def load_contact(alert: dict[str, Any], request: Request) -> dict[str, str]:
    """An async loader."""
    CALLS.append(("contact", alert["id"]))
    return {"id": alert["ownerId"], "name": f"Owner of {alert['id']}"}


def load_rotation(alert: dict[str, Any], request: Request) -> dict[str, str]:
    """A sync loader: runs in the thread pool."""
    CALLS.append(("rotation", alert["id"]))
    ON_MAIN_THREAD.append(threading.current_thread() is threading.main_thread())
    return {"name": "weekly"}


class TeamLoader:
    """A callable object with an async ``__call__``; reads the request too."""

    async def __call__(self, alert: dict[str, Any], request: Request) -> dict[str, str]:
        CALLS.append(("team", alert["id"]))
        return {"id": alert["teamId"], "path": request.url.path}


async def load_missing_owner(alert: dict[str, Any], request: Request) -> None:
    """A loader that answers with a taxonomy error."""
    raise NotFound("Owner does not exist")


def load_broken_audit(alert: dict[str, Any], request: Request) -> None:
    """A loader that fails unexpectedly."""
    raise RuntimeError("audit store password is hunter2")


async def load_stuck(alert: dict[str, Any], request: Request) -> None:
    """Never finishes on its own: only a cancellation ends it early."""
    try:
        with anyio.fail_after(5):
            await anyio.sleep_forever()
    except anyio.get_cancelled_exc_class():
        CANCELLED.append(alert["id"])
        raise


def _events(request: Request) -> dict[str, anyio.Event]:
    events: dict[str, anyio.Event] = request.scope.setdefault(
        "tests.events", {"left": anyio.Event(), "right": anyio.Event()}
    )
    return events


async def load_left(alert: dict[str, Any], request: Request) -> str:
    """Finishes only once ``right`` has started: proves the two run at the same time."""
    events = _events(request)
    events["left"].set()
    with anyio.fail_after(2):
        await events["right"].wait()
    return "L"


async def load_right(alert: dict[str, Any], request: Request) -> str:
    """Finishes only once ``left`` has started."""
    events = _events(request)
    events["right"].set()
    with anyio.fail_after(2):
        await events["left"].wait()
    return "R"


async def load_slow(alert: dict[str, Any], request: Request) -> int:
    """Counts how many calls are in flight at once."""
    IN_FLIGHT["now"] += 1
    IN_FLIGHT["most"] = max(IN_FLIGHT["most"], IN_FLIGHT["now"])
    await anyio.sleep(0.01)
    IN_FLIGHT["now"] -= 1
    return 1


ALERT_EXPAND = Expander({"contact": load_contact, "rotation": load_rotation, "team": TeamLoader()})
LENIENT_EXPAND = Expander({"contact": load_contact}, lenient=True)
FRAGILE_EXPAND = Expander(
    {"owner": load_missing_owner, "audit": load_broken_audit, "stuck": load_stuck}
)
PAIRED_EXPAND = Expander({"left": load_left, "right": load_right})
LIMITED_EXPAND = Expander({"slow": load_slow}, concurrency=2)
ROWS = [{"id": f"r{i}"} for i in range(6)]


def starlette_app() -> Starlette:
    """The expand routes in Starlette: ``await expander.apply(request, data)``."""

    def endpoint(expander: Expander, many: bool = False) -> Any:
        async def handler(request: Request) -> Response:
            if many:
                data: Any = list(ALERTS.values()) if expander is ALERT_EXPAND else ROWS
            else:
                data = ALERTS[request.path_params["alert_id"]]
            return JSONResponse(await expander.apply(request, data))

        return handler

    async def plain(request: Request) -> Response:
        return JSONResponse(ALERTS[request.path_params["alert_id"]])

    routes = [
        Route("/v2/alerts", endpoint(ALERT_EXPAND, many=True)),
        Route("/v2/alerts/{alert_id}", endpoint(ALERT_EXPAND)),
        Route("/v2/lenient/{alert_id}", endpoint(LENIENT_EXPAND)),
        Route("/v2/fragile/{alert_id}", endpoint(FRAGILE_EXPAND)),
        Route("/v2/paired/{alert_id}", endpoint(PAIRED_EXPAND)),
        Route("/v2/limited", endpoint(LIMITED_EXPAND, many=True)),
        Route("/v2/plain/{alert_id}", plain),
    ]
    return Starlette(routes=routes, middleware=[Middleware(EnvelopeMiddleware)])


def fastapi_app() -> FastAPI:
    """The expand routes in FastAPI: ``Depends(query(expander))`` gives an ``Expansion``."""
    app = FastAPI()
    app.add_middleware(EnvelopeMiddleware)

    @app.get("/v2/alerts")
    async def list_alerts(
        expansion: Annotated[Expansion, Depends(query(ALERT_EXPAND))],
    ) -> list[dict[str, Any]]:
        return await expansion.apply(list(ALERTS.values()))

    @app.get("/v2/alerts/{alert_id}")
    async def get_alert(
        alert_id: str, expansion: Annotated[Expansion, Depends(query(ALERT_EXPAND))]
    ) -> dict[str, Any]:
        return await expansion.apply(ALERTS[alert_id])

    @app.get("/v2/lenient/{alert_id}")
    async def get_lenient(
        alert_id: str, expansion: Annotated[Expansion, Depends(query(LENIENT_EXPAND))]
    ) -> dict[str, Any]:
        return await expansion.apply(ALERTS[alert_id])

    @app.get("/v2/fragile/{alert_id}")
    async def get_fragile(
        alert_id: str, expansion: Annotated[Expansion, Depends(query(FRAGILE_EXPAND))]
    ) -> dict[str, Any]:
        return await expansion.apply(ALERTS[alert_id])

    @app.get("/v2/paired/{alert_id}")
    async def get_paired(
        alert_id: str, expansion: Annotated[Expansion, Depends(query(PAIRED_EXPAND))]
    ) -> dict[str, Any]:
        return await expansion.apply(ALERTS[alert_id])

    @app.get("/v2/limited")
    async def get_limited(
        expansion: Annotated[Expansion, Depends(query(LIMITED_EXPAND))],
    ) -> list[dict[str, Any]]:
        return await expansion.apply(ROWS)

    @app.get("/v2/plain/{alert_id}")
    async def get_plain(alert_id: str) -> dict[str, Any]:
        return ALERTS[alert_id]

    return app


@pytest.fixture(autouse=True)
def _fresh_records() -> None:
    """Every test starts with no recorded loader calls."""
    CALLS.clear()
    ON_MAIN_THREAD.clear()
    CANCELLED.clear()
    IN_FLIGHT.update(now=0, most=0)


@pytest.fixture(params=["starlette", "fastapi"])
def app(request: pytest.FixtureRequest) -> ASGIApp:
    """The expand routes, once in Starlette and once in FastAPI."""
    return starlette_app() if request.param == "starlette" else fastapi_app()


@pytest.fixture
async def client(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the expand routes."""
    async with make_client(app) as c:
        yield c


def with_query(app: ASGIApp, query: bytes) -> ASGIApp:
    """``app`` receiving ``query`` as its query string: longer than httpx lets a URL be."""

    async def shim(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "query_string": query}, receive, send)

    return shim


# --- expandable ---------------------------------------------------------------------------


async def test_expandable_lists_declared_names_in_order(client: httpx.AsyncClient) -> None:
    """Every answer of an expand route lists all declared names, in declared order."""
    response = await client.get("/v2/alerts/a1")
    assert response.status_code == 200
    assert response.json()["expandable"] == ["contact", "rotation", "team"]


async def test_expandable_sits_between_data_and_took(client: httpx.AsyncClient) -> None:
    """``expandable`` comes right after ``data``, before ``took`` and ``requestId``."""
    response = await client.get("/v2/alerts/a1?expand=contact")
    assert list(response.json()) == ["data", "expandable", "took", "requestId"]


async def test_no_expand_loads_nothing(client: httpx.AsyncClient) -> None:
    """Without ``expand`` no loader runs and ``data`` is the entity as it is."""
    response = await client.get("/v2/alerts/a1")
    assert response.json()["data"] == ALERTS["a1"]
    assert CALLS == []


# --- asking for fields --------------------------------------------------------------------


async def test_comma_separated_names_are_merged(client: httpx.AsyncClient) -> None:
    """``?expand=contact,rotation`` merges both fields into ``data`` under their names."""
    response = await client.get("/v2/alerts/a1?expand=contact,rotation")
    assert response.json()["data"] == {
        **ALERTS["a1"],
        "contact": {"id": "u1", "name": "Owner of a1"},
        "rotation": {"name": "weekly"},
    }


async def test_repeated_expand_parameters_are_merged(client: httpx.AsyncClient) -> None:
    """``?expand=contact&expand=rotation`` works like the comma form."""
    response = await client.get("/v2/alerts/a1", params=[("expand", "contact"), ("expand", "team")])
    data = response.json()["data"]
    assert data["contact"] == {"id": "u1", "name": "Owner of a1"}
    assert data["team"] == {"id": "t1", "path": "/v2/alerts/a1"}
    assert "rotation" not in data


async def test_whitespace_and_duplicates_are_tolerated(client: httpx.AsyncClient) -> None:
    """Spaces, empty parts and repeats are ignored; each field still loads once."""
    response = await client.get(
        "/v2/alerts/a1", params=[("expand", " contact , contact,,rotation "), ("expand", "contact")]
    )
    assert response.status_code == 200
    assert sorted(CALLS) == [("contact", "a1"), ("rotation", "a1")]


async def test_names_are_case_sensitive(client: httpx.AsyncClient) -> None:
    """``Contact`` is not ``contact``: it is an unknown name."""
    response = await client.get("/v2/alerts/a1?expand=Contact")
    assert response.status_code == 400
    assert CALLS == []


async def test_unrequested_loader_is_never_called(client: httpx.AsyncClient) -> None:
    """Only the requested field's loader runs."""
    await client.get("/v2/alerts/a1?expand=contact")
    assert CALLS == [("contact", "a1")]


async def test_loader_gets_the_entity_and_the_request(client: httpx.AsyncClient) -> None:
    """A loader is called with the entity and the request being served."""
    response = await client.get("/v2/alerts/a2?expand=team")
    assert response.json()["data"]["team"] == {"id": "t2", "path": "/v2/alerts/a2"}


async def test_async_loaders_run_concurrently(client: httpx.AsyncClient) -> None:
    """Two async loaders that each wait for the other both finish: they run together."""
    response = await client.get("/v2/paired/a1?expand=left,right")
    assert response.status_code == 200
    assert {k: response.json()["data"][k] for k in ("left", "right")} == {"left": "L", "right": "R"}


async def test_sync_loader_runs_in_the_thread_pool(client: httpx.AsyncClient) -> None:
    """A plain function loader runs off the event loop's thread."""
    response = await client.get("/v2/alerts/a1?expand=rotation")
    assert response.json()["data"]["rotation"] == {"name": "weekly"}
    assert ON_MAIN_THREAD == [False]


async def test_concurrency_caps_loader_calls_in_flight(client: httpx.AsyncClient) -> None:
    """``concurrency=2`` keeps at most two loader calls running for one request."""
    response = await client.get("/v2/limited?expand=slow")
    assert [row["slow"] for row in response.json()["data"]] == [1] * len(ROWS)
    assert IN_FLIGHT["most"] == 2


async def test_list_without_expand_is_unchanged(client: httpx.AsyncClient) -> None:
    """A list asked for nothing comes back as the handler's items, still listing expandable."""
    response = await client.get("/v2/alerts")
    assert response.json()["data"] == list(ALERTS.values())
    assert response.json()["expandable"] == ["contact", "rotation", "team"]


async def test_each_list_item_is_expanded(client: httpx.AsyncClient) -> None:
    """For a list, every item gets the field loaded for that item."""
    response = await client.get("/v2/alerts?expand=contact")
    data = response.json()["data"]
    assert [item["contact"]["id"] for item in data] == ["u1", "u2"]
    assert response.json()["expandable"] == ["contact", "rotation", "team"]


async def test_handler_data_is_not_mutated(client: httpx.AsyncClient) -> None:
    """Merging builds new dicts: the handler's own entities stay as they were."""
    await client.get("/v2/alerts?expand=contact,team")
    assert ALERTS["a1"] == {"id": "a1", "ownerId": "u1", "teamId": "t1"}


# --- refusing -----------------------------------------------------------------------------


async def test_unknown_name_is_400_listing_valid_names(client: httpx.AsyncClient) -> None:
    """An unknown name answers 400; the message names it and lists the valid names."""
    response = await client.get("/v2/alerts/a1?expand=contact,contacts")
    body = response.json()
    assert response.status_code == 400
    assert body["message"] == (
        "Unknown expand field 'contacts': expand should be one of [ contact, rotation, team ]"
    )
    assert body["errors"] == {"expand": "should be one of [ contact, rotation, team ]"}
    assert CALLS == []


async def test_unknown_name_is_not_echoed_when_not_a_name(client: httpx.AsyncClient) -> None:
    """A value that is not name-like is left out of the message, not echoed back."""
    response = await client.get("/v2/alerts/a1", params={"expand": "<script>"})
    assert response.status_code == 400
    assert "<script>" not in response.text


async def test_lenient_expander_ignores_unknown_names(client: httpx.AsyncClient) -> None:
    """With ``lenient=True`` unknown names are skipped and known ones still load."""
    response = await client.get("/v2/lenient/a1?expand=nope,contact,Contact")
    assert response.status_code == 200
    assert response.json()["data"]["contact"]["id"] == "u1"
    assert CALLS == [("contact", "a1")]


async def test_route_without_expander_ignores_expand(client: httpx.AsyncClient) -> None:
    """A route that declares nothing answers as usual and lists no ``expandable``."""
    response = await client.get("/v2/plain/a1?expand=contact,anything")
    assert response.status_code == 200
    assert list(response.json()) == ["data", "took", "requestId"]
    assert response.json()["data"] == ALERTS["a1"]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(b"expand=" + b",".join([b"contact"] * (MAX_EXPAND_NAMES + 1)), id="names"),
        pytest.param(b"&".join([b"expand=contact"] * 5000), id="parameters"),
        pytest.param(b"expand=" + b"contact," * 150_000, id="megabyte"),
    ],
)
async def test_absurd_expand_is_rejected_unprocessed(app: ASGIApp, query: bytes) -> None:
    """Thousands of names or a megabyte of ``expand`` answer 400 without loading anything."""
    async with make_client(with_query(app, query)) as client:
        response = await client.get("/v2/alerts/a1")
    assert response.status_code == 400
    assert response.json()["message"].startswith("expand is too long")
    assert CALLS == []


async def test_loader_api_error_renders_that_error(client: httpx.AsyncClient) -> None:
    """A loader raising ``NotFound`` answers with the 404 envelope."""
    response = await client.get("/v2/fragile/a1?expand=owner")
    assert response.status_code == 404
    assert response.json()["message"] == "Owner does not exist"


async def test_loader_exception_is_a_500(client: httpx.AsyncClient) -> None:
    """Any other loader exception is a 500 that does not leak the exception text."""
    response = await client.get("/v2/fragile/a1?expand=audit")
    assert response.status_code == 500
    assert response.json()["message"] == "Internal Server Error"
    assert "hunter2" not in response.text


async def test_failing_loader_cancels_the_others(client: httpx.AsyncClient) -> None:
    """The first loader error answers at once; loaders still running are cancelled."""
    response = await client.get("/v2/fragile/a1?expand=stuck,owner")
    assert response.status_code == 404
    assert response.json()["message"] == "Owner does not exist"
    assert CANCELLED == ["a1"]


# --- FastAPI's OpenAPI --------------------------------------------------------------------


def test_openapi_lists_expand_with_its_enum() -> None:
    """The ``expand`` query parameter is documented with the declared names as its enum."""
    operation = fastapi_app().openapi()["paths"]["/v2/alerts/{alert_id}"]["get"]
    (param,) = [p for p in operation["parameters"] if p["name"] == "expand"]
    assert param["in"] == "query"
    assert param["required"] is False
    assert param["schema"]["type"] == "array"
    assert param["schema"]["items"] == {"type": "string", "enum": ["contact", "rotation", "team"]}


def test_openapi_of_route_without_expander_has_no_expand() -> None:
    """A route that declares nothing documents no ``expand`` parameter."""
    operation = fastapi_app().openapi()["paths"]["/v2/plain/{alert_id}"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["alert_id"]


# --- units --------------------------------------------------------------------------------


def test_split_expand_keeps_first_appearance_order() -> None:
    """Names come out stripped, de-duplicated, in the order they first appear."""
    assert split_expand([" b, a ,", "b,c", ""]) == ["b", "a", "c"]


def test_split_expand_refuses_long_values_before_splitting() -> None:
    """A value over the length limit is refused whatever it holds."""
    with pytest.raises(opsgenie_envelope.BadRequest):
        split_expand(["," * (MAX_EXPAND_LENGTH + 1)])


@pytest.mark.parametrize(
    ("loaders", "error"),
    [
        pytest.param({"": load_contact}, ValueError, id="empty-name"),
        pytest.param({"a,b": load_contact}, ValueError, id="comma"),
        pytest.param({"contact": "load_contact"}, TypeError, id="not-callable"),
        pytest.param([("contact", load_contact)], TypeError, id="not-a-mapping"),
    ],
)
def test_bad_declaration_is_refused_at_construction(loaders: Any, error: type[Exception]) -> None:
    """Bad field names and loaders fail when the expander is built, not per request."""
    with pytest.raises(error, match="loaders"):
        Expander(loaders)


@pytest.mark.parametrize(
    ("concurrency", "error"),
    [(0, ValueError), (-1, ValueError), (True, TypeError), (1.5, TypeError)],
)
def test_bad_concurrency_is_refused(concurrency: Any, error: type[Exception]) -> None:
    """``concurrency`` must be a positive int: another type is a ``TypeError``."""
    with pytest.raises(error, match="concurrency"):
        Expander({"contact": load_contact}, concurrency=concurrency)


def test_lenient_must_be_a_bool() -> None:
    """``lenient`` must be a bool."""
    with pytest.raises(TypeError, match="lenient"):
        Expander({"contact": load_contact}, lenient="yes")  # type: ignore[arg-type]


def test_expand_names_are_exported() -> None:
    """``Expander`` and ``Expansion`` are public names of the package."""
    assert {"Expander", "Expansion"} <= set(opsgenie_envelope.__all__)


async def test_apply_refuses_data_that_is_not_entities() -> None:
    """Merging needs a mapping or a list of mappings; anything else is a bug (a 500)."""
    request = Request({"type": "http", "query_string": b"", "headers": []})
    expansion = Expansion(LENIENT_EXPAND, ("contact",), request)
    with pytest.raises(TypeError, match="mapping"):
        await expansion.apply("not an entity")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mappings"):
        await expansion.apply([1, 2])  # type: ignore[list-item]


def test_expander_without_fields_ignores_expand() -> None:
    """An expander that declares nothing reads no ``expand`` and lists nothing."""
    request = Request({"type": "http", "query_string": b"expand=anything", "headers": []})
    assert Expander({}).parse(request).requested == ()


async def test_keys_merge_a_field_under_another_key() -> None:
    """``keys`` merges a field's value under its key, as OpsGenie's ``userContacts``."""
    expander = Expander({"contact": load_contact}, keys={"contact": "owner"})
    request = Request({"type": "http", "query_string": b"expand=contact", "headers": []})
    merged = await Expansion(expander, ("contact",), request).apply(ALERTS["a1"])
    assert merged["owner"] == {"id": "u1", "name": "Owner of a1"}
    assert "contact" not in merged
    assert expander.names == ("contact",)


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        pytest.param({"team": "teams"}, ValueError, id="unknown-name"),
        pytest.param({"contact": ""}, ValueError, id="empty-key"),
        pytest.param({"contact": "rotation"}, ValueError, id="two-fields-one-key"),
        pytest.param([("contact", "owner")], TypeError, id="not-a-mapping"),
    ],
)
def test_bad_keys_are_refused_at_construction(keys: Any, error: type[Exception]) -> None:
    """``keys`` must map declared names to distinct field-like keys."""
    with pytest.raises(error, match="keys"):
        Expander({"contact": load_contact, "rotation": load_rotation}, keys=keys)
