"""The storage port: the local store never follows links; the S3 store against an
S3-compatible server (moto's, in a thread: no real S3 is reachable offline), and a server
whose files live only in the bucket serves them and the ZIP."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from tests.server.conftest import make_settings
from tests.support import free_port, wait_until
from tk9.server.app import create_app
from tk9.storage import LocalFileStore, S3FileStore


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def bucket(url: str, name: str) -> S3FileStore:
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=name)
    return S3FileStore(client, name, prefix="reports/")


async def test_the_s3_store_publishes_lists_reads_and_removes(s3_url: str, tmp_path: Path) -> None:
    store = bucket(s3_url, "unit")
    report = tmp_path / "report-en.md"
    report.write_text("# Tides\n")
    (tmp_path / "notes.txt").write_text("not a report")
    await store.publish("s1", report)
    await store.publish("s1", tmp_path / "notes.txt")  # stored, never served
    await store.publish("s2", report)
    assert await store.names("s1") == ["report-en.md"]
    assert await store.read("s1", "report-en.md") == b"# Tides\n"
    assert await store.read("s1", "missing.md") is None
    assert await store.read("s1", "../s2/report-en.md") is None
    await store.remove("s1")
    assert await store.names("s1") == []
    assert await store.names("s2") == ["report-en.md"]


async def test_the_local_store_serves_no_link(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "report-en.md").write_text("# Tides\n")
    (tmp_path / "s1" / "linked.md").symlink_to(tmp_path / "s1" / "report-en.md")
    (tmp_path / "s2").symlink_to(tmp_path / "s1")
    assert await store.names("s1") == ["report-en.md"]
    assert await store.read("s1", "linked.md") is None
    assert await store.names("s2") == [] and await store.read("s2", "report-en.md") is None
    await store.remove("s2")
    assert not (tmp_path / "s2").exists() and (tmp_path / "s1" / "report-en.md").exists()


def test_a_node_serves_files_that_live_only_in_the_bucket(s3_url: str, tmp_path: Path) -> None:
    bucket(s3_url, "tk9")
    settings = make_settings(
        tmp_path,
        file_store="s3",
        s3_bucket="tk9",
        s3_endpoint_url=s3_url,
        s3_region="us-east-1",
        s3_access_key="test",
        s3_secret_key="test",
    )
    with TestClient(create_app(settings)) as c:
        sid = c.post("/api/sessions", json={"subject": "tides", "language": "es"}).json()[
            "session_id"
        ]

        def done() -> dict[str, object] | None:
            snap: dict[str, object] = c.get(f"/api/sessions/{sid}").json()
            return snap if snap["status"] == "completed" else None

        snap = wait_until(done, timeout=30, what="the demo run")
        for folder in (settings.outputs_dir / sid,):  # this node's disk: gone
            for path in folder.iterdir():
                path.unlink()
        files = snap["files"]
        assert isinstance(files, list) and len(files) == 2
        for file in files:
            r = c.get(file["path"])
            assert r.status_code == 200 and r.content.startswith(b"# Demo report")
        r = c.get(f"/api/sessions/{sid}/files.zip")
        assert r.status_code == 200
        assert sorted(zipfile.ZipFile(io.BytesIO(r.content)).namelist()) == sorted(
            f["name"] for f in files
        )
        assert c.delete(f"/api/sessions/{sid}").status_code == 204
    store = bucket_names(s3_url)
    assert store == []


def bucket_names(url: str) -> list[str]:
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    return [o["Key"] for o in client.list_objects_v2(Bucket="tk9").get("Contents", [])]
