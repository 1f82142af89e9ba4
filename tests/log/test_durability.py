"""An append that returned survives a SIGKILL of the process that made it."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from tk9.log.sqlite import SqliteEventLog

CHILD = """
import asyncio, sys
from tk9.events import EventType
from tk9.log.sqlite import SqliteEventLog

async def main() -> None:
    log = SqliteEventLog(sys.argv[1], synchronous=sys.argv[2])
    await log.open()
    await log.create("s", {})
    i = 0
    while True:
        tasks = [log.append("s", EventType.LOG, {"message": f"m{i + k}"}) for k in range(4)]
        for event in await asyncio.gather(*tasks):
            print(event.seq, flush=True)
        i += 4

asyncio.run(main())
"""


def _kill_mid_stream(path: Path, synchronous: str) -> list[int]:
    """Run the child until it has reported 300 returned appends, SIGKILL it, collect its output.

    Reading blocks on the child's output; pytest-timeout bounds a child that hangs.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), synchronous], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    returned: list[int] = []
    try:
        while len(returned) < 300:
            line = proc.stdout.readline()
            assert line, "the child exited early"
            returned.append(int(line))
        proc.send_signal(signal.SIGKILL)
        # anything it printed before dying had returned too
        returned += [int(x) for x in proc.stdout.read().split()]
    finally:
        proc.kill()
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return returned


async def _stored(path: Path) -> tuple[int, list[int]]:
    async with SqliteEventLog(path) as log:
        info = await log.info("s")
        return info.last_seq, [e.seq for e in await log.read("s", 0, limit=100_000)]


def test_every_returned_append_survives_sigkill(tmp_path: Path) -> None:
    for mode in ("FULL", "NORMAL"):
        path = tmp_path / f"{mode}.sqlite3"
        returned = _kill_mid_stream(path, mode)
        last_seq, stored = asyncio.run(_stored(path))
        assert stored == list(range(1, last_seq + 1))
        assert set(returned) <= set(stored)
        assert last_seq >= max(returned)
