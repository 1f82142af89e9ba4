"""The built dashboard: ``/assets`` and the root files as static files, every other non-API path
-> index.html.

Hashed assets (``/assets/*``, their names change with their content) are cached for a year and
marked ``immutable``; everything else is revalidated (``no-cache``). When the build left a
precompressed twin beside a file (``app.js.br``, ``app.js.gz``: ``vite build`` writes them) and
the client accepts that encoding, the twin is sent with ``Content-Encoding`` — brotli first,
then gzip — and ``Vary: Accept-Encoding``. A missing path that looks like a file (its last part
has a dot, e.g. ``/favicon.ico``) is a 404, not the page.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from tk9.errors import NotFound

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>tk9</title>
<p>The tk9 dashboard is not built. Run <code>make run</code> (it builds <code>frontend/</code>)
or <code>cd frontend && npm ci && npm run build</code>. The API is at <code>/api</code>.</p>"""

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def default_static_dir() -> Path:
    """``frontend/dist`` of the source checkout (the package lives in ``src/tk9``)."""
    return Path(__file__).resolve().parents[3] / "frontend" / "dist"


def accepted(header: str) -> set[str]:
    """The encodings an ``Accept-Encoding`` header allows (``q=0`` refuses one)."""
    out: set[str] = set()
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        q = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
        try:
            allowed = float(q) > 0
        except ValueError:
            allowed = False
        if name and allowed:
            out.add(name.strip().lower())
    return out


def send_file(request: Request, path: Path, cache: str) -> FileResponse:
    """``path``, or its precompressed twin when the client accepts it."""
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
    allowed = accepted(request.headers.get("accept-encoding", ""))
    for encoding, suffix in ENCODINGS:
        twin = path.with_name(path.name + suffix)
        if encoding in allowed and twin.is_file():
            headers["Content-Encoding"] = encoding
            return FileResponse(twin, media_type=media_type, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers)


def _inside(root: Path, path: str) -> Path | None:
    if len(path) > 255 or "\x00" in path:
        return None
    try:
        candidate = (root / path).resolve()
        inside = candidate.is_file() and candidate.is_relative_to(root)
    except (OSError, ValueError):  # odd paths are just not files
        return None
    return candidate if inside else None


def mount_dashboard(app: FastAPI, static_dir: Path | None) -> None:
    root = (static_dir or default_static_dir()).resolve()
    assets = root / "assets"

    @app.get("/assets/{path:path}", include_in_schema=False)
    async def asset(path: str, request: Request) -> Response:
        found = _inside(assets, path) if assets.is_dir() else None
        if found is None:
            raise NotFound(f"no asset /assets/{path}")
        return send_file(request, found, IMMUTABLE)

    @app.get("/{path:path}", include_in_schema=False)
    async def spa(path: str, request: Request) -> Response:
        if path.startswith(("api/", "ws/")) or path in ("api", "ws", "metrics"):
            raise NotFound(f"no route /{path}")
        if path and len(path) <= 255 and "\x00" not in path:
            try:
                candidate = (root / path).resolve()
                found = candidate.parent == root and candidate.is_file()
            except (OSError, ValueError):  # odd paths are just not files: serve the app
                found = False
            if found:
                return send_file(request, candidate, REVALIDATE)
            if "." in path.rsplit("/", 1)[-1]:
                raise NotFound(f"no file /{path}")
        index = root / "index.html"
        if index.is_file():
            return send_file(request, index, REVALIDATE)
        return HTMLResponse(NOT_BUILT)
