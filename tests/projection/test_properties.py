"""Property tests: exactly-once application on top of at-least-once delivery.

Event logs are generated with valid payloads (``strategies.event_logs``); deliveries simulate
reconnects that resume from a stale cursor and connections that repeat events.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tk9.events import AGENTS, AgentStatus, Event
from tk9.projection import apply, fold, initial_state
from tk9.state import MAX_LOG_LINES, SessionState

from .strategies import EPOCH, event_logs

_RANK = {
    AgentStatus.PENDING: 0,
    AgentStatus.RUNNING: 1,
    AgentStatus.COMPLETED: 2,
    AgentStatus.FAILED: 2,
    AgentStatus.SKIPPED: 2,
}


def fresh() -> SessionState:
    return initial_state("s1", EPOCH, subject="subject", language="es", created_at=1.0)


def deliver(log: list[Event], data: st.DataObject) -> list[Event]:
    """An at-least-once delivery of ``log``: connections resume from any cursor at or below
    what the viewer has applied (acks lost, snapshot older than the tail), may end early, and
    may repeat single events."""
    delivered: list[Event] = []
    applied = 0
    while applied < len(log):
        start = data.draw(st.integers(min_value=0, max_value=applied), label="resume after")
        end = data.draw(st.integers(min_value=start + 1, max_value=len(log)), label="cut at")
        for event in log[start:end]:
            repeats = data.draw(st.integers(min_value=1, max_value=3), label="copies")
            delivered.extend([event] * repeats)
        applied = max(applied, end)
    return delivered


@settings(max_examples=200)
@given(log=event_logs, data=st.data())
def test_at_least_once_delivery_folds_to_the_log_state(
    log: list[Event], data: st.DataObject
) -> None:
    delivered = deliver(log, data)
    state = fresh()
    applied_seqs = []
    for event in delivered:
        new = apply(state, event)
        if new is not state:
            applied_seqs.append(event.seq)
        state = new
    assert applied_seqs == [event.seq for event in log]  # exactly once, in order
    assert state == fold(log, fresh())


@given(log=event_logs, data=st.data())
def test_applying_is_idempotent(log: list[Event], data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(log)), label="applied up to")
    state = fold(log[:cut], fresh())
    for event in log[:cut]:
        assert apply(state, event) is state
    if cut < len(log):
        once = apply(state, log[cut])
        assert apply(once, log[cut]) == once


@given(log=event_logs, data=st.data())
def test_folding_a_prefix_then_the_rest_equals_folding_all(
    log: list[Event], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(log)), label="cut")
    assert fold(log[cut:], fold(log[:cut], fresh())) == fold(log, fresh())


@given(log=event_logs)
def test_apply_never_mutates_and_keeps_invariants(log: list[Event]) -> None:
    state = fresh()
    for event in log:
        before = state.model_dump()
        new = apply(state, event)
        assert state.model_dump() == before
        assert list(new.agents) == list(AGENTS)
        assert len(new.logs) <= MAX_LOG_LINES
        keys = [(f.name, f.language) for f in new.files]
        assert len(keys) == len(set(keys))
        for name, card in new.agents.items():
            assert _RANK[card.status] >= _RANK[state.agents[name].status]
            if state.agents[name].status is not card.status and _RANK[card.status] == 2:
                assert card.finished_at == event.timestamp
        assert (new.seq, new.epoch) == (event.seq, event.epoch)
        state = new
