"""The one validated configuration object, built at the edge (CLI / app factory) and passed down.

Every field can be set from the environment with the ``TK9_`` prefix (``TK9_PORT=9000``) or
from a ``.env`` file in the working directory. No module reads the environment on its own.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TK9_", env_file=".env", extra="ignore")

    # --- serving ---------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("./data")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = True
    static_dir: Path | None = None
    """Built dashboard assets; default: ``frontend/dist`` next to the package, if present."""

    node_id: str = Field(default="local", min_length=1, max_length=64)
    """Names this server process. Runs are owned by the node that started them, and a node
    marks only its own unfinished runs ``interrupted`` when it starts — so give every process
    that shares one Redis log its own id."""

    # --- access (docs/security.md) ----------------------------------------------------------
    auth: Literal["accounts", "none"] = "none"
    """``accounts``: every request needs a login cookie or ``Authorization: Bearer TOKEN``.
    ``none`` (one user, no login) is accepted only while bound to a loopback address."""
    allowed_hosts: str = ""
    """Comma-separated ``Host`` names served (``*`` = any); default: the loopback names."""
    allowed_origins: str = ""
    """Comma-separated extra origins (``https://tk9.example``) trusted besides the service's own,
    for WebSocket ``Origin`` and cross-site checks of state-changing requests."""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Request bodies above this are refused with 413 before being read whole."""
    body_timeout: float = Field(default=30.0, gt=0)
    """Seconds a request body may take to arrive (408 after)."""
    head_timeout: float = Field(default=10.0, gt=0)
    """Seconds a connection may take to send a whole request head, and stay idle between
    keep-alive requests (slowloris); uvicorn closes it after."""
    max_connections: int | None = Field(default=None, ge=1)
    """Open connections + tasks above which uvicorn answers 503 (default: no cap)."""
    user_create_burst: int = Field(default=10, ge=1)
    """Sessions a user may create at once before the rate applies (accounts only)."""
    user_create_per_minute: float = Field(default=20.0, gt=0)
    """Sustained session-creation rate per user; beyond it 429 + Retry-After."""
    user_max_active_runs: int = Field(default=5, ge=1)
    """Runs a user may have queued or running at once (accounts only); beyond it 429."""
    user_runs_per_day: int | None = Field(default=None, ge=1)
    """Runs a user may start in any 24 hours (accounts, non-admins; default: no quota); 429."""
    user_storage_mb: float | None = Field(default=None, gt=0)
    """Disk a user's sessions' files may use (accounts, non-admins; default: no quota); over it
    new runs are refused with 403 until sessions are deleted."""
    max_active_runs: int = Field(default=200, ge=1)
    """Runs queued or running in this process, all users together; beyond it 429."""
    ws_frames_per_second: float = Field(default=100.0, gt=0)
    """WebSocket frames (pings included) one connection may send per second, sustained; over
    it (and the burst) the server closes it with 1008 (``tk9.server.wsguard``)."""
    ws_frame_burst: int = Field(default=500, ge=1)
    ws_bytes_per_second: float = Field(default=512 * 1024, gt=0)
    """WebSocket payload bytes one connection may send per second, sustained (1008 beyond)."""
    ws_byte_burst: int = Field(default=2 * 1024 * 1024, ge=1024)
    login_burst: int = Field(default=10, ge=1)
    """Sign-in attempts one client address may make at once (then ``TK9_LOGIN_PER_MINUTE``)."""
    login_per_minute: float = Field(default=10.0, gt=0)
    stream_connect_burst: int = Field(default=30, ge=1)
    """Live streams (WebSocket, SSE) one user may open at once (accounts only); then
    ``TK9_STREAM_CONNECTS_PER_MINUTE``; beyond it the handshake gets 429 + Retry-After."""
    stream_connects_per_minute: float = Field(default=60.0, gt=0)
    address_connect_burst: int = Field(default=120, ge=1)
    """The same per client address, checked before the credentials (accounts only)."""
    address_connects_per_minute: float = Field(default=240.0, gt=0)
    retention_days: float | None = Field(default=None, gt=0)
    """Finished sessions older than this are removed, events and files together (default:
    kept forever)."""
    storage_retry: float = Field(default=5.0, gt=0)
    """Seconds between attempts to record a run that a full disk stopped (docs/security.md)."""
    login_ttl: float = Field(default=7 * 24 * 3600.0, gt=0)
    """Seconds a dashboard login (its cookie) stays valid."""

    # --- produced files (tk9.storage) ---------------------------------------------------------
    file_store: Literal["local", "s3"] = "local"
    """``local``: ``<data_dir>/outputs`` (a volume every node mounts); ``s3``: a bucket."""
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    """An S3-compatible endpoint (MinIO, Ceph…); default: AWS."""
    s3_region: str | None = None
    s3_prefix: str = ""
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None

    # --- event log ---------------------------------------------------------------------------
    log_backend: Literal["sqlite", "memory", "redis"] = "sqlite"
    redis_url: str = "redis://127.0.0.1:6379/0"
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """FULL: an append that returned survives power loss; NORMAL: survives a process crash."""
    tail_cache_size: int = Field(default=2048, ge=0)
    """Recent entries per session kept in memory so live fan-out does not hit the database."""

    # --- delivery protocol ---------------------------------------------------------------------
    heartbeat_interval: float = Field(default=15.0, gt=0)
    heartbeat_timeout: float = Field(default=10.0, gt=0)
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024)
    replay_batch: int = Field(default=5000, ge=1, le=10_000)
    """Events per log read while a viewer catches up (one query, fed out in slices)."""
    outbound_buffer: int = Field(default=256, ge=1)
    """Frames a connection may have queued for the transport before it stops reading the log."""
    send_timeout: float = Field(default=30.0, gt=0)
    """A viewer whose socket accepts nothing for this long is closed (it will resume)."""
    longpoll_max_wait: float = Field(default=30.0, ge=0)
    sse_keepalive: float = Field(default=15.0, gt=0)

    # --- research ----------------------------------------------------------------------------
    engine: Literal["extractive", "llm"] = "extractive"
    max_sections: int = Field(default=5, ge=1, le=20)
    max_concurrent_runs: int = Field(default=2, ge=1)
    """Runs executing at once: per process when ``run_mode=inline``, across every worker
    together when ``run_mode=queue``."""
    run_mode: Literal["inline", "queue"] = "inline"
    """``inline``: runs execute in the web process that created them. ``queue``: they go on a
    durable Redis job queue (arq) that ``tk9 worker`` processes consume (docs/deploy.md)."""
    lease_ttl: float = Field(default=15.0, ge=1)
    """Seconds a worker's lease on a run lasts unless renewed (every third of it); a run whose
    lease lapses is ended ``interrupted`` by any node within ``lease_ttl + reaper_interval``."""
    reaper_interval: float = Field(default=5.0, gt=0)
    """Seconds between two scans for lapsed leases (every web node and worker scans)."""
    worker_jobs: int = Field(default=2, ge=1)
    """Runs one ``tk9 worker`` process takes at once (the global limit still applies)."""
    corpus_dir: Path | None = None
    use_wiki_corpus: bool = True
    embed_budget: float = Field(default=90.0, ge=0)
    """Seconds one run may spend embedding corpus passages not embedded yet (lead passages
    first; later runs continue). Candidates a run judges are embedded whatever this is."""
    models_dir: Path | None = None
    """Where the built embedding model is cached (default ``<data_dir>/models``); several data
    directories may share one."""
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(default=300.0, gt=0)
    """Seconds one model call may take in all, streaming included (not retried when hit)."""
    llm_connect_timeout: float = Field(default=10.0, gt=0)
    """Seconds to open a connection to the model server (retried)."""
    llm_read_timeout: float = Field(default=60.0, gt=0)
    """Longest silence allowed while waiting for the model: before its first token and
    between two streamed chunks (a stalled stream is a timeout, retried)."""
    llm_attempts: int = Field(default=3, ge=1, le=10)
    """Tries per model call on connection errors, timeouts, 429 and 5xx."""
    llm_retry_after_max: float = Field(default=30.0, ge=0)
    """Cap on the wait a 429/503 ``Retry-After`` header asks for."""
    llm_concurrency: int = Field(default=1, ge=1, le=64)
    """Model calls one run makes at once (sections are written in parallel). Keep it at the
    server's slot count — llama.cpp ``--parallel``; a queued request gets no data and would
    hit the read timeout. Hosted APIs take more."""
    llm_max_tokens: int = Field(default=1024, ge=16)
    """``max_tokens`` for a section, the introduction and the conclusion."""
    llm_outline_max_tokens: int = Field(default=512, ge=16)
    """``max_tokens`` for the outline (a short JSON object)."""
    llm_translate_max_tokens: int = Field(default=8192, ge=16)
    """``max_tokens`` for translating the whole report."""
    llm_temperature: float = Field(default=0.3, ge=0, le=2)
    """Sampling temperature for writing (the outline and translations use 0)."""
    llm_progress_interval: float = Field(default=1.0, ge=0)
    """Seconds between two streaming-progress updates on an agent card."""
    search_provider: Literal["none", "tavily", "brave"] = "none"
    search_api_key: SecretStr | None = None
    search_base_url: str | None = None
    demo_producer: bool = False
    """Use the scripted demo producer instead of the research pipeline (development aid)."""
    demo_interval: float = Field(default=0.2, ge=0)
    """Seconds between the demo producer's events."""
    demo_events: int = Field(default=0, ge=0)
    """Extra ``log`` events the demo producer emits (load for tests and benchmarks)."""
    test_hooks: bool = False
    """Expose ``/api/_test/*`` (drop every connection, append raw events). Never in production."""

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.engine == "llm" and not (self.llm_base_url and self.llm_model):
            raise ValueError("engine=llm needs TK9_LLM_BASE_URL and TK9_LLM_MODEL")
        if self.file_store == "s3" and not self.s3_bucket:
            raise ValueError("file_store=s3 needs TK9_S3_BUCKET")
        if self.auth == "none" and not is_loopback(self.host) and not self.test_hooks:
            raise ValueError(
                f"TK9_AUTH=none serves anyone who can reach {self.host!r}: bind to 127.0.0.1 "
                "or set TK9_AUTH=accounts (docs/security.md)"
            )
        return self

    @property
    def allowed_host_names(self) -> frozenset[str]:
        """Lower-case host names served; ``*`` alone = any (the default under test hooks)."""
        names = {h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()}
        if names:
            return frozenset(names)
        return frozenset({"*"}) if self.test_hooks else LOOPBACK_NAMES

    @property
    def allowed_origin_list(self) -> frozenset[str]:
        """Extra trusted origins, normalised (lower case, no trailing slash)."""
        return frozenset(
            o.strip().lower().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()
        )

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tk9.sqlite3"

    @property
    def outputs_dir(self) -> Path:
        return self.data_dir / "outputs"


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` reaches only this machine (``localhost``, 127/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
