"""Downloads of produced files, one at a time or all as a ZIP; names are checked, never trusted.

Symbolic links are never followed — not the session folder, not a file in it: a link planted in
a session folder (pointing at ``/etc/passwd`` or the database) is treated as absent.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from tk9.errors import FileNotFound, InvalidInput
from tk9.server.context import AppContext, Ctx
from tk9.server.paths import parse_session_id

router = APIRouter()

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
MEDIA_TYPES = {
    ".md": "text/markdown; charset=utf-8",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html; charset=utf-8",
}


async def _session_folder(ctx: AppContext, raw_id: str) -> tuple[str, Path]:
    sid = parse_session_id(raw_id)
    await ctx.log.info(sid)  # 404 for unknown sessions
    folder = ctx.settings.outputs_dir / sid
    if folder.is_symlink():
        raise FileNotFound("this session has produced no files yet")
    return sid, folder.resolve()


def _announced(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if not p.is_symlink()
        and p.is_file()
        and SAFE_NAME.match(p.name)
        and p.suffix in MEDIA_TYPES
    )


@router.get("/api/sessions/{session_id}/files.zip")
async def download_zip(session_id: str, ctx: Ctx) -> Response:
    sid, folder = await _session_folder(ctx, session_id)
    files = _announced(folder)
    if not files:
        raise FileNotFound("this session has produced no files yet")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            zf.write(path, arcname=path.name)
    return Response(
        buf.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="tk9-{sid[:8]}.zip"'},
    )


@router.get("/api/sessions/{session_id}/files/{name}")
async def download_file(
    session_id: str, name: str, ctx: Ctx, inline: Annotated[bool, Query()] = False
) -> FileResponse:
    _, folder = await _session_folder(ctx, session_id)
    if not SAFE_NAME.match(name) or Path(name).suffix not in MEDIA_TYPES:
        raise InvalidInput(f"invalid file name {name[:80]!r}")
    path = folder / name
    if path.is_symlink() or path.resolve().parent != folder or not path.is_file():
        raise FileNotFound(f"no file {name!r} in this session")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[path.suffix],
        filename=name,
        content_disposition_type="inline" if inline else "attachment",
    )
