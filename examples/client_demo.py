"""The client against an app served in-process: envelopes, typed errors, retries.

Run with ``python examples/client_demo.py`` (needs the ``demo`` extra).
"""

from __future__ import annotations

import anyio
import httpx
from fastapi import FastAPI

import opsgenie_envelope.client
from opsgenie_envelope import EnvelopeMiddleware, NotFound, ServiceUnavailable, TooManyRequests
from opsgenie_envelope.client import AsyncClient, RetriesExhausted, Retry

app = FastAPI()
app.add_middleware(EnvelopeMiddleware)
calls = {"busy": 0}


@app.get("/v2/alerts/{alert_id}")
async def get_alert(alert_id: str) -> dict[str, str]:
    """One alert, or 404."""
    if alert_id != "1":
        raise NotFound("Alert does not exist")
    return {"id": alert_id, "message": "Our servers are in danger"}


@app.get("/v2/busy")
async def busy() -> dict[str, int]:
    """At capacity twice, then fine."""
    calls["busy"] += 1
    if calls["busy"] <= 2:
        raise ServiceUnavailable()
    return {"attempt": calls["busy"]}


@app.get("/v2/throttled")
async def throttled() -> None:
    """Always throttled, for a minute."""
    raise TooManyRequests(retry_after=60, reason="API_KEY")


async def main() -> None:
    """Call each route and show what the client returns or raises."""
    transport = httpx.ASGITransport(app=app)
    retry = Retry(attempts=4, budget=5.0, backoff=0.05)
    async with AsyncClient(transport=transport, base_url="http://demo", retry=retry) as client:
        envelope = await client.get("/v2/alerts/1")
        print("data:      ", envelope.data)
        print("requestId: ", envelope.request_id, " took:", envelope.took)
        try:
            await client.get("/v2/alerts/2")
        except opsgenie_envelope.client.NotFound as exc:  # an opsgenie_envelope.NotFound too
            print("NotFound:  ", exc.message, "| requestId", exc.request_id)
        envelope = await client.get("/v2/busy")
        print("503 twice, then:", envelope.data)
        try:
            await client.get("/v2/throttled")
        except RetriesExhausted as exc:
            print("429:       ", exc)


if __name__ == "__main__":
    anyio.run(main)
