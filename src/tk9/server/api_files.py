"""Downloads of produced files, one at a time or all as a ZIP; names are checked, never trusted.

Files come from the storage port (:mod:`tk9.storage`): the shared outputs folder by default —
where symbolic links are never followed, not the session folder, not a file in it: a link
planted in a session folder (pointing at ``/etc/passwd`` or the database) is treated as
absent — or an S3-compatible bucket, so that every web node serves every run's files.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from tk9.errors import FileNotFound, InvalidInput
from tk9.server.context import Ctx
from tk9.server.paths import parse_session_id
from tk9.storage import make_file_store, servable

router = APIRouter()

MEDIA_TYPES = {
    ".md": "text/markdown; charset=utf-8",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html; charset=utf-8",
}


@router.get("/api/sessions/{session_id}/files.zip")
async def download_zip(session_id: str, ctx: Ctx) -> Response:
    sid = parse_session_id(session_id)
    await ctx.log.info(sid)  # 404 for unknown sessions
    store = make_file_store(ctx.settings)
    buf = io.BytesIO()
    count = 0
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in await store.names(sid):
            found = await store.read(sid, name)
            if isinstance(found, Path):
                zf.write(found, arcname=name)
            elif found is not None:
                zf.writestr(name, found)
            else:
                continue  # removed meanwhile
            count += 1
    if not count:
        raise FileNotFound("this session has produced no files yet")
    return Response(
        buf.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="tk9-{sid[:8]}.zip"'},
    )


@router.get("/api/sessions/{session_id}/files/{name}")
async def download_file(
    session_id: str, name: str, ctx: Ctx, inline: Annotated[bool, Query()] = False
) -> Response:
    sid = parse_session_id(session_id)
    await ctx.log.info(sid)
    if not servable(name):
        raise InvalidInput(f"invalid file name {name[:80]!r}")
    found = await make_file_store(ctx.settings).read(sid, name)
    if found is None:
        raise FileNotFound(f"no file {name!r} in this session")
    media_type = MEDIA_TYPES[Path(name).suffix]
    disposition = "inline" if inline else "attachment"
    if isinstance(found, Path):
        return FileResponse(
            found, media_type=media_type, filename=name, content_disposition_type=disposition
        )
    return Response(
        found,
        media_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )
