"""Run the real tk9 app under uvicorn in its own process (for the client's integration tests).

Usage: ``python -m tests.client.serve PORT DATA_DIR`` with ``TK9_*`` variables in the
environment. Equivalent to ``tk9 serve`` but independent of the CLI's option parsing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from tk9.server.app import create_app
from tk9.settings import Settings


def main() -> None:
    port, data_dir = int(sys.argv[1]), Path(sys.argv[2])
    settings = Settings(host="127.0.0.1", port=port, data_dir=data_dir)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
        ws_ping_interval=None,
        timeout_graceful_shutdown=2,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
