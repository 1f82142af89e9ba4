"""``tk9 research`` beside a running ``tk9 serve`` on the same data directory (both real
processes, the default SQLite log): the server lists the CLI's session while it runs, without
a restart, and serves its snapshot and files once it ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.research.conftest import write_corpus
from tests.support import ServerProcess, wait_until


def test_a_cli_run_shows_up_in_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    corpus = write_corpus(tmp_path / "corpus")
    env = {"TK9_USE_WIKI_CORPUS": "false", "TK9_CORPUS_DIR": str(corpus)}
    server = ServerProcess(data, env=env).start()
    try:
        assert server.api("GET", "/api/sessions").json()["sessions"] == []
        cli = subprocess.Popen(
            [sys.executable, "-m", "tk9.cli", "research", "photosynthesis", "--language", "es",
             "--data-dir", str(data), "--corpus", str(corpus), "--json"],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip

        def listed() -> list[dict[str, object]]:
            sessions: list[dict[str, object]] = server.api("GET", "/api/sessions").json()[
                "sessions"
            ]
            return sessions

        seen = wait_until(listed, timeout=60, what="the CLI's session in the server's listing")
        sid = str(seen[0]["session_id"])
        out, err = cli.communicate(timeout=180)
        assert cli.returncode in (0, 3), err.decode()[-2000:]
        assert json.loads(out)["session_id"] == sid

        def ended() -> dict[str, object] | None:
            snap: dict[str, object] = server.api("GET", f"/api/sessions/{sid}").json()
            return snap if snap["status"] in ("completed", "completed_with_warnings") else None

        snap = wait_until(ended, timeout=10, what="the run's end, seen by the server")
        files = snap["files"]
        assert isinstance(files, list) and files
        for file in files:
            assert server.api("GET", file["path"]).status_code == 200
        assert listed()[0]["status"] == snap["status"]
    finally:
        server.stop()
