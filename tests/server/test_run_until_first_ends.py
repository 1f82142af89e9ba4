"""run_until_first_ends: the first error is reported, no task's outcome is left unseen."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from tk9.server.delivery import run_until_first_ends


async def _fail(message: str) -> None:
    raise RuntimeError(message)


async def _fail_when_cancelled() -> None:
    try:
        await asyncio.Event().wait()
    finally:
        raise ValueError("cleanup failed")


def _run_recording_unhandled(coro_factory: Any) -> tuple[BaseException | None, list[str]]:
    unhandled: list[str] = []

    async def main() -> BaseException | None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, ctx: unhandled.append(ctx["message"]))
        result: BaseException | None = await coro_factory()
        gc.collect()  # "never retrieved" is reported when an unseen task is collected
        await asyncio.sleep(0)
        return result

    return asyncio.run(main()), unhandled


def test_two_tasks_failing_together_report_the_first_and_leave_nothing_unretrieved() -> None:
    error, unhandled = _run_recording_unhandled(
        lambda: run_until_first_ends(_fail("pump"), _fail("reader"))
    )
    assert isinstance(error, RuntimeError) and str(error) == "pump"
    assert unhandled == []


def test_a_cancelled_task_that_fails_while_cancelling_is_not_reported_as_unhandled() -> None:
    error, unhandled = _run_recording_unhandled(
        lambda: run_until_first_ends(_fail("pump"), _fail_when_cancelled())
    )
    assert isinstance(error, RuntimeError) and str(error) == "pump"
    assert unhandled == []
