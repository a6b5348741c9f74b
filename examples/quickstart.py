"""A small FastAPI app behind EnvelopeMiddleware: ``uvicorn examples.quickstart:app``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from opsgenie_envelope import EnvelopeMiddleware, NotFound, set_message

app = FastAPI(title="opsgenie_envelope quickstart")
app.add_middleware(EnvelopeMiddleware)

ALERTS: dict[str, dict[str, Any]] = {
    "70413a06-38d6-4c85-92b8-5ebc900d42e2": {
        "id": "70413a06-38d6-4c85-92b8-5ebc900d42e2",
        "message": "Our servers are in danger",
        "priority": "P1",
    }
}


class AlertIn(BaseModel):
    """The body of ``POST /v2/alerts``."""

    message: str
    priority: str = "P3"


@app.get("/v2/alerts")
async def list_alerts() -> list[dict[str, Any]]:
    """All alerts."""
    return list(ALERTS.values())


@app.get("/v2/alerts/{alert_id}")
async def get_alert(alert_id: str) -> dict[str, Any]:
    """One alert, or 404."""
    alert = ALERTS.get(alert_id)
    if alert is None:
        raise NotFound("Alert does not exist")
    return alert


@app.post("/v2/alerts", status_code=202)
async def create_alert(body: AlertIn) -> None:
    """Accept an alert for creation."""
    set_message("Request will be processed")
