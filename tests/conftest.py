"""Settings every test process shares (inherited by the ``tk9 serve`` processes tests start).

* ``TK9_MODELS_DIR``: one cache of the built embedding model for the whole run, so each fresh
  data directory does not build the ONNX graph again (16 s each on two busy cores).
* ``TK9_EMBED_BUDGET``: a test server on the offline wiki would otherwise spend up to 90 s of
  its first run embedding the corpus. Delivery, dashboard and fault tests do not measure
  retrieval, and the candidates a run judges are embedded whatever the budget; research
  quality is measured by ``bench/research_quality.py`` with the default budget.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.log.redis_server import RedisServer

os.environ.setdefault(
    "TK9_MODELS_DIR", str(Path(__file__).resolve().parent.parent / ".cache" / "models")
)
os.environ.setdefault("TK9_EMBED_BUDGET", "2")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real ``redis-server`` for the whole run; suites flush it per test."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()
