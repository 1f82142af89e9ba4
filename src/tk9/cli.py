"""The ``tk9`` command line: a thin driver over the server, the client and the research package.

Options mirror fields of :class:`tk9.settings.Settings`; anything not given on the command line
comes from ``TK9_*`` environment variables, then the defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    name="tk9",
    help="Multi-agent deep research with a live dashboard that never misses an update.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """tk9: research a subject with seven agents and watch it live."""


def build_settings(**overrides: Any) -> Any:
    """Settings from the environment, with command-line values (those not None) on top."""
    from pydantic import ValidationError

    from tk9.settings import Settings

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        typer.echo("invalid configuration:\n" + "\n".join(lines), err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address [env TK9_HOST, default 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [env TK9_PORT, default 8000]")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where all state lives [env TK9_DATA_DIR, default ./data]")
    ] = None,
    log_backend: Annotated[
        str | None, typer.Option(help="sqlite | memory | redis [env TK9_LOG_BACKEND]")
    ] = None,
) -> None:
    """Start the service (API, live streams and the dashboard)."""
    import gc

    import uvicorn

    from tk9.server.app import create_app
    from tk9.server.logging import configure_logging
    from tk9.server.slowloris import DeadlineH11Protocol
    from tk9.server.wsguard import guarded_ws

    settings = build_settings(host=host, port=port, data_dir=data_dir, log_backend=log_backend)
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings)
    # What is imported and built by now lives as long as the process: move it out of the
    # cyclic collector's reach, and collect the young generation less often (each event a
    # log keeps adds a few tracked objects). Both cut the pauses that stall every live
    # stream at once (measured at 1,000 viewers: GC time 3.0 s -> 1.0 s in 25 s of load;
    # docs/benchmarks.md, "GC pauses").
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws=guarded_ws(settings),  # websockets-sansio + frame budget, backpressure (wsguard)
        ws_max_size=16 * settings.max_frame_bytes,
        ws_ping_interval=None,  # the guard pings every heartbeat_interval itself (wsguard)
        # small JSON frames gain little from permessage-deflate, and each compressed socket
        # keeps ~46 KiB of zlib state: a viewer costs far less without it
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,
        proxy_headers=True,
        http=DeadlineH11Protocol,  # a whole request head within head_timeout (slowloris)
        timeout_keep_alive=max(1, round(settings.head_timeout)),
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=16 * 1024,  # request line + headers
    )
    uvicorn.Server(config).run()


@app.command()
def worker(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where all state lives [env TK9_DATA_DIR, default ./data]")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="The queue's Redis [env TK9_REDIS_URL]")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option(help="Runs this worker takes at once [env TK9_WORKER_JOBS]")
    ] = None,
) -> None:
    """Execute queued research runs (TK9_RUN_MODE=queue; docs/deploy.md)."""
    from tk9.jobs.worker import run_worker
    from tk9.server.logging import configure_logging

    settings = build_settings(data_dir=data_dir, redis_url=redis_url, worker_jobs=jobs)
    configure_logging(settings.log_level, settings.log_json)
    settings.outputs_dir.mkdir(parents=True, exist_ok=True)
    run_worker(settings)


def _register_subcommands() -> None:
    """Commands implemented next to what they drive (client, research, diagnose)."""
    from tk9.client.tail import tail_command
    from tk9.diagnose import diagnose_command
    from tk9.research_cli import research_command

    app.command("research", help="Research a subject in-process, with a live view of the agents.")(
        research_command
    )

    app.command("tail", help="Print a session's events live, resuming across disconnects.")(
        tail_command
    )

    app.command("diagnose", help="Check a deployment through its public URL.")(diagnose_command)

    from tk9.accounts.cli import tokens_app, users_app

    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
