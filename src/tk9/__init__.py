"""tk9: a self-hosted multi-agent deep research service with a live dashboard.

Layers (dependencies point downward only):

* ``tk9.server`` / ``tk9.cli`` / ``tk9.client`` — thin drivers (I/O).
* ``tk9.research`` — the seven agents, engines, corpus, publishing, translation.
* ``tk9.protocol`` — pure, synchronous delivery protocol (no asyncio, no I/O).
* ``tk9.log`` — the durable append-only event log (memory, SQLite, Redis).
* ``tk9.events`` / ``tk9.projection`` — the event model and its pure fold.
"""

__version__ = "0.1.0"
