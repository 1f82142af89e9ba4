"""Fixtures of the Docker suite (``make docker-test``, ``pytest -m docker tests/docker``).

Not part of the default pytest run: these tests start a Docker engine and build images, so they
are collected only when ``-m docker`` is asked for. Where the engine cannot run (not root, no
docker.io) every test is skipped with the reason, which ``-rs`` prints.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker.harness import CACHE, IMAGE, Engine, compose_v2, why_not

FIGURES: dict[str, object] = {}
"""Measurements of this run; written to $TK9_DOCKER_FIGURES (JSON) at the end."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "docker: builds and runs the Docker deployment")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    expr = config.option.markexpr or ""
    if "docker" not in expr or "not docker" in expr:
        return True
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/docker/" in str(item.fspath):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def figures() -> Iterator[dict[str, object]]:
    yield FIGURES
    target = os.environ.get("TK9_DOCKER_FIGURES")
    if target and FIGURES:
        Path(target).write_text(json.dumps(FIGURES, indent=2, sort_keys=True) + "\n")
    if FIGURES:
        print("\nDocker figures: " + json.dumps(FIGURES, sort_keys=True))


@pytest.fixture(scope="session")
def engine(figures: dict[str, object]) -> Iterator[Engine]:
    reason = why_not()
    if reason:
        pytest.skip(f"docker-test skipped: {reason}")
    CACHE.mkdir(parents=True, exist_ok=True)
    eng = Engine()
    try:
        eng.start()
        figures["standins_s"] = round(eng.standins(), 1)
        figures["build_s"] = round(eng.build_tk9(), 1)
        figures["image_bytes"] = eng.image_size(IMAGE)
        yield eng
    finally:
        eng.stop()


@pytest.fixture(scope="session")
def compose(engine: Engine) -> str:
    started = time.monotonic()
    path = compose_v2()
    assert time.monotonic() - started < 600
    return path
