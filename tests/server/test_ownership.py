"""Crash recovery marks only this node's runs: nodes sharing one log leave each other alone."""

from __future__ import annotations

from pathlib import Path

from tk9.events import ResearchStatusPayload, RunStatus
from tk9.log.base import append_payload
from tk9.log.memory import MemoryEventLog
from tk9.research.runner import RunManager
from tk9.settings import Settings


async def test_a_starting_node_marks_only_its_own_unfinished_runs(tmp_path: Path) -> None:
    log = MemoryEventLog()
    await log.open()
    running = ResearchStatusPayload(status=RunStatus.RUNNING, progress=30, stage="Researcher")
    for sid, owner in (("a-run", "node-a"), ("b-run", "node-b"), ("legacy", None)):
        meta = {"subject": "tides", "language": "en"} | ({"owner": owner} if owner else {})
        await log.create(sid, meta)
        await append_payload(log, sid, running)

    settings = Settings(data_dir=tmp_path, node_id="node-b", use_wiki_corpus=False)
    marked = await RunManager(log, settings).mark_interrupted()

    assert sorted(marked) == ["b-run", "legacy"]
    last = (await log.read("a-run", 0))[-1]
    assert last.payload["status"] == "running"  # node A's live run is untouched
    for sid in ("b-run", "legacy"):
        assert (await log.read(sid, 0))[-1].payload["status"] == "interrupted"
    assert await RunManager(log, settings).mark_interrupted() == []  # idempotent
    await log.close()
