"""``GET /api/config`` says, per language, how a report would be translated; creating a session
in a language that stays English says so at once; a bad language code is a clear 422."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tk9.client.http import create_session
from tk9.server import api_sessions
from tk9.server.app import create_app

from .conftest import make_settings

LISTING = frozenset({"eng-spa", "eng-cat", "en-gl", "en-eo", "eng-hbs", "spa-eng"})


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A fake ``apertium -l`` (the bookworm English pairs), counting how often it is read."""
    seen: list[int] = []

    async def fake_pairs(timeout: float = 10.0) -> frozenset[str]:
        seen.append(1)
        return LISTING

    monkeypatch.setattr(api_sessions, "apertium_pairs", fake_pairs)
    return seen


@pytest.fixture
def client(tmp_path: Path, calls: list[int]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path))) as c:
        yield c


def test_config_lists_how_each_language_is_translated_read_once(
    client: TestClient, calls: list[int]
) -> None:
    for _ in range(3):
        config = client.get("/api/config").json()
    assert len(calls) == 1  # at start-up, not per request
    by_code = {entry["code"]: entry for entry in config["languages"]}
    assert len(by_code) == 184
    assert by_code["en"]["translation"] == "source" and by_code["en"]["name"] == "English"
    assert by_code["ca"] == {
        "code": "ca",
        "name": "Catalan",
        "translation": "apertium",
        "via": "Apertium eng-cat",
    }
    assert by_code["gl"]["via"] == "Apertium en-gl" and by_code["eo"]["via"] == "Apertium en-eo"
    french = by_code["fr"]
    assert french["translation"] == "none"
    assert french["via"].startswith("No offline translator for French (fr): the report will be")
    assert by_code["sr"]["translation"] == "none"  # eng-hbs is listed but does not translate
    assert sorted(config["translation_targets"]) == ["ca", "en", "eo", "es", "gl"]


def test_with_an_llm_configured_every_language_has_a_route(
    tmp_path: Path, calls: list[int]
) -> None:
    settings = make_settings(
        tmp_path, engine="llm", llm_base_url="http://127.0.0.1:9/v1", llm_model="m"
    )
    with TestClient(create_app(settings)) as client:
        config = client.get("/api/config").json()
    methods = {entry["code"]: entry["translation"] for entry in config["languages"]}
    assert methods["fr"] == "llm" and methods["es"] == "apertium" and methods["en"] == "source"
    assert "none" not in methods.values()


def test_creating_a_session_that_stays_english_warns_at_once(client: TestClient) -> None:
    r = client.post("/api/sessions", json={"subject": "Tidal power", "language": "de"})
    assert r.status_code == 201
    (warning,) = r.json()["warnings"]
    assert warning.startswith("No offline translator for German (de)")
    ok = client.post("/api/sessions", json={"subject": "Tidal power", "language": "gl"})
    assert ok.status_code == 201 and ok.json()["warnings"] == []


@pytest.mark.parametrize(
    ("language", "hint"),
    [("French", "did you mean 'fr'?"), ("fra", "ISO 639-1"), ("e", "ISO 639-1")],
)
def test_a_bad_language_code_is_a_clear_422(client: TestClient, language: str, hint: str) -> None:
    r = client.post("/api/sessions", json={"subject": "Tidal power", "language": language})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_input" and hint in error["message"]
    assert f"unknown language code {language!r}" in error["message"]


async def test_the_python_client_gets_the_warning_before_the_run(tmp_path: Path) -> None:
    """``tk9.client.http.create_session`` hands the English-only warning to its caller."""
    app = create_app(make_settings(tmp_path))
    async with app.api.router.lifespan_context(app.api):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport) as http:
            body = await create_session("http://tk9.test", "Tidal power", "vi", client=http)
    assert body["warnings"][0].startswith("No offline translator for Vietnamese (vi)")
