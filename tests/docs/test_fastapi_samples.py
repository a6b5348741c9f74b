"""The docs' FastAPI samples, served as written by uvicorn: every answer is what the document says.

Each sample (the FastAPI guide's, and the FastAPI sections of the paging and expand guides)
is saved as ``app.py`` and served by ``uvicorn app:app`` on 127.0.0.1. Its own
``/openapi.json`` is read from the server, then each request below is sent over the wire and
its status, headers and body are checked against that document: the successes, and every
refusal the library answers on those routes (400, 404, 406, 416, 422).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.openapi_check import assert_documented
from tests.support.processes import serve
from tests.support.sessions import blocks

pytestmark = pytest.mark.server

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide"
HTML = {"Accept": "text/html"}

# (method, URL, headers, the path template it is documented under, the status it answers)
Call = tuple[str, str, dict[str, str], str, int]
ONE, ALL = "/v2/alerts/{alert_id}", "/v2/alerts"

SAMPLES: dict[tuple[str, str], list[Call]] = {
    ("fastapi.md", "FastAPI and OpenAPI"): [
        ("GET", "/v2/alerts/1", {}, ONE, 200),
        ("GET", "/v2/alerts/2", {}, ONE, 404),
        ("GET", "/v2/alerts/1", HTML, ONE, 406),
        ("GET", "/v2/alerts", {}, ALL, 200),
        ("GET", "/v2/alerts?expand=contact&sort=createdAt&order=desc", {}, ALL, 200),
        ("GET", "/v2/alerts?expand=owner", {}, ALL, 400),
        ("GET", "/v2/alerts?limit=500", {}, ALL, 416),
        ("GET", "/v2/alerts?offset=-1", {}, ALL, 416),
        ("GET", "/v2/alerts?limit=ten", {}, ALL, 422),
        ("GET", "/v2/alerts?sort=message", {}, ALL, 422),
        ("DELETE", "/v2/alerts/1", {}, ONE, 202),
    ],
    ("paging.md", "FastAPI"): [
        ("GET", "/v2/alerts", {}, ALL, 200),
        ("GET", "/v2/alerts?query=open&offset=20&limit=10", {}, ALL, 200),
        ("GET", "/v2/alerts?offset=40&sort=createdAt&order=asc", {}, ALL, 200),
        ("GET", "/v2/alerts?limit=500", {}, ALL, 416),
        ("GET", "/v2/alerts?offset=-1", {}, ALL, 416),
        ("GET", "/v2/alerts?limit=ten", {}, ALL, 422),
        ("GET", "/v2/alerts", HTML, ALL, 406),
    ],
    ("expand.md", "FastAPI"): [
        ("GET", "/v2/alerts/42", {}, ONE, 200),
        ("GET", "/v2/alerts/42?expand=contact,rotation", {}, ONE, 200),
        ("GET", "/v2/alerts/42?expand=owner", {}, ONE, 400),
        ("GET", "/v2/alerts/7", {}, ONE, 404),
        ("GET", "/v2/alerts/42", HTML, ONE, 406),
    ],
}


def _sample(page: str, section: str) -> str:
    """The one Python block of ``section`` on the guide's ``page``."""
    (block,) = [b for b in blocks(GUIDE / page) if b.section == section and b.language == "python"]
    return block.content


@pytest.mark.parametrize(("page", "section"), list(SAMPLES), ids=[p for p, _ in SAMPLES])
def test_served_sample_answers_as_its_document_says(
    tmp_path: Path, page: str, section: str
) -> None:
    """Each answer of the sample under uvicorn has a documented status, headers and body."""
    (tmp_path / "app.py").write_text(_sample(page, section), encoding="utf-8")
    with (
        serve("uvicorn", "app:app", cwd=tmp_path) as served,
        httpx.Client(base_url=served.url) as client,
    ):
        document = client.get("/openapi.json").json()
        seen = []
        for method, url, headers, template, _ in SAMPLES[page, section]:
            response = client.request(method, url, headers=headers)
            assert_documented(document, template, response)
            seen.append(response.status_code)
    assert seen == [status for *_, status in SAMPLES[page, section]]
