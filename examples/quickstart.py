"""A small FastAPI app behind EnvelopeMiddleware: ``uvicorn examples.quickstart:app``.

``install`` adds the middleware and makes ``/docs`` show the envelopes the client gets.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

from opsgenie_envelope import NotFound, set_message
from opsgenie_envelope.fastapi import errors, install

app = FastAPI(title="opsgenie_envelope quickstart")
install(app)


class Alert(BaseModel):
    """An alert as the API answers it."""

    id: str
    message: str
    priority: str = "P3"


class AlertIn(BaseModel):
    """The body of ``POST /v2/alerts``."""

    message: str
    priority: str = "P3"


ALERTS: dict[str, Alert] = {
    "70413a06-38d6-4c85-92b8-5ebc900d42e2": Alert(
        id="70413a06-38d6-4c85-92b8-5ebc900d42e2",
        message="Our servers are in danger",
        priority="P1",
    )
}


@app.get("/v2/alerts")
async def list_alerts() -> list[Alert]:
    """All alerts."""
    return list(ALERTS.values())


@app.get("/v2/alerts/{alert_id}", responses=errors(NotFound))
async def get_alert(alert_id: str) -> Alert:
    """One alert, or 404."""
    alert = ALERTS.get(alert_id)
    if alert is None:
        raise NotFound("Alert does not exist")
    return alert


@app.post("/v2/alerts", status_code=202)
async def create_alert(body: AlertIn) -> None:
    """Accept an alert for creation."""
    set_message("Request will be processed")
