"""``TestClientTransport``: the sync client over an ASGI app, in-process, for tests.

httpx has no sync transport for ASGI apps; Starlette's ``TestClient`` is one (it runs the app
on an event loop in a thread). But ``TestClient`` is an ``httpx2.Client`` wherever httpx2 is
installed (Starlette prefers it), and the library's client is built on httpx: the two
libraries' requests, responses and URLs do not mix. This transport sends each httpx request
through a ``TestClient`` by its public API and hands back an httpx response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from starlette.testclient import TestClient
    from starlette.types import ASGIApp

__all__ = ["TestClientTransport"]


class TestClientTransport(httpx.BaseTransport):
    """An httpx transport that serves each request with Starlette's ``TestClient``.

    Args:
        app: the ASGI app, or a ``TestClient`` already made (entered with ``with`` for the
            app's lifespan to run; it is then left for its owner to close).
        raise_server_exceptions: for a ``TestClient`` made here: re-raise in the test what
            the app raised after its 500 went out (``TestClient``'s default), or not.

    Redirects and cookies are the httpx client's business: the ``TestClient`` is asked not to
    follow redirects, and the body is handed over as sent (still encoded, for httpx to decode).

    Example::

        from opsgenie_envelope.client import Client, TestClientTransport

        with Client(transport=TestClientTransport(app), base_url="http://testserver") as client:
            assert client.get("/v2/alerts/1").data["id"] == "1"
    """

    __test__ = False  # not a test class, for pytest, when imported into a test module

    def __init__(self, app: ASGIApp | TestClient, *, raise_server_exceptions: bool = True) -> None:
        # Imported here: Starlette's test client imports httpx2 (or warns without it).
        from starlette.testclient import TestClient

        self._owned = not isinstance(app, TestClient)
        self.test_client = (
            app
            if isinstance(app, TestClient)
            else TestClient(app, raise_server_exceptions=raise_server_exceptions)
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the ``TestClient``; return what the app answered."""
        client = self.test_client
        outgoing = client.build_request(
            request.method, str(request.url), headers=request.headers.raw, content=request.read()
        )
        answer = client.send(outgoing, follow_redirects=False, stream=True)
        try:
            body = b"".join(answer.iter_raw())
        finally:
            answer.close()
        return httpx.Response(
            answer.status_code,
            headers=answer.headers.raw,
            content=body,
            request=request,
            extensions={"http_version": answer.http_version.encode("ascii")},
        )

    def close(self) -> None:
        """Close the ``TestClient`` when it was made here."""
        if self._owned:
            self.test_client.close()
