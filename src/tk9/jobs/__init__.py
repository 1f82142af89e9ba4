"""Runs on a durable Redis job queue (``TK9_RUN_MODE=queue``): web nodes enqueue, ``tk9
worker`` processes execute under renewable leases, and every node ends runs whose lease lapsed.

* :mod:`tk9.jobs.lease` — the lease table and the global concurrency limit (Lua on Redis);
* :mod:`tk9.jobs.reaper` — ends a run whose worker stopped renewing its lease, ``interrupted``;
* :mod:`tk9.jobs.queue` — the web side: the server's ``Runs`` (enqueue, cancel from any node);
* :mod:`tk9.jobs.worker` — the worker side: the arq job that executes one run.

Why arq and how the parts fit: docs/architecture.md, "Runs across nodes".
"""

from __future__ import annotations

import json
from typing import Any

QUEUE_NAME = "tk9:runs:queue"
JOB_FUNCTION = "run_session"


def dumps(value: Any) -> bytes:
    """Jobs are JSON on the wire (arq's default, pickle, would let Redis write run code)."""
    return json.dumps(value).encode()


def loads(data: bytes) -> Any:
    return json.loads(data)
