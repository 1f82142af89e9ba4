"""One test (or a few) per projection rule: stream rules first, then each event type."""

from __future__ import annotations

import pytest

from tk9.errors import EpochMismatch, GapError, InvalidInput
from tk9.events import (
    AGENTS,
    AgentName,
    AgentStatus,
    AgentUpdatePayload,
    ErrorPayload,
    Event,
    FileGeneratedPayload,
    FileKind,
    LogLevel,
    LogPayload,
    Payload,
    ResearchStatusPayload,
    RunStatus,
    event_type_of,
)
from tk9.projection import apply, fold, initial_state, project
from tk9.state import MAX_LOG_LINES, SessionState

EPOCH = "epoch-1"
A = AgentName
S = AgentStatus


def ev(seq: int, payload: Payload, epoch: str = EPOCH, ts: float | None = None) -> Event:
    return Event(
        seq=seq,
        epoch=epoch,
        timestamp=float(seq) * 10 if ts is None else ts,
        event_type=event_type_of(payload),
        payload=payload.model_dump(mode="json"),
    )


def agent(name: AgentName, status: AgentStatus, progress: int = 0, msg: str = "") -> Payload:
    return AgentUpdatePayload(agent=name, status=status, progress=progress, message=msg)


def status(run: RunStatus, progress: int = 0, stage: str = "", err: str | None = None) -> Payload:
    return ResearchStatusPayload(status=run, progress=progress, stage=stage, error=err)


def file(name: str, language: str = "en", sha: str = "0" * 64) -> Payload:
    kind = FileKind(name.rsplit(".", 1)[1])
    return FileGeneratedPayload(
        name=name, kind=kind, language=language, size_bytes=1, sha256=sha, path=f"/f/{name}"
    )


def run(*payloads: Payload, state: SessionState | None = None) -> SessionState:
    """Fold payloads numbered from ``state.seq + 1``."""
    start = state or initial_state("s1", EPOCH)
    events = [ev(start.seq + i, p) for i, p in enumerate(payloads, start=1)]
    return fold(events, start)


# --- initial state and project -------------------------------------------------------------


def test_initial_state_has_all_seven_agents_pending() -> None:
    state = initial_state("s1", EPOCH, subject="x", language="es", created_at=5.0)
    assert list(state.agents) == list(AGENTS)
    assert all(a.status is S.PENDING and a.progress == 0 for a in state.agents.values())
    assert (state.session_id, state.epoch, state.seq) == ("s1", EPOCH, 0)
    assert (state.subject, state.language, state.created_at) == ("x", "es", 5.0)
    assert state.status is RunStatus.PENDING and state.files == [] and state.logs == []


def test_project_reads_subject_language_created_at_from_meta() -> None:
    events = [ev(1, status(RunStatus.RUNNING, 5))]
    meta = {"subject": "tides", "language": "fr", "created_at": 12.5, "other": 1}
    state = project("s9", EPOCH, events, meta)
    assert (state.session_id, state.subject, state.language, state.created_at) == (
        "s9",
        "tides",
        "fr",
        12.5,
    )
    assert state.status is RunStatus.RUNNING and state.seq == 1


def test_project_with_empty_meta_uses_defaults() -> None:
    state = project("s9", EPOCH, [], {})
    assert state == initial_state("s9", EPOCH)


# --- stream rules --------------------------------------------------------------------------


def test_duplicate_returns_the_same_state_object() -> None:
    state = run(status(RunStatus.RUNNING, 5), agent(A.BROWSER, S.RUNNING, 10))
    assert apply(state, ev(1, status(RunStatus.FAILED, 99))) is state
    assert apply(state, ev(2, agent(A.BROWSER, S.COMPLETED))) is state


def test_gap_raises_with_expected_and_got_and_changes_nothing() -> None:
    state = run(status(RunStatus.RUNNING, 5))
    before = state.model_dump()
    with pytest.raises(GapError) as info:
        apply(state, ev(3, status(RunStatus.RUNNING, 50)))
    assert (info.value.expected, info.value.got) == (2, 3)
    assert info.value.code == "gap" and info.value.retryable
    assert state.model_dump() == before


def test_first_event_must_be_seq_one() -> None:
    with pytest.raises(GapError):
        apply(initial_state("s1", EPOCH), ev(2, status(RunStatus.RUNNING)))


def test_event_of_another_epoch_raises_even_with_an_old_seq() -> None:
    state = run(status(RunStatus.RUNNING), status(RunStatus.RUNNING, 10))
    for seq in (1, 3):
        with pytest.raises(EpochMismatch) as info:
            apply(state, ev(seq, status(RunStatus.RUNNING), epoch="epoch-2"))
        assert (info.value.expected, info.value.got) == (EPOCH, "epoch-2")


def test_empty_epoch_adopts_the_first_events_epoch() -> None:
    state = apply(initial_state("s1", ""), ev(1, status(RunStatus.RUNNING), epoch="e7"))
    assert state.epoch == "e7"
    with pytest.raises(EpochMismatch):
        apply(state, ev(2, status(RunStatus.RUNNING), epoch="e8"))


def test_invalid_payload_raises_invalid_input_and_changes_nothing() -> None:
    state = initial_state("s1", EPOCH)
    bad = Event(
        seq=1,
        epoch=EPOCH,
        timestamp=1.0,
        event_type="agent_update",
        payload={"agent": "Nobody", "status": "running"},
    )
    with pytest.raises(InvalidInput):
        apply(state, bad)
    assert state == initial_state("s1", EPOCH)


def test_seq_and_epoch_follow_every_applied_event() -> None:
    state = run(status(RunStatus.RUNNING), LogPayload(message="hi"))
    assert (state.seq, state.epoch) == (2, EPOCH)


def test_apply_does_not_mutate_its_input() -> None:
    state = run(agent(A.EDITOR, S.RUNNING), file("a.md"), LogPayload(message="x"))
    before = state.model_dump()
    for payload in (agent(A.EDITOR, S.COMPLETED), file("b.md"), LogPayload(message="y")):
        apply(state, ev(4, payload))
    assert state.model_dump() == before


# --- research_status -----------------------------------------------------------------------


def test_research_status_sets_status_progress_stage() -> None:
    state = run(status(RunStatus.RUNNING, 40, "writing"))
    assert (state.status, state.progress, state.stage, state.error) == (
        RunStatus.RUNNING,
        40,
        "writing",
        None,
    )


def test_research_status_error_is_kept_on_terminal_and_cleared_when_running_again() -> None:
    failed = run(status(RunStatus.FAILED, 40, "research", err="Researcher: boom"))
    assert failed.error == "Researcher: boom"
    still_failed = run(status(RunStatus.FAILED, 40, "research"), state=failed)
    assert still_failed.error == "Researcher: boom"
    resumed = run(status(RunStatus.RUNNING, 40, "research"), state=failed)
    assert resumed.error is None
    replaced = run(status(RunStatus.INTERRUPTED, 40, err="restart"), state=failed)
    assert replaced.error == "restart"


# --- agent_update --------------------------------------------------------------------------


def test_agent_running_sets_started_at_once_and_progress_updates_apply() -> None:
    state = run(
        agent(A.RESEARCHER, S.RUNNING, 0, "start"),
        agent(A.RESEARCHER, S.RUNNING, 30, "section 1"),
        agent(A.RESEARCHER, S.RUNNING, 20, "section 2"),
    )
    card = state.agents[A.RESEARCHER]
    assert (card.status, card.progress, card.message) == (S.RUNNING, 20, "section 2")
    assert card.started_at == 10.0 and card.finished_at is None


def test_completed_agent_gets_progress_100_and_finished_at() -> None:
    state = run(agent(A.WRITER, S.RUNNING, 10), agent(A.WRITER, S.COMPLETED, 70, "done"))
    card = state.agents[A.WRITER]
    assert (card.status, card.progress, card.message) == (S.COMPLETED, 100, "done")
    assert (card.started_at, card.finished_at) == (10.0, 20.0)


@pytest.mark.parametrize("final", [S.FAILED, S.SKIPPED])
def test_failed_and_skipped_keep_the_given_progress(final: AgentStatus) -> None:
    state = run(agent(A.EDITOR, S.RUNNING, 10), agent(A.EDITOR, final, 35, "why"))
    card = state.agents[A.EDITOR]
    assert (card.status, card.progress, card.finished_at) == (final, 35, 20.0)


def test_skipped_without_running_has_no_started_at() -> None:
    card = run(agent(A.TRANSLATOR, S.SKIPPED, 0, "same language")).agents[A.TRANSLATOR]
    assert (card.status, card.started_at, card.finished_at) == (S.SKIPPED, None, 10.0)


@pytest.mark.parametrize("final", [S.COMPLETED, S.FAILED, S.SKIPPED])
@pytest.mark.parametrize("later", list(AgentStatus))
def test_final_agent_is_frozen(final: AgentStatus, later: AgentStatus) -> None:
    state = run(agent(A.BROWSER, S.RUNNING, 10, "a"), agent(A.BROWSER, final, 50, "b"))
    after = run(agent(A.BROWSER, later, 5, "stale"), state=state)
    assert after.agents == state.agents
    assert after.seq == state.seq + 1


def test_running_agent_is_not_moved_back_to_pending() -> None:
    state = run(agent(A.EDITOR, S.RUNNING, 40, "outlining"))
    after = run(agent(A.EDITOR, S.PENDING, 0, "waiting"), state=state)
    assert after.agents[A.EDITOR] == state.agents[A.EDITOR]


def test_pending_update_on_pending_agent_applies() -> None:
    card = run(agent(A.WRITER, S.PENDING, 0, "queued")).agents[A.WRITER]
    assert (card.status, card.message, card.started_at) == (S.PENDING, "queued", None)


def test_agent_update_touches_only_its_agent() -> None:
    state = run(agent(A.PUBLISHER, S.RUNNING, 10))
    others = {n: a for n, a in state.agents.items() if n is not A.PUBLISHER}
    assert others == {n: a for n, a in initial_state("s1", EPOCH).agents.items() if n in others}


# --- file_generated ------------------------------------------------------------------------


def test_files_are_appended_in_order() -> None:
    state = run(file("r.md"), file("r.pdf"), file("r.es.md", "es"))
    assert [(f.name, f.language) for f in state.files] == [
        ("r.md", "en"),
        ("r.pdf", "en"),
        ("r.es.md", "es"),
    ]


def test_reannounced_file_replaces_its_entry_in_place() -> None:
    state = run(file("r.md"), file("r.pdf"), file("r.md", sha="a" * 64), file("r.md"))
    assert [f.name for f in state.files] == ["r.md", "r.pdf"]
    assert state.files[0].sha256 == "0" * 64
    state = run(file("r.md", sha="b" * 64), state=state)
    assert [(f.name, f.sha256) for f in state.files] == [("r.md", "b" * 64), ("r.pdf", "0" * 64)]


def test_same_name_in_another_language_is_a_separate_file() -> None:
    state = run(file("r.md", "en"), file("r.md", "es"))
    assert [(f.name, f.language) for f in state.files] == [("r.md", "en"), ("r.md", "es")]


# --- log and error -------------------------------------------------------------------------


def test_log_becomes_a_log_line() -> None:
    state = run(LogPayload(level=LogLevel.WARNING, message="slow source", agent=A.BROWSER))
    line = state.logs[-1]
    assert (line.seq, line.timestamp, line.level, line.message, line.agent) == (
        1,
        10.0,
        LogLevel.WARNING,
        "slow source",
        A.BROWSER,
    )


def test_error_becomes_an_error_line_and_does_not_change_the_run_status() -> None:
    state = run(status(RunStatus.RUNNING, 30, "research"))
    after = run(ErrorPayload(code="timeout", message="source 3", agent=A.RESEARCHER), state=state)
    line = after.logs[-1]
    assert (line.level, line.message, line.agent) == (
        LogLevel.ERROR,
        "timeout: source 3",
        A.RESEARCHER,
    )
    assert (after.status, after.progress, after.stage, after.error) == (
        RunStatus.RUNNING,
        30,
        "research",
        None,
    )
    assert after.agents == state.agents


def test_only_the_last_max_log_lines_are_kept() -> None:
    lines = [LogPayload(message=f"line {i}") for i in range(MAX_LOG_LINES + 7)]
    state = run(*lines)
    assert len(state.logs) == MAX_LOG_LINES
    assert state.logs[0].message == "line 7"
    assert state.logs[-1].message == f"line {MAX_LOG_LINES + 6}"
    assert [line.seq for line in state.logs] == list(range(8, MAX_LOG_LINES + 8))
