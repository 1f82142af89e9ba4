"""The real pipeline behind the API: a session created over HTTP researches a small corpus."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.research.conftest import write_corpus
from tests.server.conftest import make_settings
from tests.server.test_rest import finished
from tests.support import wait_until
from tk9.server.app import create_app


def test_session_researches_and_publishes(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    settings = make_settings(
        tmp_path, demo_producer=False, corpus_dir=corpus, use_wiki_corpus=False, max_sections=3
    )
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/sessions", json={"subject": "photosynthesis", "language": "es"})
        assert r.status_code == 201, r.text
        sid = r.json()["session_id"]
        snap = wait_until(lambda: finished(client, sid), timeout=120, what="research run")
        assert snap["status"] == "completed", snap.get("error")
        agents = snap["agents"]
        assert all(a["status"] == "completed" for a in agents.values())  # type: ignore[attr-defined]
        kinds = {(f["language"], f["kind"]) for f in snap["files"]}  # type: ignore[attr-defined]
        assert kinds == {(lang, k) for lang in ("en", "es") for k in ("md", "pdf", "docx")}
        for f in snap["files"]:  # type: ignore[attr-defined]
            body = client.get(f["path"]).content
            assert len(body) == f["size_bytes"]


def test_empty_corpus_is_refused_before_any_work(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    settings = make_settings(tmp_path, demo_producer=False, corpus_dir=empty, use_wiki_corpus=False)
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/sessions", json={"subject": "photosynthesis", "language": "es"})
        assert r.status_code == 422
        assert "corpus" in r.json()["error"]["message"]
        assert client.get("/api/sessions").json()["sessions"] == []
