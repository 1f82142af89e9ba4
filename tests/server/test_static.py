"""The built dashboard is served compressed when the client accepts it, hashed assets are cached
for good, the page itself is revalidated, and a missing file is a 404 rather than the page."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tk9.server.app import create_app
from tk9.server.static import IMMUTABLE, accepted

from .conftest import make_settings

SCRIPT = b"console.log('tk9');" * 200


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(b"<!doctype html><title>tk9</title>")
    (root / "favicon.svg").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "assets" / "index-abc123.js").write_bytes(SCRIPT)
    (root / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(SCRIPT))
    (root / "assets" / "index-abc123.js.br").write_bytes(b"not really brotli")
    return root


@pytest.fixture
def client(tmp_path: Path, dist: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path, static_dir=dist))) as c:
        yield c


def test_hashed_assets_are_immutable_and_precompressed(client: TestClient) -> None:
    plain = client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
    assert plain.content == SCRIPT
    assert plain.headers["cache-control"] == IMMUTABLE
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    assert plain.headers["content-type"].startswith(("text/javascript", "application/javascript"))

    gz = client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip"
    assert gz.content == SCRIPT  # decoded by the client
    assert gz.headers["content-type"] == plain.headers["content-type"]

    headers = {"Accept-Encoding": "gzip, br"}
    with client.stream("GET", "/assets/index-abc123.js", headers=headers) as br:
        assert br.headers["content-encoding"] == "br"
        assert b"".join(br.iter_raw()) == b"not really brotli"  # the twin, sent as it is


def test_the_page_is_revalidated_and_missing_files_are_404(client: TestClient) -> None:
    page = client.get("/sessions/0f0e")
    assert page.status_code == 200 and b"<title>tk9</title>" in page.content
    assert page.headers["cache-control"] == "no-cache"
    assert client.get("/favicon.svg").headers["content-type"].startswith("image/svg+xml")
    assert client.get("/favicon.ico").status_code == 404
    assert client.get("/assets/missing.js").status_code == 404
    assert client.get("/assets/../index.html").status_code in (200, 404)


def test_accept_encoding_parsing() -> None:
    assert accepted("gzip, deflate, br;q=0.8") == {"gzip", "deflate", "br"}
    assert accepted("br;q=0, gzip") == {"gzip"}
    assert accepted("") == set()
