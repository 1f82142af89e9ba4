"""The built dashboard: ``/assets`` as static files, every other non-API path -> index.html."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from tk9.errors import NotFound

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>tk9</title>
<p>The tk9 dashboard is not built. Run <code>make run</code> (it builds <code>frontend/</code>)
or <code>cd frontend && npm ci && npm run build</code>. The API is at <code>/api</code>.</p>"""


def default_static_dir() -> Path:
    """``frontend/dist`` of the source checkout (the package lives in ``src/tk9``)."""
    return Path(__file__).resolve().parents[3] / "frontend" / "dist"


def mount_dashboard(app: FastAPI, static_dir: Path | None) -> None:
    root = (static_dir or default_static_dir()).resolve()
    assets = root / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="assets")

    @app.get("/{path:path}", include_in_schema=False)
    async def spa(path: str) -> Response:
        if path.startswith(("api/", "ws/")) or path in ("api", "ws", "metrics"):
            raise NotFound(f"no route /{path}")
        if path and len(path) <= 255 and "\x00" not in path:
            try:
                candidate = (root / path).resolve()
                found = candidate.parent == root and candidate.is_file()
            except (OSError, ValueError):  # odd paths are just not files: serve the app
                found = False
            if found:
                return FileResponse(candidate)
        index = root / "index.html"
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(NOT_BUILT)
