"""Benchmark: a 5-section report over the offline wiki corpus (~10k articles), en → es.

Measures, on a fresh data directory:

* ``index_cold_s``   — building the SQLite FTS5 index of the wiki summaries (first run only);
* ``run_cold_s``     — a whole run including that index build;
* ``run_warm_s``     — median of ``--runs`` more runs reusing the index (the normal case);
* per-agent wall time of the last warm run, from the event timestamps.

Target (issue 3): a run ≤ 30 s on 2 cores. Usage::

    uv run python bench/research.py [--subject "photosynthesis"] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tk9.events import AgentName, EventType, RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.research.corpus import CorpusIndex
from tk9.research.documents import wiki_data_file
from tk9.research.retrieval import index_path
from tk9.research.runner import run_research
from tk9.settings import Settings


async def one_run(
    log: MemoryEventLog, settings: Settings, subject: str, language: str
) -> tuple[float, dict[str, float], int]:
    session_id = str(uuid.uuid4())
    await log.create(session_id, {"subject": subject, "language": language})
    start = time.perf_counter()
    status = await run_research(
        log, session_id, subject, language, settings, settings.outputs_dir / session_id
    )
    elapsed = time.perf_counter() - start
    events = await log.read(session_id, 0, 100_000)
    if status not in (RunStatus.COMPLETED, RunStatus.COMPLETED_WITH_WARNINGS):
        raise SystemExit(f"run ended {status}: {events[-1].payload}")
    started: dict[str, float] = {}
    took: dict[str, float] = {}
    for event in events:
        if event.event_type != EventType.AGENT_UPDATE:
            continue
        agent, state = event.payload["agent"], event.payload["status"]
        started.setdefault(agent, event.timestamp)
        if state in ("completed", "skipped", "failed"):
            took[agent] = round(event.timestamp - started[agent], 3)
    files = sum(1 for e in events if e.event_type == EventType.FILE_GENERATED)
    return elapsed, took, files


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", default="photosynthesis")
    parser.add_argument("--language", default="es")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = wiki_data_file()
    if data is None:
        raise SystemExit("the wiki corpus is not installed: uv sync --all-extras")
    with tempfile.TemporaryDirectory(prefix="tk9-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp), use_wiki_corpus=True, max_sections=5, _env_file=None
        )  # type: ignore[call-arg]
        start = time.perf_counter()
        index = CorpusIndex(index_path(settings))
        index.sync_wiki(data)
        articles = index.count(["wiki:en-us"])
        index.close()
        index_cold = time.perf_counter() - start
        # the cold run: rebuild from scratch so the run itself pays for the index
        index_path(settings).unlink()
        log = MemoryEventLog()
        await log.open()
        cold, _, _ = await one_run(log, settings, args.subject, args.language)
        warm = []
        took: dict[str, float] = {}
        files = 0
        for _ in range(args.runs):
            elapsed, took, files = await one_run(log, settings, args.subject, args.language)
            warm.append(elapsed)
        await log.close()
    result = {
        "subject": args.subject,
        "language": args.language,
        "articles": articles,
        "sections": 5,
        "files": files,
        "index_cold_s": round(index_cold, 2),
        "run_cold_s": round(cold, 2),
        "run_warm_s": round(statistics.median(warm), 2),
        "run_warm_max_s": round(max(warm), 2),
        "agents_s": {a.value: took.get(a.value) for a in AgentName},
        "target_s": 30,
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    print(f"corpus: {articles} wiki articles; index build {result['index_cold_s']} s (cold)")
    print(f"run with cold index: {result['run_cold_s']} s")
    print(
        f"run with warm index: median {result['run_warm_s']} s, max {result['run_warm_max_s']} s "
        f"over {args.runs} runs; {files} files; target ≤ 30 s"
    )
    for agent, seconds in result["agents_s"].items():  # type: ignore[union-attr]
        print(f"  {agent:<12} {seconds} s")


if __name__ == "__main__":
    asyncio.run(main())
