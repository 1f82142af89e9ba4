"""The invariant checked after every fault, per viewer:

* the applied seq list equals the log's seq list — no gap, no duplicate, in order (after a
  reset, the list restarts right after the snapshot's seq);
* the viewer's final state (its own fold) equals the snapshot endpoint's.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.faults.harness.viewers import Viewer
from tk9.state import SessionState


@dataclass
class Truth:
    """What the server's log and snapshot say, read directly (not through the proxy)."""

    seqs: list[int]
    snapshot: SessionState


async def read_truth(server_url: str, session_id: str) -> Truth:
    seqs: list[int] = []
    async with httpx.AsyncClient(base_url=server_url, timeout=10) as http:
        after = 0
        while True:
            page = (
                await http.get(
                    f"/api/sessions/{session_id}/events", params={"after": after, "limit": 1000}
                )
            ).json()
            if not page["events"]:
                break
            seqs += [e["seq"] for e in page["events"]]
            after = seqs[-1]
        snap = SessionState.model_validate((await http.get(f"/api/sessions/{session_id}")).json())
    return Truth(seqs=seqs, snapshot=snap)


def check_viewer(viewer: Viewer, truth: Truth) -> list[str]:
    """Every way ``viewer`` broke the invariant (empty: it holds)."""
    problems: list[str] = []
    if viewer.error is not None:
        problems.append(f"{viewer.name}: follower failed: {viewer.error!r}")
    log = truth.seqs
    for start, seqs in viewer.segments:
        expected = [s for s in log if s > start][: len(seqs)]
        if seqs != expected:
            bad = next(
                (i for i, (a, b) in enumerate(zip(seqs, expected, strict=False)) if a != b),
                min(len(seqs), len(expected)),
            )
            problems.append(
                f"{viewer.name}: after cursor {start} applied {seqs[max(0, bad - 2) : bad + 3]} "
                f"where the log has {expected[max(0, bad - 2) : bad + 3]}"
            )
    if viewer.last_seq != (log[-1] if log else 0):
        problems.append(f"{viewer.name}: ended at seq {viewer.last_seq}, log head {log[-1]}")
    # subject, language and created_at are stream metadata (the dashboard reads them from the
    # snapshot it loads first); everything else must come out of the events alone.
    meta = {k: getattr(truth.snapshot, k) for k in ("subject", "language", "created_at")}
    mine = viewer.state.model_copy(update=meta).model_dump() if viewer.state else None
    if mine != truth.snapshot.model_dump():
        problems.append(f"{viewer.name}: final state differs from GET snapshot")
    return problems
