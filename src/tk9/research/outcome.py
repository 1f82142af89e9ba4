"""The end of a run as the terminal shows it: the outcome line, its warnings, the coverage.

Shared by ``tk9 research``; an outcome is never colour-only — each line starts with a mark
(✓ completed, ⚠ completed with warnings, ✗ anything else) and names the status in words.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tk9.events import CoveragePayload, RunStatus
from tk9.state import SessionState

MAX_SOURCES = 12
"""Sources listed under the coverage (the most relevant first); the rest are counted."""

_MARKS = {
    RunStatus.COMPLETED: ("✓", "bold green"),
    RunStatus.COMPLETED_WITH_WARNINGS: ("⚠", "bold yellow"),
}


def status_words(status: RunStatus) -> str:
    """``completed_with_warnings`` → ``completed with warnings``."""
    return status.value.replace("_", " ")


def outcome(state: SessionState) -> Group:
    """The outcome line, the warnings one per line, then the coverage (when measured)."""
    mark, style = _MARKS.get(state.status, ("✗", "bold red"))
    head = Text.assemble((f"{mark} {status_words(state.status)}", style))
    if state.status is RunStatus.COMPLETED_WITH_WARNINGS:
        count = len(state.warnings)
        head.append(f" ({count} warning{'' if count == 1 else 's'})", style)
    if state.error:
        head.append(f": {state.error}")
    parts: list[RenderableType] = [head]
    parts += [Text.assemble(("  ⚠ ", "yellow"), warning) for warning in state.warnings]
    if state.coverage is not None:
        parts.append(coverage_view(state.coverage))
    return Group(*parts)


def coverage_view(coverage: CoveragePayload) -> Group:
    """Score and summary, each key phrase covered (✓) or not (✗), sources by relevance."""
    head = Text.assemble(("Coverage ", "bold"), (f"{round(coverage.score * 100)}%", "bold"))
    if coverage.summary:
        head.append(f" — {coverage.summary}")
    parts: list[RenderableType] = [head]
    if coverage.phrases:
        line = Text("  key phrases: ")
        for index, phrase in enumerate(coverage.phrases):
            if index:
                line.append(", ")
            if phrase.covered:
                line.append(f"✓ {phrase.phrase}", "green")
            else:
                line.append(f"✗ {phrase.phrase} (not covered)", "yellow")
        parts.append(line)
    if coverage.sources:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("Source", overflow="fold", ratio=1)
        table.add_column("Relevance", justify="right", no_wrap=True)
        table.add_column("Cited", no_wrap=True)
        ranked = sorted(coverage.sources, key=lambda s: -s.relevance)
        for source in ranked[:MAX_SOURCES]:
            cited = Text("✓ cited", "green") if source.cited else Text("– not cited", "dim")
            table.add_row(source.title, f"{source.relevance:.2f}", cited)
        parts.append(table)
        if len(ranked) > MAX_SOURCES:
            parts.append(Text(f"  … and {len(ranked) - MAX_SOURCES} more sources", "dim"))
    return Group(*parts)
