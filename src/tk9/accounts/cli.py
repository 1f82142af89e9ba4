"""``tk9 users add|list|remove`` and ``tk9 tokens create|revoke``: accounts from the shell.

They open the same user store as the server, directly (the server need not run): the data
directory's SQLite file, or the Redis at ``TK9_REDIS_URL`` when ``TK9_LOG_BACKEND=redis`` (both
read from the environment, as ``tk9 serve`` does). The first admin is made here:
``tk9 users add alice --admin``. Passwords are read from stdin when it is not a terminal
(``printf '%s\\n' "$PW" | tk9 users add bob``), otherwise prompted twice.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from tk9.accounts.store import UserStore, check_password, check_username, open_user_store
from tk9.errors import Tk9Error

users_app = typer.Typer(help="Manage user accounts (TK9_AUTH=accounts).", no_args_is_help=True)
tokens_app = typer.Typer(help="Create and revoke API tokens.", no_args_is_help=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where all state lives [env TK9_DATA_DIR, default ./data]"),
]


@contextmanager
def _store(data_dir: Path | None) -> Iterator[UserStore]:
    from tk9.cli import build_settings

    settings = build_settings(data_dir=data_dir, host="127.0.0.1")
    store = open_user_store(settings)
    try:
        yield store
    except Tk9Error as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="User name: a-z 0-9 . _ - (lower case).")],
    admin: Annotated[bool, typer.Option("--admin", help="May see and manage every session.")] = (
        False
    ),
    data_dir: DataDir = None,
) -> None:
    """Add a user; the password comes from stdin when it is not a terminal."""
    try:
        check_username(name)
        password = check_password(_read_password())
    except Tk9Error as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    with _store(data_dir) as store:
        user = store.add_user(name, password, admin=admin)
    typer.echo(f"added {user.username}" + (" (admin)" if user.admin else ""))


@users_app.command("list")
def list_users(data_dir: DataDir = None) -> None:
    """One user per line: name, then ``admin`` for admins."""
    with _store(data_dir) as store:
        for user in store.list_users():
            typer.echo(f"{user.username}\t{'admin' if user.admin else 'user'}")


@users_app.command("remove")
def remove_user(name: str, data_dir: DataDir = None) -> None:
    """Remove a user and revoke their tokens; their sessions stay, visible to admins."""
    with _store(data_dir) as store:
        store.remove_user(name)
    typer.echo(f"removed {name}")


@tokens_app.command("create")
def create_token(name: str, data_dir: DataDir = None) -> None:
    """Print a new API token for user NAME (shown once; only its hash is stored)."""
    with _store(data_dir) as store:
        token = store.create_token(name, "api")
    typer.echo(token)


@tokens_app.command("revoke")
def revoke_token(token: str, data_dir: DataDir = None) -> None:
    """Revoke a token (API token or login); it stops working at once."""
    with _store(data_dir) as store:
        found = store.revoke_token(token)
    if not found:
        typer.echo("error: no such token", err=True)
        raise typer.Exit(1)
    typer.echo("revoked")
