"""Client options: ``expand``, the caller's ``X-Request-ID``, httpx options, the public names."""

from __future__ import annotations

import base64
import subprocess
import sys

import httpx
import pytest

import opsgenie_envelope.client
from opsgenie_envelope import uuid4_hex
from opsgenie_envelope.client import AsyncClient, Client
from tests.support.client_app import FakeTime, asgi_client, client_app

pytestmark = pytest.mark.anyio

OK = {"data": None, "took": 0.0, "requestId": "r-1"}


def recording_transport(seen: list[httpx.Request]) -> httpx.MockTransport:
    """A transport that records each request and answers an empty envelope."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=OK)

    return httpx.MockTransport(handler)


def recording_client(seen: list[httpx.Request], **options: object) -> Client:
    """A sync client on :func:`recording_transport`."""
    return Client(transport=recording_transport(seen), **options)  # type: ignore[arg-type]


async def test_expand_names_become_one_query_parameter() -> None:
    """``expand=[...]`` reaches the server as ``expand=a,b``, beside the other parameters."""
    async with asgi_client(client_app(), FakeTime()) as client:
        envelope = await client.get("/echo", params={"limit": 5}, expand=["contact", "rotation"])
    assert envelope.data["query"] == {"limit": "5", "expand": "contact,rotation"}


async def test_expand_single_name() -> None:
    """A bare string is one name, not a list of letters."""
    async with asgi_client(client_app(), FakeTime()) as client:
        envelope = await client.get("/echo", expand="contact")
    assert envelope.data["query"] == {"expand": "contact"}


async def test_empty_expand_sends_nothing() -> None:
    """An empty list of names adds no ``expand`` parameter."""
    async with asgi_client(client_app(), FakeTime()) as client:
        envelope = await client.get("/echo", expand=[])
    assert envelope.data["query"] == {}


@pytest.mark.parametrize("names", [["contact,rotation"], [""], "a,b"])
def test_bad_expand_name_is_refused(names: list[str] | str) -> None:
    """A name that is empty or holds a comma raises ``ValueError`` before sending."""
    seen: list[httpx.Request] = []
    with recording_client(seen) as client, pytest.raises(ValueError, match="expand"):
        client.get("https://api.example.com/v2/alerts", expand=names)
    assert seen == []


def test_an_expand_name_that_is_not_a_str_is_a_type_error() -> None:
    """A name of another type raises ``TypeError`` naming ``expand``, before sending."""
    seen: list[httpx.Request] = []
    with recording_client(seen) as client, pytest.raises(TypeError, match=r"^expand must be"):
        client.get("https://api.example.com/v2/alerts", expand=["contact", 7])  # type: ignore[list-item]
    assert seen == []


async def test_own_request_id_is_sent_and_used() -> None:
    """A configured ``request_id`` is sent; a trusting server answers with that same ID."""
    app = client_app(trust_incoming_id=True)
    mine = "01HZX3J5Q8T9V2W4Y6Z8A0B2C4"
    async with asgi_client(app, FakeTime(), request_id=lambda: mine) as client:
        envelope = await client.get("/echo")
    assert envelope.data["requestIdHeader"] == mine
    assert envelope.request_id == mine


async def test_no_request_id_is_sent_by_default() -> None:
    """Without ``request_id`` the client sends no ``X-Request-ID``."""
    async with asgi_client(client_app(), FakeTime()) as client:
        envelope = await client.get("/echo")
    assert envelope.data["requestIdHeader"] is None


def test_request_id_returning_none_sends_none() -> None:
    """A ``request_id`` callable returning ``None`` (outside a served request) sends no header."""
    seen: list[httpx.Request] = []
    with recording_client(seen, request_id=lambda: None) as client:
        client.get("https://api.example.com/")
    assert "x-request-id" not in seen[0].headers


def test_request_id_must_be_callable() -> None:
    """A ``request_id`` that is not callable is refused at construction."""
    with pytest.raises(TypeError, match="request_id"):
        Client(request_id="fixed-id")  # type: ignore[arg-type]


def test_callers_header_wins_over_request_id() -> None:
    """An ``X-Request-ID`` passed with the request is not replaced."""
    seen: list[httpx.Request] = []
    with recording_client(seen, request_id=uuid4_hex) as client:
        client.get("https://api.example.com/", headers={"X-Request-ID": "mine-1"})
    assert seen[0].headers.get_list("x-request-id") == ["mine-1"]


def test_retries_resend_the_same_request_id() -> None:
    """One request has one ID: its retries send it again, the next request a new one."""
    seen: list[httpx.Request] = []
    answers = iter([503, 200, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = next(answers)
        return httpx.Response(status, json=OK if status == 200 else {"message": "busy"})

    time = FakeTime()
    with Client(
        transport=httpx.MockTransport(handler),
        request_id=uuid4_hex,
        sleep=time.sleep,
        clock=time.clock,
    ) as client:
        client.get("https://api.example.com/")
        client.get("https://api.example.com/")
    ids = [r.headers["x-request-id"] for r in seen]
    assert ids[0] == ids[1] != ids[2]


def test_httpx_options_apply() -> None:
    """``base_url``, default headers and params, and ``auth`` reach the request as in httpx."""
    seen: list[httpx.Request] = []
    with recording_client(
        seen,
        base_url="https://api.example.com/v2",
        headers={"User-Agent": "ops-tool/1.0"},
        params={"identifierType": "tiny"},
        auth=httpx.BasicAuth("user", "secret"),
    ) as client:
        client.delete("alerts/1", params={"source": "cli"})
    request = seen[0]
    assert request.method == "DELETE"
    assert str(request.url) == "https://api.example.com/v2/alerts/1?identifierType=tiny&source=cli"
    assert request.headers["user-agent"] == "ops-tool/1.0"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"user:secret").decode()


def test_given_httpx_client_is_used() -> None:
    """``http=`` wraps an existing ``httpx.Client``."""
    seen: list[httpx.Request] = []
    http = httpx.Client(transport=recording_transport(seen))
    with Client(http=http) as client:
        client.get("https://api.example.com/")
    assert client.http is http
    assert len(seen) == 1


def test_http_and_options_together_are_refused() -> None:
    """Passing both ``http=`` and httpx options is a ``TypeError``."""
    with httpx.Client() as http, pytest.raises(TypeError, match="http="):
        Client(http=http, base_url="https://api.example.com")


def test_retry_must_be_a_policy() -> None:
    """``retry`` takes a ``Retry`` or ``None``."""
    with pytest.raises(TypeError, match="retry"):
        Client(retry=3)  # type: ignore[arg-type]


def test_closing_closes_the_httpx_client() -> None:
    """Leaving the ``with`` block closes the underlying httpx client."""
    with Client() as client:
        pass
    assert client.http.is_closed


async def test_async_closing_closes_the_httpx_client() -> None:
    """Leaving the ``async with`` block closes the underlying httpx client."""
    async with AsyncClient() as client:
        pass
    assert client.http.is_closed


def test_public_names() -> None:
    """``opsgenie_envelope.client`` exports exactly its public names, sorted."""
    assert opsgenie_envelope.client.__all__ == [
        "DEFAULT_MAX_PAGES",
        "DEFAULT_RETRY",
        "IDEMPOTENT_METHODS",
        "ApiError",
        "AsyncClient",
        "BadRequest",
        "Client",
        "ClientError",
        "Conflict",
        "ContentTooLarge",
        "Envelope",
        "Forbidden",
        "Gone",
        "InternalServerError",
        "MethodNotAllowed",
        "NotAcceptable",
        "NotAnEnvelope",
        "NotFound",
        "NotImplementedYet",
        "NotSupported",
        "Paging",
        "PagingError",
        "PaymentRequired",
        "PreconditionRequired",
        "RangeNotSatisfiable",
        "RequestFailed",
        "RequestOptions",
        "RetriesExhausted",
        "Retry",
        "ServerError",
        "ServiceUnavailable",
        "TestClientTransport",
        "TooManyRequests",
        "Unauthenticated",
        "UnprocessableEntity",
        "UnsupportedMediaType",
        "unwrap",
    ]


BLOCK_HTTPX = "import sys; sys.modules['httpx'] = None; "


def test_core_imports_without_httpx() -> None:
    """The core package never imports httpx: it stays an optional extra."""
    code = BLOCK_HTTPX + "import opsgenie_envelope; print(opsgenie_envelope.NotFound.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "NotFound"


def test_client_without_httpx_names_the_extra() -> None:
    """Importing the client without httpx says which extra to install."""
    code = BLOCK_HTTPX + "import opsgenie_envelope.client"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    assert 'pip install "opsgenie-envelope[client]"' in result.stderr
