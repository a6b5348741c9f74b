"""Everything the client raises shares one root, ``RequestFailed``; error envelopes raise the
client's twin of each server class, which carries what the client read."""

from __future__ import annotations

import inspect
import pickle
import re
import traceback
from pathlib import Path

import httpx
import pytest
from mypy import api as mypy_api

import opsgenie_envelope
from opsgenie_envelope import client as client_module
from opsgenie_envelope.client import (
    NotAnEnvelope,
    PagingError,
    RequestFailed,
    RetriesExhausted,
)
from opsgenie_envelope.client._errors import error_class_for

ROOT = Path(__file__).resolve().parents[2]
RID = "4f6a0e4c-0b1e-4c59-9a4e-7b2a4a1c8d3e"


def _server_tree() -> list[type[opsgenie_envelope.ApiError]]:
    """Every public class of the server's error tree, its base included."""
    return [
        value
        for value in vars(opsgenie_envelope).values()
        if inspect.isclass(value) and issubclass(value, opsgenie_envelope.ApiError)
    ]


def _not_found() -> client_module.NotFound:
    """The error the client raises for a 404 envelope."""
    request = httpx.Request("GET", "https://api.example.com/v2/alerts/1")
    body = {"message": "Alert does not exist", "took": 0.002, "requestId": RID}
    response = httpx.Response(404, json=body, request=request)
    with pytest.raises(client_module.NotFound) as info:
        client_module.unwrap(response)
    return info.value


def test_every_client_failure_class_is_under_the_root() -> None:
    """Each exception class the client package exports derives from ``RequestFailed``."""
    failures = [
        value
        for value in vars(client_module).values()
        if inspect.isclass(value) and issubclass(value, BaseException)
    ]
    assert {cls.__name__ for cls in failures} >= {
        "ApiError",
        "NotAnEnvelope",
        "NotFound",
        "PagingError",
        "RequestFailed",
        "RetriesExhausted",
    }
    for cls in failures:
        assert issubclass(cls, RequestFailed), cls


def test_every_client_failure_is_an_instance_of_the_root() -> None:
    """What the client raises of its own is caught by ``except RequestFailed``."""
    request = httpx.Request("GET", "https://api.example.com/v2/alerts")
    response = httpx.Response(502, text="<html>Bad Gateway</html>", request=request)
    not_envelope = NotAnEnvelope(response)
    failures: list[Exception] = [
        not_envelope,
        RetriesExhausted(3, 1.5, not_envelope, "attempts used up"),
        PagingError("too many pages", pages=10, next_url=None),
        _not_found(),
    ]
    for failure in failures:
        assert isinstance(failure, RequestFailed), failure


def test_every_server_error_class_has_its_client_twin() -> None:
    """Each public server error ``X`` has ``client.X``: a subclass of ``X`` and of the twin
    of each of ``X``'s public bases, so the client's tree mirrors the server's."""
    tree = _server_tree()
    assert len(tree) == 22
    for cls in tree:
        twin = getattr(client_module, cls.__name__)
        assert twin is not cls
        assert issubclass(twin, cls), cls
        assert issubclass(twin, client_module.ApiError), cls
        for base in cls.__mro__[1:]:
            if base in tree:
                assert issubclass(twin, getattr(client_module, base.__name__)), (cls, base)
        assert (twin.status_code, twin.code, twin.default_message) == (
            cls.status_code,
            cls.code,
            cls.default_message,
        )
    twins = {
        name
        for name, value in vars(client_module).items()
        if inspect.isclass(value) and issubclass(value, client_module.ApiError)
    }
    assert twins == {cls.__name__ for cls in tree}


def test_an_error_envelope_is_caught_by_the_server_class_and_the_root() -> None:
    """A 404 envelope raises ``client.NotFound``: ``except NotFound`` and ``except
    RequestFailed`` both catch it."""
    error = _not_found()
    assert type(error) is client_module.NotFound
    with pytest.raises(opsgenie_envelope.NotFound):
        raise error
    with pytest.raises(RequestFailed):
        raise error
    assert isinstance(error, client_module.ClientError)
    assert isinstance(error, opsgenie_envelope.ClientError)


def test_the_client_error_carries_what_the_client_read() -> None:
    """``request_id``, ``took`` and ``response`` are the envelope's and the response's."""
    error = _not_found()
    assert (error.request_id, error.took, error.status_code) == (RID, 0.002, 404)
    assert error.response.status_code == 404
    assert error.response.request.url.path == "/v2/alerts/1"


def test_a_client_error_built_by_hand_has_no_request_id_or_took() -> None:
    """Built like the server's class (e.g. in a test), a twin has ``None`` for both."""
    error = client_module.TooManyRequests(retry_after=3, reason="API_KEY")
    assert (error.request_id, error.took, error.retry_after) == (None, None, 3)
    assert error.headers["X-RateLimit-Reason"] == "API_KEY"


@pytest.mark.parametrize(
    ("status", "code", "name"),
    [
        (404, None, "NotFound"),
        (403, 40302, "NotSupported"),
        (403, 40399, "Forbidden"),
        (418, None, "ClientError"),
        (502, None, "ServerError"),
        (302, None, "ApiError"),
    ],
)
def test_a_status_maps_to_the_twin_of_the_server_class(
    status: int, code: int | None, name: str
) -> None:
    """Listed statuses map to their twin; unlisted ones to the twin of the closest base."""
    cls = error_class_for(status, code)
    assert cls is getattr(client_module, name)
    assert cls.__bases__[0] is opsgenie_envelope.error_class_for(status, code)


def test_a_client_error_reads_as_the_client_class() -> None:
    """Tracebacks name ``opsgenie_envelope.client.NotFound``; the repr adds the request ID."""
    error = _not_found()
    shown = traceback.format_exception_only(error)
    assert shown == ["opsgenie_envelope.client.NotFound: Alert does not exist\n"]
    assert repr(error) == f"NotFound('Alert does not exist', status_code=404, request_id='{RID}')"


def test_a_client_error_survives_pickling() -> None:
    """A pickled client error comes back as the same class with the same fields."""
    error = _not_found()
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is client_module.NotFound
    assert (copy.message, copy.status_code, copy.request_id, copy.took) == (
        "Alert does not exist",
        404,
        RID,
        0.002,
    )
    assert copy.response.json()["requestId"] == RID
    assert copy.headers["content-type"] == "application/json"


def test_the_client_own_failures_survive_pickling() -> None:
    """``NotAnEnvelope``, ``RetriesExhausted`` and ``PagingError`` unpickle with their fields."""
    request = httpx.Request("GET", "https://api.example.com/v2/alerts")
    response = httpx.Response(502, text="<html>Bad Gateway</html>", request=request)
    not_envelope = NotAnEnvelope(response)
    failures: list[RequestFailed] = [
        not_envelope,
        RetriesExhausted(3, 1.5, not_envelope, "attempts used up"),
        PagingError("too many pages", pages=10, next_url="https://elsewhere.example.com/"),
    ]
    for failure in failures:
        copy = pickle.loads(pickle.dumps(failure))
        assert type(copy) is type(failure)
        assert (str(copy), copy.args) == (str(failure), failure.args)
        assert vars(copy).keys() == vars(failure).keys()
    exhausted = pickle.loads(pickle.dumps(failures[1]))
    assert isinstance(exhausted, RetriesExhausted)
    assert (exhausted.attempts, exhausted.elapsed) == (3, 1.5)
    assert isinstance(exhausted.last_error, NotAnEnvelope)
    assert exhausted.last_error.excerpt == not_envelope.excerpt


def test_the_docstring_tree_names_every_client_error() -> None:
    """The tree at the top of the client's ``_errors`` lists each exception it exports."""
    from opsgenie_envelope.client import _errors

    named = set(re.findall(r"^\s*[│├└─ ]*(\w+) \.{2,}", _errors.__doc__ or "", re.MULTILINE))
    exported = {
        name
        for name, value in vars(client_module).items()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }
    assert named == exported


def test_the_client_attributes_are_typed(tmp_path: Path) -> None:
    """mypy sees the twins' attributes with their types, and none on the server's class."""
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "import opsgenie_envelope\n"
        "from opsgenie_envelope import client\n"
        "\n"
        "\n"
        "def read(server: opsgenie_envelope.NotFound) -> None:\n"
        "    try:\n"
        "        client.unwrap(client.Client().get('/').response)\n"
        "    except client.NotFound as exc:\n"
        "        reveal_type(exc.request_id)\n"
        "        reveal_type(exc.took)\n"
        "        reveal_type(exc.response)\n"
        "    except client.RequestFailed as failure:\n"
        "        reveal_type(failure)\n"
        "    server.request_id\n"
    )
    stdout, stderr, status = mypy_api.run(
        ["--no-error-summary", "--config-file", str(ROOT / "pyproject.toml"), str(snippet)]
    )
    found = re.findall(r"snippet\.py:(\d+): (\w+): (.*)", stdout)
    assert (stderr, status) == ("", 1)
    assert found == [
        ("9", "note", 'Revealed type is "str | None"'),
        ("10", "note", 'Revealed type is "float | None"'),
        ("11", "note", 'Revealed type is "httpx._models.Response"'),
        ("13", "note", 'Revealed type is "opsgenie_envelope.client._errors.RequestFailed"'),
        ("14", "error", '"NotFound" has no attribute "request_id"  [attr-defined]'),
    ]
