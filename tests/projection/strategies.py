"""Hypothesis strategies for valid event streams (payloads built from the models in tk9.events)."""

from __future__ import annotations

from hypothesis import strategies as st

from tk9.events import (
    AgentName,
    AgentStatus,
    AgentUpdatePayload,
    CoveragePayload,
    ErrorPayload,
    Event,
    FileGeneratedPayload,
    FileKind,
    LogLevel,
    LogPayload,
    Payload,
    PhraseCoverage,
    ResearchStatusPayload,
    RunStatus,
    SourceRelevance,
    event_type_of,
)

EPOCH = "epoch-1"
T0 = 1_700_000_000.0

_text = st.text(alphabet="abc xyz-", max_size=8)
_progress = st.integers(min_value=0, max_value=100)
_agent = st.sampled_from(list(AgentName))
_maybe_agent = st.none() | _agent

research_status: st.SearchStrategy[Payload] = st.builds(
    ResearchStatusPayload,
    status=st.sampled_from(list(RunStatus)),
    progress=_progress,
    stage=_text,
    error=st.none() | _text,
    warnings=st.lists(_text, max_size=3),
)
agent_update: st.SearchStrategy[Payload] = st.builds(
    AgentUpdatePayload,
    agent=_agent,
    status=st.sampled_from(list(AgentStatus)),
    progress=_progress,
    message=_text,
)
file_generated: st.SearchStrategy[Payload] = st.builds(
    FileGeneratedPayload,
    # few names and languages, so re-announcements (same name and language) are common
    name=st.sampled_from(["report.md", "report.pdf", "report.docx", "notes.md"]),
    kind=st.sampled_from(list(FileKind)),
    language=st.sampled_from(["en", "es"]),
    size_bytes=st.integers(min_value=0, max_value=10**9),
    sha256=st.sampled_from(["0" * 64, "a" * 64, "0123456789abcdef" * 4]),
    path=st.just("/api/sessions/s/files/report.md"),
)
log: st.SearchStrategy[Payload] = st.builds(
    LogPayload, level=st.sampled_from(list(LogLevel)), message=_text, agent=_maybe_agent
)
error: st.SearchStrategy[Payload] = st.builds(
    ErrorPayload, code=st.sampled_from(["boom", "timeout"]), message=_text, agent=_maybe_agent
)
_fraction = st.sampled_from([0.0, 0.25, 0.5, 1.0])
coverage: st.SearchStrategy[Payload] = st.builds(
    CoveragePayload,
    score=_fraction,
    phrases=st.lists(
        st.builds(PhraseCoverage, phrase=_text, score=_fraction, covered=st.booleans()),
        max_size=3,
    ),
    sources=st.lists(
        st.builds(
            SourceRelevance,
            title=_text,
            uri=st.sampled_from(["wiki:a", "https://example.org/b"]),
            relevance=_fraction,
            cited=st.booleans(),
        ),
        max_size=3,
    ),
    summary=_text,
)

payloads: st.SearchStrategy[Payload] = st.one_of(
    research_status, agent_update, agent_update, file_generated, log, error, coverage
)


def make_log(items: list[tuple[Payload, float]], epoch: str = EPOCH) -> list[Event]:
    """Number payloads from seq 1 with non-decreasing timestamps (``T0`` + running sum)."""
    events = []
    now = T0
    for seq, (payload, delta) in enumerate(items, start=1):
        now += delta
        events.append(
            Event(
                seq=seq,
                epoch=epoch,
                timestamp=now,
                event_type=event_type_of(payload),
                payload=payload.model_dump(mode="json"),
            )
        )
    return events


event_logs: st.SearchStrategy[list[Event]] = st.lists(
    st.tuples(payloads, st.sampled_from([0.0, 0.25, 1.5])), max_size=40
).map(make_log)
"""A session's whole event log: seq 1..n, one epoch, valid payloads."""
