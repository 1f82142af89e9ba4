"""The shared projection fixtures: each replays through ``fold``, matches hand-checked facts,
and equals what ``scripts/export_fixtures.py`` generates (so drift fails the build)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tk9.errors import EpochMismatch, GapError
from tk9.events import EVENT_LIST, AgentName, AgentStatus, RunStatus
from tk9.projection import apply, fold
from tk9.state import MAX_LOG_LINES, SessionState

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "projection"
FIXTURES = sorted(FIXTURE_DIR.glob("*.json"))
ERRORS: dict[str, type[Exception]] = {"gap": GapError, "epoch_mismatch": EpochMismatch}
A = AgentName
S = AgentStatus


def load_exporter() -> ModuleType:
    path = ROOT / "scripts" / "export_fixtures.py"
    spec = importlib.util.spec_from_file_location("tk9_export_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURE_DIR / f"{name}.json").read_text("utf-8"))
    return data


def expected(name: str) -> SessionState:
    return SessionState.model_validate(load(name)["expected"])


def test_every_required_scenario_is_present() -> None:
    names = {path.stem for path in FIXTURES}
    assert names >= {
        "agent_work",
        "full_run",
        "failed_run",
        "cancelled_run",
        "translator_skipped",
        "completed_with_warnings",
        "coverage_replaced",
        "duplicates_interleaved",
        "file_reannounced",
        "log_truncation",
        "regressive_update_ignored",
        "gap",
    }


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_replays_to_expected(path: Path) -> None:
    data = json.loads(path.read_text("utf-8"))
    assert data["name"] == path.stem and data["description"]
    initial = SessionState.model_validate(data["initial"])
    events = EVENT_LIST.validate_python(data["events"])
    want = SessionState.model_validate(data["expected"])
    if "expected_error" not in data:
        assert set(data) == {"name", "description", "initial", "events", "expected"}
        assert fold(events, initial) == want
        return
    at = data["error_at"]
    state = fold(events[:at], initial)
    assert state == want
    with pytest.raises(ERRORS[data["expected_error"]]):
        apply(state, events[at])


def test_committed_fixtures_equal_the_exporter_output(tmp_path: Path) -> None:
    exporter = load_exporter()
    exporter.export(tmp_path)
    fresh = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    committed = {p.name: p.read_bytes() for p in FIXTURES}
    assert sorted(fresh) == sorted(committed), "fixture set drifted: run export_fixtures.py"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale fixtures {stale}: run `uv run python scripts/export_fixtures.py`"
    assert exporter.main(["--check", "--out", str(tmp_path)]) == 0


def test_exporter_check_reports_a_changed_file(tmp_path: Path) -> None:
    exporter = load_exporter()
    exporter.export(tmp_path)
    (tmp_path / "gap.json").write_text("{}\n", encoding="utf-8")
    assert exporter.stale(tmp_path) == ["gap.json"]


# --- hand-checked facts about the expected states (independent of the fold's code) ---------


def test_full_run_facts() -> None:
    state = expected("full_run")
    assert state.status is RunStatus.COMPLETED and state.progress == 100 and state.error is None
    assert all(a.status is S.COMPLETED and a.progress == 100 for a in state.agents.values())
    assert all(
        a.started_at is not None and a.finished_at is not None for a in state.agents.values()
    )
    assert [(f.name, f.language) for f in state.files] == [
        ("report.md", "en"),
        ("report.pdf", "en"),
        ("report.docx", "en"),
        ("report.es.md", "es"),
        ("report.es.pdf", "es"),
        ("report.es.docx", "es"),
    ]


def test_failed_run_facts() -> None:
    state = expected("failed_run")
    assert state.status is RunStatus.FAILED and state.error
    assert state.agents[A.RESEARCHER].status is S.FAILED
    assert state.agents[A.BROWSER].status is S.COMPLETED
    for agent in (A.WRITER, A.PUBLISHER, A.TRANSLATOR):
        assert state.agents[agent].status is S.SKIPPED
        assert state.agents[agent].started_at is None
    assert state.files == []
    assert any(
        line.level == "error" and line.message.startswith("research_failed: ")
        for line in state.logs
    )


def test_cancelled_run_facts() -> None:
    state = expected("cancelled_run")
    assert state.status is RunStatus.CANCELLED
    assert all(a.status is not S.RUNNING for a in state.agents.values())


def test_translator_skipped_facts() -> None:
    state = expected("translator_skipped")
    assert state.status is RunStatus.COMPLETED and state.language == "en"
    assert state.agents[A.TRANSLATOR].status is S.SKIPPED
    assert [f.language for f in state.files] == ["en", "en", "en"]


def test_completed_with_warnings_facts() -> None:
    state = expected("completed_with_warnings")
    assert state.status is RunStatus.COMPLETED_WITH_WARNINGS and state.progress == 100
    assert state.error is None and len(state.warnings) == 2
    assert "1 of 3 key phrases" in state.warnings[0] and "translator" in state.warnings[1]
    warned = [line.message for line in state.logs if line.level == "warning"]
    assert warned == state.warnings  # each was logged when it arose
    assert state.coverage is not None and state.coverage.score == 0.375
    assert [(p.phrase, p.covered) for p in state.coverage.phrases] == [
        ("heat pumps", True),
        ("cold climates", False),
        ("defrost cycles", False),
    ]
    assert [(s.title, s.cited) for s in state.coverage.sources] == [
        ("Heat pump", True),
        ("Climate", True),
        ("Pump", False),
    ]
    assert state.agents[A.TRANSLATOR].status is S.SKIPPED
    assert {f.language for f in state.files} == {"en"}


def test_coverage_replaced_facts() -> None:
    data = load("coverage_replaced")
    coverage = [e["payload"] for e in data["events"] if e["event_type"] == "coverage"]
    assert len(coverage) == 2
    state = expected("coverage_replaced")
    assert state.coverage is not None
    assert state.coverage.model_dump(mode="json") == coverage[-1]
    assert [s.title for s in state.coverage.sources] == ["Heat pump", "Cold climate"]
    assert state.status is RunStatus.COMPLETED and state.warnings == []


def test_duplicates_interleaved_equals_the_log_without_duplicates() -> None:
    data = load("duplicates_interleaved")
    seqs = [event["seq"] for event in data["events"]]
    assert len(seqs) > len(set(seqs))
    assert expected("duplicates_interleaved") == expected("translator_skipped")


def test_file_reannounced_facts() -> None:
    state = expected("file_reannounced")
    assert [f.name for f in state.files] == ["report.md", "report.pdf", "report.docx"]
    announced = [
        e["payload"]
        for e in load("file_reannounced")["events"]
        if e["event_type"] == "file_generated"
    ]
    last_pdf = [p for p in announced if p["name"] == "report.pdf"][-1]
    assert state.files[1].sha256 == last_pdf["sha256"]


def test_log_truncation_facts() -> None:
    data = load("log_truncation")
    lines = sum(e["event_type"] in ("log", "error") for e in data["events"])
    assert lines > MAX_LOG_LINES
    state = expected("log_truncation")
    assert len(state.logs) == MAX_LOG_LINES
    assert state.logs[-1].seq == max(e["seq"] for e in data["events"] if e["event_type"] == "log")


def test_regressive_update_facts() -> None:
    state = expected("regressive_update_ignored")
    assert state.agents[A.BROWSER].status is S.COMPLETED
    assert state.agents[A.BROWSER].message == "read 6 sources"
    assert state.agents[A.EDITOR].status is S.RUNNING and state.agents[A.EDITOR].progress == 70
    assert state.agents[A.RESEARCHER].status is S.SKIPPED


def test_gap_fixture_facts() -> None:
    data = load("gap")
    assert data["expected_error"] == "gap"
    at = data["error_at"]
    assert data["events"][at]["seq"] > data["events"][at - 1]["seq"] + 1
