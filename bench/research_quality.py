"""Benchmark: the quality of research reports over labelled subjects (issue 8, item 9).

Runs every subject of ``bench/quality_subjects.toml`` through the real pipeline, in-process,
the way ``tk9 research`` does (default engine settings forced to: extractive engine, the
default offline wiki corpus, no web search, language ``en``, every file published), on a fresh
temporary data directory, so the first run pays for the cold index. For each run it reads the
final snapshot (status, warnings, coverage) and the Markdown report, and measures:

* **source precision** — cited sources that are labelled on-topic or central / all cited
  sources (a trap or an unlabelled title counts as off-topic);
* **central recall** — central articles cited / central articles;
* **prose words** — words of the report body without the title, the note under it, headings,
  the table of contents, the reference list and citation markers;
* **outcome** — ``completed`` / ``completed_with_warnings`` / ``failed`` (and the agent that
  failed), and whether the run is **wrongly green**: plain ``completed`` although the subject
  is uncovered or a cited source is off-topic;
* **wall time** — the first run (cold index) apart, the median of the others (warm).

The metrics and the labels are pure functions in ``bench/quality_metrics.py``.

It is a benchmark, not a test: it always exits 0 once it has measured, and prints the figures
against the issue's goals. Usage::

    uv run python bench/research_quality.py [--subjects NAME ...] [--json out.json] [--markdown]
        [--reports DIR] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quality_metrics import (  # bench/ is on sys.path when this file runs as a script
    GOALS,
    Subject,
    central_recall,
    cited_titles,
    label_errors,
    load_subjects,
    off_topic,
    prose_words,
    source_precision,
    wrongly_green,
)
from tk9.events import AgentName, AgentStatus, FileGeneratedPayload, FileKind, RunStatus
from tk9.log.memory import MemoryEventLog
from tk9.projection import fold, initial_state
from tk9.research.documents import wiki_data_file, wiki_documents
from tk9.research.runner import run_research
from tk9.research.validate import validate_request
from tk9.settings import Settings

# --- running ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    subject: str
    covered: bool
    status: str
    wall_s: float
    cpu_s: float = 0.0
    """CPU time of the whole process (every thread) during the run: steadier than wall time
    on a shared host."""
    failed_agent: str | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    coverage: float | None = None
    cited: list[str] = field(default_factory=list)
    precision: float | None = None
    central_recall: float | None = None
    central_missed: list[str] = field(default_factory=list)
    traps_cited: list[str] = field(default_factory=list)
    unlabelled_cited: list[str] = field(default_factory=list)
    prose_words: int = 0
    wrongly_green: bool = False


def bench_settings(data_dir: Path) -> Settings:
    """The defaults a new user runs with; explicit so the environment cannot change them."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        engine="extractive",
        use_wiki_corpus=True,
        corpus_dir=None,
        search_provider="none",
        max_sections=Settings.model_fields["max_sections"].default,
    )


async def run_one(
    log: MemoryEventLog, settings: Settings, subject: Subject, keep: Path | None = None
) -> Result:
    name, language = validate_request(subject.name, "en")
    session_id = str(uuid.uuid4())
    info = await log.create(session_id, {"subject": name, "language": language})
    start, cpu = time.perf_counter(), time.process_time()
    await run_research(log, session_id, name, language, settings, settings.outputs_dir / session_id)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    state = fold(await log.read(session_id, 0, 1_000_000), initial_state(session_id, info.epoch))
    failed = next(
        (
            a.value
            for a, s in state.agents.items()
            if s.status == AgentStatus.FAILED and a != AgentName.ORCHESTRATOR
        ),
        None,
    )
    markdown = _report_markdown(settings.outputs_dir / session_id, state.files, subject, keep)
    cited = cited_titles(markdown)
    wrong = off_topic(cited, subject)
    return Result(
        subject=subject.name,
        covered=subject.covered,
        status=state.status.value,
        wall_s=round(wall, 2),
        cpu_s=round(cpu, 2),
        failed_agent=failed,
        error=state.error,
        warnings=list(state.warnings),
        coverage=state.coverage.score if state.coverage is not None else None,
        cited=cited,
        precision=source_precision(cited, subject),
        central_recall=central_recall(cited, subject),
        central_missed=[t for t in subject.central if t not in cited],
        traps_cited=[t for t in wrong if t in subject.traps],
        unlabelled_cited=[t for t in wrong if t not in subject.traps],
        prose_words=prose_words(markdown) if markdown else 0,
        wrongly_green=wrongly_green(state.status.value, subject, cited),
    )


def _report_markdown(
    folder: Path, files: list[FileGeneratedPayload], subject: Subject, keep: Path | None
) -> str:
    """The run's Markdown report ("" when none was published), copied to ``keep`` if set."""
    names = [f.name for f in files if f.kind == FileKind.MD]
    if not names:
        return ""
    markdown = (folder / names[-1]).read_text(encoding="utf-8")
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", subject.name.lower()).strip("-")
        (keep / f"{slug}.md").write_text(markdown, encoding="utf-8")
    return markdown


async def run_all(
    subjects: list[Subject], keep: Path | None = None, data_dir: Path | None = None
) -> list[Result]:
    """Every subject in turn, on ``data_dir`` (kept: a warm index) or a fresh temporary one."""
    results = []
    with tempfile.TemporaryDirectory(prefix="tk9-qbench-") as tmp:
        settings = bench_settings(data_dir or Path(tmp))
        log = MemoryEventLog()
        await log.open()
        try:
            for i, subject in enumerate(subjects, start=1):
                result = await run_one(log, settings, subject, keep)
                results.append(result)
                print(f"[{i}/{len(subjects)}] {_line(result)}", file=sys.stderr, flush=True)
        finally:
            await log.close()
    return results


# --- totals and output --------------------------------------------------------------------------


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 3) if present else None


def totals(results: list[Result], subjects: dict[str, Subject]) -> dict[str, Any]:
    covered = [r for r in results if r.covered]
    cited = [(set(r.cited), subjects[r.subject]) for r in covered]
    central = [(set(r.cited), subjects[r.subject].central) for r in covered]
    warm = [r.wall_s for r in results[1:] if r.covered]  # a refused run is not a warm run
    warm_cpu = [r.cpu_s for r in results[1:] if r.covered]
    return {
        "subjects": len(results),
        "covered": len(covered),
        "uncovered": len(results) - len(covered),
        "precision_micro": _ratio(
            sum(len(c & s.relevant) for c, s in cited), sum(len(c) for c, _ in cited)
        ),
        "precision_macro": _mean([r.precision for r in covered]),
        "central_recall_micro": _ratio(
            sum(len(c & set(ts)) for c, ts in central), sum(len(ts) for _, ts in central)
        ),
        "central_recall_macro": _mean([r.central_recall for r in covered]),
        "prose_words_median": statistics.median(r.prose_words for r in covered)
        if covered
        else None,
        "traps_cited": sum(len(r.traps_cited) for r in covered),
        "runs_citing_off_topic": sum(1 for r in covered if r.traps_cited or r.unlabelled_cited),
        "wrongly_green": sum(r.wrongly_green for r in results),
        "outcomes": {
            s: sum(r.status == s for r in results) for s in sorted({r.status for r in results})
        },
        "uncovered_failed_at_browser": sum(
            r.status == RunStatus.FAILED and r.failed_agent == AgentName.BROWSER
            for r in results
            if not r.covered
        ),
        "cold_s": results[0].wall_s if results else None,
        "cold_cpu_s": results[0].cpu_s if results else None,
        "warm_cpu_median_s": round(statistics.median(warm_cpu), 2) if warm_cpu else None,
        "cold_subject": results[0].subject if results else None,
        "warm_median_s": round(statistics.median(warm), 2) if warm else None,
        "warm_max_s": max(warm) if warm else None,
    }


def goal_rows(t: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) against issue 8."""
    g = GOALS
    t = {k: "–" if v is None else v for k, v in t.items()}  # shown as "–", never met
    p, r, w = t["precision_micro"], t["central_recall_micro"], t["prose_words_median"]
    cold, warm, wrong = t["cold_s"], t["warm_median_s"], t["wrongly_green"]
    return [
        (
            f"source precision ≥ {g['precision']}",
            f"{p} (macro {t['precision_macro']})",
            p != "–" and p >= g["precision"],
        ),
        (
            f"central recall ≥ {g['central_recall']}",
            f"{r} (macro {t['central_recall_macro']})",
            r != "–" and r >= g["central_recall"],
        ),
        (
            f"median prose ≥ {g['prose_words']} words",
            f"{w}",
            w != "–" and w >= g["prose_words"],
        ),
        ("0 runs wrongly plain `completed`", f"{wrong} of {t['subjects']}", wrong == 0),
        (
            f"warm run ≤ {g['warm_s']} s",
            f"{warm} s (max {t['warm_max_s']} s; CPU {t['warm_cpu_median_s']} s)",
            warm != "–" and warm <= g["warm_s"],
        ),
        (
            f"cold run ≤ {g['cold_s']} s",
            f"{cold} s (CPU {t['cold_cpu_s']} s)",
            cold != "–" and cold <= g["cold_s"],
        ),
    ]


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _line(r: Result) -> str:
    outcome = r.status + (f" at {r.failed_agent}" if r.failed_agent else "")
    flags = " WRONGLY GREEN" if r.wrongly_green else ""
    return (
        f"{r.subject}: {outcome}{flags}; {len(set(r.cited))} cited, precision {_fmt(r.precision)}, "
        f"central recall {_fmt(r.central_recall)}, {r.prose_words} words, {r.wall_s} s "
        f"(CPU {r.cpu_s} s)"
    )


def text_report(results: list[Result], t: dict[str, Any]) -> str:
    out = []
    for r in results:
        out.append(_line(r))
        if r.traps_cited:
            out.append(f"    traps cited: {', '.join(r.traps_cited)}")
        if r.unlabelled_cited:
            out.append(f"    unlabelled (off-topic) cited: {', '.join(r.unlabelled_cited)}")
        if r.central_missed and r.covered:
            out.append(f"    central not cited: {', '.join(r.central_missed)}")
        if r.error or r.warnings:
            out.append(f"    {r.error or '; '.join(r.warnings)}"[:300])
    out.append("")
    out.append(f"outcomes: {t['outcomes']}; cold run ({t['cold_subject']}) {t['cold_s']} s")
    for goal, measured, ok in goal_rows(t):
        out.append(f"{'MET ' if ok else 'NOT '} {goal:<36} {measured}")
    return "\n".join(out)


def markdown_report(results: list[Result], t: dict[str, Any]) -> str:
    out = [
        "| subject | outcome | cited | precision | central recall | prose words | coverage "
        "| wall s | CPU s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        outcome = r.status.replace("_", " ") + (f" ({r.failed_agent})" if r.failed_agent else "")
        if r.wrongly_green:
            outcome += " **wrongly green**"
        out.append(
            f"| {r.subject} | {outcome} | {len(set(r.cited))} | {_fmt(r.precision)} | "
            f"{_fmt(r.central_recall)} | {r.prose_words} | {_fmt(r.coverage)} | {r.wall_s} | "
            f"{r.cpu_s} |"
        )
    out += ["", "| goal (issue 8) | measured | |", "|---|---|---|"]
    out += [f"| {g} | {m} | {'met' if ok else 'not met'} |" for g, m, ok in goal_rows(t)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subjects", nargs="+", metavar="NAME", help="only these subjects")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write every figure as JSON")
    parser.add_argument("--markdown", action="store_true", help="print the docs tables")
    parser.add_argument("--reports", type=Path, metavar="DIR", help="keep each Markdown report")
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="reuse this data directory (warm index and embeddings) instead of a fresh one; "
        "the first run is then not a cold run",
    )
    args = parser.parse_args()
    data = wiki_data_file()
    if data is None:
        raise SystemExit("the wiki corpus is not installed: uv sync --all-extras")
    subjects = load_subjects()
    errors = label_errors(subjects, {doc.title for doc in wiki_documents(data)})
    if errors:
        raise SystemExit("labels do not match the corpus:\n  " + "\n  ".join(errors))
    if args.subjects:
        unknown = set(args.subjects) - {s.name for s in subjects}
        if unknown:
            raise SystemExit(f"unknown subjects: {', '.join(sorted(unknown))}")
        subjects = [s for s in subjects if s.name in args.subjects]
    results = asyncio.run(run_all(subjects, args.reports, args.data_dir))
    t = totals(results, {s.name: s for s in subjects})
    if args.json:
        args.json.write_text(
            json.dumps(
                {"totals": t, "goals": GOALS, "runs": [asdict(r) for r in results]},
                indent=2,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
    print(markdown_report(results, t) if args.markdown else text_report(results, t))


if __name__ == "__main__":
    main()
