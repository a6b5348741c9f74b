"""The hot-path shortcuts keep the behaviour of the plain code they replace."""

from __future__ import annotations

import gc
import os
import random
import re
import threading
import warnings
from collections import Counter

import orjson
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opsgenie_envelope import EnvelopeMiddleware, _negotiation, _request_id, uuid4_hex
from opsgenie_envelope._exchange import SPLICE_COPY_LIMIT
from opsgenie_envelope._render import format_took
from tests.support.apps import starlette_app
from tests.support.asgi import call_asgi, header

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_batched_uuid4s_are_well_formed_and_unique() -> None:
    """IDs from several batches are lower-case UUID4s, never repeated."""
    ids = [uuid4_hex() for _ in range(5 * _request_id._BATCH + 7)]
    assert all(UUID4.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_batched_uuid4s_use_every_variant_and_digit() -> None:
    """The variant nibble takes all of 8, 9, a, b; the random digits take all 16 values."""
    ids = [uuid4_hex() for _ in range(4000)]
    assert set(Counter(i[19] for i in ids)) == set("89ab")
    for column in (0, 7, 9, 15, 20, 35):
        assert set(Counter(i[column] for i in ids)) == set("0123456789abcdef")


def test_uuid4s_are_not_shared_between_threads() -> None:
    """Threads drawing from the same batches never get the same ID."""
    seen: list[list[str]] = [[] for _ in range(4)]

    def draw(out: list[str]) -> None:
        out.extend(uuid4_hex() for _ in range(2000))

    threads = [threading.Thread(target=draw, args=(out,)) for out in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for out in seen for i in out]
    assert len(set(ids)) == len(ids) == 8000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_does_not_reuse_the_parents_batch() -> None:
    """After a fork the child formats its own IDs: none equals one the parent hands out."""
    uuid4_hex()  # the parent now holds a batch
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns when other threads exist
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, ",".join(uuid4_hex() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parent = {uuid4_hex() for _ in range(10)}
    assert len(child) == 10
    assert not child & parent


def test_took_table_matches_round_to_three_decimals() -> None:
    """``format_took`` renders exactly ``repr(round(seconds, 3))``, ties and edges included."""
    rng = random.Random(1234)
    values = [rng.random() * scale for scale in (0.001, 0.01, 0.1, 1.0, 3.0) for _ in range(20_000)]
    values += [(ms + 0.5) / 1000 for ms in range(1100)] + [ms / 1000 for ms in range(1100)]
    values += [0.0, -0.0, -1.0, 1e-9, 0.0004999, 0.0005, 0.9994999, 0.9995, 0.9996, 12.3456]
    for seconds in values:
        expected = repr(round(seconds, 3) if seconds > 0.0 else 0.0).encode()
        assert format_took(seconds) == expected, seconds


ACCEPTS = [
    b"*/*",
    b"application/json",
    b"text/html",
    b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    b"application/json;q=0",
    b"*/*;q=0, application/json",
    b"application/*;q=0.5, text/plain",
    b"",
    b"image/png, */*;q=0",
]


def test_accept_cache_answers_as_the_parser_does() -> None:
    """A cached answer equals the parsed one, on first and repeated sight."""
    for _ in range(3):
        for accept in ACCEPTS:
            assert _negotiation.accepts_json(accept) is _negotiation._accepts_json(accept)


def test_accept_cache_is_bounded() -> None:
    """Many distinct or long values never grow the cache past its size."""
    for i in range(2 * _negotiation._CACHE_SIZE):
        assert _negotiation.accepts_json(b"text/x-%d" % i) is False
    assert _negotiation.accepts_json(b"text/plain, " * 100 + b"application/json") is True
    assert len(_negotiation._accept_cache) <= _negotiation._CACHE_SIZE
    assert all(len(k) <= _negotiation._CACHE_MAX_LEN for k in _negotiation._accept_cache)


@pytest.mark.anyio
async def test_large_json_body_is_sent_around_not_copied() -> None:
    """A body over SPLICE_COPY_LIMIT goes out as prefix, the app's bytes, suffix."""
    payload = orjson.dumps(list(range(SPLICE_COPY_LIMIT // 4)))
    assert len(payload) > SPLICE_COPY_LIMIT

    async def endpoint(request: Request) -> Response:
        return Response(payload, media_type="application/json")

    app = Starlette(routes=[Route("/big", endpoint)], middleware=[Middleware(EnvelopeMiddleware)])
    sent = await call_asgi(app, "/big")
    start, *bodies = sent
    assert [b.get("more_body", False) for b in bodies] == [True, True, False]
    assert bodies[1]["body"] is payload  # the app's bytes object itself, not a copy
    whole = b"".join(b["body"] for b in bodies)
    assert header(start, b"content-length") == [str(len(whole)).encode()]
    envelope = orjson.loads(whole)
    assert envelope["data"] == list(range(SPLICE_COPY_LIMIT // 4))
    assert header(start, b"x-request-id") == [envelope["requestId"].encode()]


@pytest.mark.anyio
async def test_rendered_errors_leave_no_reference_cycles() -> None:
    """An error rendered from a raised ApiError is freed at once, not by the cyclic GC."""
    app = starlette_app()
    await call_asgi(app, "/fail/not-found")
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            sent = await call_asgi(app, "/fail/not-found")
            assert sent[0]["status"] == 404
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v2/alerts/1", 200),  # Splice, one whole body
        ("/r/stream", 200),  # Splice, a stream
        ("/r/html", 200),  # PassThrough
        ("/r/text-error", 402),  # CaptureError
        ("/nowhere", 404),  # CaptureError, the router's answer
        ("/r/not-json", 500),  # Splice answering 500
    ],
)
async def test_every_body_handler_leaves_no_reference_cycles(path: str, status: int) -> None:
    """Whatever handler the exchange picks, the request's objects are freed at once."""
    app = starlette_app()
    await call_asgi(app, path)
    gc.collect()
    gc.disable()
    try:
        for _ in range(10):
            sent = await call_asgi(app, path)
            assert sent[0]["status"] == status
        assert gc.collect() == 0
    finally:
        gc.enable()
