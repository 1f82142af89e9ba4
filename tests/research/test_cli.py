"""``tk9 research``: exit codes, the JSON snapshot with paths on disk, the live display."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tk9.events import CoveragePayload, PhraseCoverage, RunStatus, SourceRelevance
from tk9.projection import initial_state
from tk9.research_cli import research_command


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("research")(research_command)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps "research" a named subcommand
        pass

    return app


def _env(tmp_path: Path) -> dict[str, str]:
    return {"TK9_USE_WIKI_CORPUS": "false", "TK9_DATA_DIR": str(tmp_path / "data")}


def test_json_snapshot_lists_files_with_their_paths_on_disk(
    cli: typer.Typer, corpus: Path, tmp_path: Path
) -> None:
    args = ["research", "photosynthesis", "--language", "es", "--corpus", str(corpus), "--json"]
    result = CliRunner().invoke(cli, args, env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    snapshot = json.loads(result.stdout)
    assert snapshot["status"] == "completed" and snapshot["progress"] == 100
    assert {a["status"] for a in snapshot["agents"].values()} == {"completed"}
    assert len(snapshot["files"]) == 6
    for entry in snapshot["files"]:
        disk = Path(entry["disk_path"])
        assert disk.is_file() and disk.stat().st_size == entry["size_bytes"]
        assert disk.parent == (tmp_path / "data" / "outputs" / snapshot["session_id"]).resolve()


def test_a_language_that_stays_english_is_announced_before_the_run(
    cli: typer.Typer, corpus: Path, tmp_path: Path
) -> None:
    args = ["research", "photosynthesis", "--language", "fr", "--corpus", str(corpus), "--json"]
    result = CliRunner().invoke(cli, args, env=_env(tmp_path))
    assert result.stderr.startswith(
        "warning: No offline translator for French (fr): the report will be in English only."
    )
    snapshot = json.loads(result.stdout)
    assert snapshot["status"] == "completed_with_warnings"
    assert {f["language"] for f in snapshot["files"]} == {"en"}
    assert snapshot["warnings"][-1].startswith("No offline translator for French (fr)")


def test_live_display_then_the_files(cli: typer.Typer, corpus: Path, tmp_path: Path) -> None:
    args = ["research", "chlorophyll", "--corpus", str(corpus), "--sections", "2"]
    result = CliRunner().invoke(cli, args, env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    for agent in ("Orchestrator", "Browser", "Editor", "Researcher", "Writer", "Publisher"):
        assert agent in result.output
    assert "chlorophyll.pdf" in result.output and "chlorophyll.docx" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["research", "ab"], "at least 3"),
        (["research", "photosynthesis", "--language", "zz"], "unknown language code"),
    ],
)
def test_bad_input_exits_2_before_any_work(
    cli: typer.Typer, corpus: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    result = CliRunner().invoke(cli, [*args, "--corpus", str(corpus)], env=_env(tmp_path))
    assert result.exit_code == 2 and needle in result.output
    assert not (tmp_path / "data").exists()


def test_empty_corpus_exits_2(cli: typer.Typer, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(
        cli, ["research", "photosynthesis", "--corpus", str(empty)], env=_env(tmp_path)
    )
    assert result.exit_code == 2 and "holds no" in result.output


def test_failed_run_exits_1_with_the_error(cli: typer.Typer, corpus: Path, tmp_path: Path) -> None:
    args = ["research", "quantum chromodynamics", "--corpus", str(corpus)]
    result = CliRunner().invoke(cli, args, env=_env(tmp_path))
    assert result.exit_code == 1 and "holds nothing about" in result.output


def _finished(status: RunStatus, warnings: list[str], coverage: CoveragePayload | None) -> Any:
    """A stand-in for the run: the snapshot it would end with."""

    async def fake(settings: Any, subject: str, language: str, console: Any, live: bool) -> Any:
        state = initial_state("3f2a9c1e-7b4d-4e8a-9c61-0d5e2b7a4f10", "e", subject, language)
        return state.model_copy(
            update={"status": status, "progress": 100, "warnings": warnings, "coverage": coverage}
        )

    return fake


COVERAGE = CoveragePayload(
    score=0.5,
    phrases=[
        PhraseCoverage(phrase="photosynthesis", score=0.9, covered=True),
        PhraseCoverage(phrase="deep sea vents", score=0.0, covered=False),
    ],
    sources=[
        SourceRelevance(title="Photosynthesis", uri="file:///p.md", relevance=0.92, cited=True),
        SourceRelevance(title="Chlorophyll", uri="file:///c.md", relevance=0.41, cited=False),
    ],
    summary="The sources cover 1 of 2 key phrases",
)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (RunStatus.COMPLETED, 0),
        (RunStatus.FAILED, 1),
        (RunStatus.CANCELLED, 1),
        (RunStatus.COMPLETED_WITH_WARNINGS, 3),
    ],
)
def test_exit_code_per_outcome(
    cli: typer.Typer,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    status: RunStatus,
    code: int,
) -> None:
    warnings = ["only part"] if status is RunStatus.COMPLETED_WITH_WARNINGS else []
    monkeypatch.setattr("tk9.research_cli._research", _finished(status, warnings, None))
    args = ["research", "photosynthesis", "--corpus", str(corpus), "--json"]
    result = CliRunner().invoke(cli, args, env=_env(tmp_path))
    assert result.exit_code == code, result.output
    assert json.loads(result.stdout)["status"] == status.value


def test_warnings_and_coverage_are_printed(
    cli: typer.Typer, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings = ["The sources do not cover “deep sea vents”", "No translator for vi: English"]
    fake = _finished(RunStatus.COMPLETED_WITH_WARNINGS, warnings, COVERAGE)
    monkeypatch.setattr("tk9.research_cli._research", fake)
    args = ["research", "photosynthesis near deep sea vents", "--corpus", str(corpus)]
    result = CliRunner().invoke(cli, args, env={**_env(tmp_path), "COLUMNS": "160"})
    assert result.exit_code == 3, result.output
    out = result.output
    assert "⚠ completed with warnings (2 warnings)" in out
    for warning in warnings:
        assert f"⚠ {warning}" in out
    assert "Coverage 50% — The sources cover 1 of 2 key phrases" in out
    assert "✓ photosynthesis" in out and "✗ deep sea vents (not covered)" in out
    lines = out.splitlines()
    photo = next(line for line in lines if line.startswith("Photosynthesis"))
    chloro = next(line for line in lines if line.startswith("Chlorophyll"))
    assert "0.92" in photo and "✓ cited" in photo
    assert "0.41" in chloro and "not cited" in chloro
    assert lines.index(photo) < lines.index(chloro)  # most relevant first


def test_a_plain_completed_run_says_so_without_warnings(
    cli: typer.Typer, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tk9.research_cli._research", _finished(RunStatus.COMPLETED, [], None))
    result = CliRunner().invoke(
        cli, ["research", "photosynthesis", "--corpus", str(corpus)], env=_env(tmp_path)
    )
    assert result.exit_code == 0 and "✓ completed" in result.output
    assert "warning" not in result.output
