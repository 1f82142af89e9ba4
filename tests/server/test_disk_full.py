"""Disk full, on a real filesystem: a ``tk9 serve`` whose data directory is a small tmpfs.

The test fills the tmpfs while a run is in progress. The run must end ``failed`` with "disk
full" once space is back (never ``running`` forever), ``/api/health`` must answer 503
``degraded`` with the cause while writes fail; and a server stopped while the disk is full
closes the run with the same reason at its next start, not "the server stopped".
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess, wait_until
from tk9.diagnose.http_checks import Probe, check_health
from tk9.diagnose.report import CheckResult, Verdict
from tk9.diagnose.target import parse_target

ENV = {
    "TK9_DEMO_PRODUCER": "1",
    "TK9_DEMO_INTERVAL": "0.05",
    "TK9_DEMO_EVENTS": "40",
    "TK9_STORAGE_RETRY": "0.2",
    "TK9_LOG_LEVEL": "info",
}


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs (needs root, as in the test containers; skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the filesystem refuses (ENOSPC)."""
    filler = disk / "filler"
    chunk = 1024 * 1024
    with filler.open("wb", buffering=0) as f:
        while chunk >= 512:
            try:
                f.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                chunk //= 2
    return filler


def start_run(server: ServerProcess) -> str:
    body = {"subject": "Tidal power", "language": "en"}
    r = server.api("POST", "/api/sessions", json=body)
    assert r.status_code == 201, r.text
    sid: str = r.json()["session_id"]
    return sid


def snapshot(server: ServerProcess, sid: str) -> dict[str, object]:
    data: dict[str, object] = server.api("GET", f"/api/sessions/{sid}").json()
    return data


async def diagnose_health(url: str) -> CheckResult:
    async with httpx.AsyncClient(timeout=10) as http:
        return await check_health(Probe(parse_target(url), http, 10))


def health(server: ServerProcess) -> httpx.Response:
    return server.api("GET", "/api/health")


def test_a_run_stopped_by_a_full_disk_ends_failed_and_health_says_degraded(disk: Path) -> None:
    server = ServerProcess(disk, dict(ENV)).start()
    try:
        sid = start_run(server)
        filler = fill(disk)
        wait_until(lambda: "disk_full" in server.logs(), timeout=30, what="the run hit the disk")
        r = health(server)
        assert r.status_code == 503
        assert r.json()["status"] == "degraded" and "disk full" in r.json()["cause"]
        assert snapshot(server, sid)["status"] not in ("completed", "failed")  # cannot write yet
        verdict = asyncio.run(diagnose_health(server.url))
        assert verdict.verdict == Verdict.FAIL and "degraded" in verdict.summary
        assert "disk full" in verdict.summary  # tk9 diagnose names the cause, not "not tk9"

        filler.unlink()
        state = wait_until(
            lambda: (s := snapshot(server, sid))["status"] == "failed" and s,
            timeout=30,
            what="the run closed failed",
        )
        assert "disk full" in str(state["error"])
        assert str(disk) not in str(state)  # no server path in what a viewer sees
        wait_until(lambda: health(server).status_code == 200, timeout=10, what="health ok")
        assert health(server).json()["cause"] is None
    finally:
        server.stop()


def test_a_server_stopped_while_the_disk_is_full_closes_the_run_at_its_next_start(
    disk: Path,
) -> None:
    server = ServerProcess(disk, dict(ENV)).start()
    filler: Path | None = None
    try:
        sid = start_run(server)
        filler = fill(disk)
        wait_until(lambda: "disk_full" in server.logs(), timeout=30, what="the run hit the disk")
    finally:
        server.stop()
    assert (disk / "disk-full" / sid).exists()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(filler)  # space is back for the restart
    again = ServerProcess(disk, dict(ENV), port=server.port).start()
    try:
        state = snapshot(again, sid)
        assert state["status"] == "failed"
        assert "disk full" in str(state["error"])
        assert "server stopped" not in str(state["error"])
        assert not (disk / "disk-full" / sid).exists()
    finally:
        again.stop()
