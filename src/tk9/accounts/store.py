"""The users/tokens store: a small port, its SQLite implementation, and which one to open.

Users live next to the sessions: the SQLite backend's database file holds a ``users`` and a
``tokens`` table beside the event log's; with ``TK9_LOG_BACKEND=redis`` they live in that Redis
(:class:`tk9.accounts.redis_store.RedisUserStore`), so every web node and the CLI on any host
share one user base. The memory backend (nothing else persists) keeps them in the SQLite file
of the data directory, so accounts survive a restart.

Passwords are hashed with argon2id (argon2-cffi). Tokens — API tokens printed by
``tk9 tokens create`` and the dashboard's login cookies alike — are 256-bit random strings;
only their SHA-256 is stored, so a copy of the database does not let anyone sign in.
Every call is blocking (hashing is deliberately slow): the server runs them in a thread.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tk9.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from tk9.settings import Settings

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
TOKEN_PREFIX = "tk9_"
TokenKind = Literal["api", "cookie"]


@dataclass(frozen=True, slots=True)
class User:
    """Who a request acts for; ``admin`` sees and manages every session."""

    username: str
    admin: bool


class UserNotFound(NotFound):
    code = "user_not_found"


def check_username(name: str) -> str:
    """The name, or ``InvalidInput``: 1-64 of ``[a-z0-9._-]``, starting alphanumeric."""
    if not isinstance(name, str) or not USERNAME_RE.match(name):
        raise InvalidInput("user names are 1-64 characters of a-z 0-9 . _ - (lower case)")
    return name


def check_password(password: str) -> str:
    """The password, or ``InvalidInput`` when shorter than 8 or longer than 1024 characters."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"passwords are {MIN_PASSWORD}-{MAX_PASSWORD} characters")
    return password


def token_digest(token: str) -> str:
    """What the store keeps of a token: its SHA-256 (tokens are random, no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore(Protocol):
    """The port the server and the CLI use (SQLite, or Redis for the Redis deployment).

    ``tests/accounts/test_store_contract.py`` holds every implementation to the same contract.
    """

    def add_user(self, username: str, password: str, *, admin: bool = False) -> User: ...

    def list_users(self) -> list[User]: ...

    def remove_user(self, username: str) -> None:
        """Remove the user and every token of theirs; their sessions become admin-only."""
        ...

    def verify_password(self, username: str, password: str) -> User | None: ...

    def create_token(
        self, username: str, kind: TokenKind = "api", expires_at: float | None = None
    ) -> str: ...

    def revoke_token(self, token: str) -> bool: ...

    def user_for_token(self, token: str, now: float) -> User | None: ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS tokens_by_user ON tokens(username);
"""


class SqliteUserStore:
    """:class:`UserStore` in an SQLite file (WAL; shared with the event log's connections)."""

    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._hasher = hasher or PasswordHasher()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        # a dummy hash, verified when the user is unknown, so timing does not reveal names
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def add_user(self, username: str, password: str, *, admin: bool = False) -> User:
        check_username(username)
        digest = self._hasher.hash(check_password(password))
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO users(username, password_hash, admin, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (username, digest, int(admin), time.time()),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"user {username!r} already exists") from None
        return User(username, admin)

    def list_users(self) -> list[User]:
        with self._lock:
            rows = self._db.execute("SELECT username, admin FROM users ORDER BY username")
            return [User(name, bool(admin)) for name, admin in rows.fetchall()]

    def remove_user(self, username: str) -> None:
        with self._lock:
            cur = self._db.execute("DELETE FROM users WHERE username = ?", (username,))
        if cur.rowcount == 0:
            raise UserNotFound(f"no user {username!r}")

    def verify_password(self, username: str, password: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT password_hash, admin FROM users WHERE username = ?", (username,)
            ).fetchone()
        try:
            self._hasher.verify(row[0] if row else self._dummy, password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return None
        return User(username, bool(row[1])) if row else None

    def create_token(
        self, username: str, kind: TokenKind = "api", expires_at: float | None = None
    ) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO tokens(digest, username, kind, expires_at) VALUES (?, ?, ?, ?)",
                    (token_digest(token), username, kind, expires_at),
                )
            except sqlite3.IntegrityError:
                raise UserNotFound(f"no user {username!r}") from None
        return token

    def revoke_token(self, token: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM tokens WHERE digest = ?", (token_digest(token),))
        return cur.rowcount > 0

    def user_for_token(self, token: str, now: float) -> User | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT u.username, u.admin, t.expires_at FROM tokens t "
                "JOIN users u ON u.username = t.username WHERE t.digest = ?",
                (token_digest(token),),
            ).fetchone()
        if row is None or (row[2] is not None and row[2] <= now):
            return None
        return User(row[0], bool(row[1]))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_user_store(settings: Settings) -> UserStore:
    """The store that goes with the log backend: Redis for ``redis``, else the SQLite file."""
    if settings.log_backend == "redis":
        from tk9.accounts.redis_store import RedisUserStore

        return RedisUserStore(settings.redis_url)
    return SqliteUserStore(settings.db_path)
