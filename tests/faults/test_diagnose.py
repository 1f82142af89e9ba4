"""``tk9 diagnose`` against the harness nginx: the good deployment config passes, and each
deliberately broken one fails on exactly the check that names its cause."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.faults.harness.nginx import Variant
from tests.faults.harness.report import Summary
from tests.faults.harness.topology import Topology, build
from tk9.diagnose import Verdict, diagnose_command, run_diagnosis

EXPECTED_FAILURES = {
    Variant.GOOD: set(),
    Variant.BUFFERING: {"sse"},
    Variant.SHORT_TIMEOUT: {"heartbeat", "idle-timeout"},
    Variant.NO_UPGRADE: {"websocket"},
}


@pytest.fixture(scope="module")
def topo(summary: Summary) -> Iterator[Topology]:
    with build(env={"TK9_DEMO_EVENTS": "20", "TK9_DEMO_INTERVAL": "0.01"}) as topology:
        yield topology


@pytest.mark.parametrize("variant", list(Variant))
async def test_diagnose_names_the_broken_setting(topo: Topology, variant: Variant) -> None:
    topo.nginx.variant = variant
    topo.nginx.short_timeout = 0.6
    topo.nginx.restart()
    report = await run_diagnosis(
        topo.url, idle_wait=2.5, heartbeat_wait=2.5, sse_wait=2.0, timeout=5
    )
    failed = {r.name for r in report.results if r.verdict is Verdict.FAIL}
    assert failed == EXPECTED_FAILURES[variant], report.render()
    _keep(variant, report.render())


def _keep(variant: Variant, text: str) -> None:
    """With ``TK9_DIAGNOSE_OUT`` set, keep each report (the docs quote them)."""
    out = os.environ.get("TK9_DIAGNOSE_OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / f"{variant.value}.txt").write_text(text + "\n")


def test_cli_exit_status_and_bad_url(topo: Topology) -> None:
    app = typer.Typer()
    app.command()(diagnose_command)
    topo.nginx.variant = Variant.NO_UPGRADE
    topo.nginx.restart()
    runner = CliRunner()
    broken = runner.invoke(
        app, [topo.url, "--idle-wait", "1", "--heartbeat-wait", "1", "--sse-wait", "1"]
    )
    assert broken.exit_code == 1 and "[FAIL] websocket" in broken.output
    bad = runner.invoke(app, ["ftp://example.invalid"])
    assert bad.exit_code == 2
