"""The report's appendix "How this report was made": the seven agents' timeline.

Every time in it is read from the run's own projection (:class:`~tk9.state.SessionState`, the
``started_at``/``finished_at`` the projection takes from the timestamps of the log's
``agent_update`` events), never measured or guessed apart from the log, so the appendix says
what the session page's timeline says. A file is written while the run is still going (the
Publisher writes the report, then the Translator its translation), so the appendix describes
the run *as of when that file was written*: the agent writing it is "running", later ones
"not started yet". The list form (not a table) renders the same in Markdown, PDF and DOCX.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tk9.events import AGENTS, AgentName, AgentStatus
from tk9.state import AgentState, SessionState

HEADING = "How this report was made"


def timeline_markdown(state: SessionState, writer: AgentName) -> str:
    """The appendix for a file that ``writer`` (the Publisher or Translator) is writing now.

    Times are seconds after the run started (the earliest ``started_at``), to 0.1 s.
    """
    starts = [a.started_at for a in state.agents.values() if a.started_at is not None]
    lines = [f"## {HEADING}", ""]
    if not starts:
        return "\n".join([*lines, "_No agent had started when this file was written._", ""])
    origin = min(starts)
    clock = datetime.fromtimestamp(origin, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines += [
        f"The seven agents of this run, from its event log, as of when the {writer.value} "
        f"wrote this file. The run started at {clock}; times are seconds after that.",
        "",
    ]
    lines += [f"- {_line(name, state.agents[name], origin, writer)}" for name in AGENTS]
    return "\n".join(lines) + "\n"


def _line(name: AgentName, agent: AgentState, origin: float, writer: AgentName) -> str:
    start, end = agent.started_at, agent.finished_at
    label = f"**{name.value}**"
    if agent.status is AgentStatus.PENDING:
        return f"{label}: not started yet"
    if agent.status is AgentStatus.RUNNING:
        doing = " (writing this file)" if name is writer else ""
        since = f" since {_at(start, origin)}" if start is not None else ""
        return f"{label}: running{since}{doing}"
    if start is None or end is None:  # skipped (or failed) without having run
        return f"{label}: {agent.status.value}" + (
            f" at {_at(end, origin)}" if end is not None else ""
        )
    took = max(0.0, end - start)
    return (
        f"{label}: {agent.status.value}, {_at(start, origin)} → {_at(end, origin)} "
        f"(took {took:.1f} s)"
    )


def _at(timestamp: float, origin: float) -> str:
    return f"{max(0.0, timestamp - origin):.1f} s"
