"""The per-scenario summary table, printed at the end of the run and written to
``docs/faults.md`` when ``TK9_FAULTS_REPORT`` names that file (``make faults`` does)."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Row:
    scenario: str
    fault: str
    events: int
    viewers: int
    resumes: int
    resets: int
    violations: int
    catch_up: float | None
    """Worst time from the end of the fault until a viewer had every event appended so far."""
    seconds: float


NOTES = """
Notes on reading the table:

- *resumes* counts every connection a viewer opened after its first, including attempts that
  failed while the server or proxy was down (F6, F7: the client retries with a backoff capped
  at 0.5 s in these tests, so a 1-2 s restart shows a few tens). For F9 (Chromium) it is the number
  of forced reconnects (reload, proxy restart); the page's own count is not read.
- *resets* are explicit snapshot resets; only forged cursors (F11) should cause them.
- F2-default runs with the production timings (ping every 15 s, 10 s to answer) and records
  how long a WebSocket viewer took to notice a silent black hole. The client presumes a
  connection dead after 2.5 heartbeat intervals without a frame (37.5 s), so this is above the
  30 s goal; see the report of issue 5 for the proposed change.
- Worst catch-up after F2 and F5 is about 1.4 s: when the link heals, a viewer's reconnect may
  be waiting in nginx's connect to the upstream, whose lost SYN TCP retransmits after 1 s. It is
  measured from the moment the fault is lifted until every viewer held every event appended
  before then.
- Packet loss (F5) uses iptables' `statistic --mode random` in the server's namespace: the
  kernel's randomness cannot be seeded, so the event counts repeat but the drops do not.
"""


def _order(row: Row) -> tuple[int, str]:
    digits = "".join(c for c in row.scenario.split()[0] if c.isdigit())
    return (int(digits) if digits else 99, row.scenario)


class Summary:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def table(self) -> str:
        head = (
            "| scenario | fault | events | viewers | resumes | resets | violations "
            "| worst catch-up | run time |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
        )
        lines = [head]
        for r in sorted(self.rows, key=_order):
            cu = "—" if r.catch_up is None else f"{r.catch_up * 1000:.0f} ms"
            lines.append(
                f"| {r.scenario} | {r.fault} | {r.events} | {r.viewers} | {r.resumes} "
                f"| {r.resets} | {r.violations} | {cu} | {r.seconds:.1f} s |"
            )
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        intro = (
            "# Fault matrix results\n\n"
            "Written by `make faults` (`tests/faults/`), one row per scenario: tk9 in its own\n"
            "network namespace behind the real nginx (`deploy/nginx.conf`), Python followers\n"
            "(`tk9.client.SessionFollower`) on the other side. *violations* counts viewers whose\n"
            "applied seq list differs from the log (gap, duplicate, disorder) or whose final\n"
            "state differs from the snapshot endpoint; it must be 0. *worst catch-up*: the\n"
            "longest time from the end of a fault until a viewer held every event appended\n"
            "before that moment.\n"
            "Heartbeats are shortened (interval 1 s, timeout 1.5 s) so detection takes seconds.\n\n"
            f"Last run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{os.cpu_count()} cores, {platform.python_implementation()} "
            f"{platform.python_version()}.\n\n"
        )
        path.write_text(intro + self.table() + "\n" + NOTES)
