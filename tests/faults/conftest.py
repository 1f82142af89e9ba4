"""Fixtures of the fault-matrix suite: root check, stale-namespace sweep, the summary table."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import netns
from tests.faults.harness.report import Summary

_SUMMARY = Summary()


@pytest.fixture(scope="session")
def summary() -> Iterator[Summary]:
    if not netns.is_root():
        pytest.fail("the fault suite needs root (network namespaces, veth, iptables)")
    netns.sweep_stale()
    yield _SUMMARY
    if _SUMMARY.rows:
        print("\n" + _SUMMARY.table())
        target = os.environ.get("TK9_FAULTS_REPORT")
        if target:
            _SUMMARY.write(Path(target))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.fspath.basename.startswith(("test_matrix", "test_diagnose", "test_browser")):
            item.add_marker(pytest.mark.faults)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``make soak`` repeats every scenario ``TK9_SOAK_ROUNDS`` times."""
    if "soak_round" in metafunc.fixturenames:
        rounds = max(1, int(os.environ.get("TK9_SOAK_ROUNDS", "1")))
        metafunc.parametrize("soak_round", range(rounds))
