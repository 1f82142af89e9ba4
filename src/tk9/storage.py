"""The storage port for produced files: where reports live so that every web node serves them.

A run writes each file atomically into its local ``outputs/<session id>/`` folder
(:func:`tk9.research.publish.write_atomic`), then :meth:`FileStore.publish` makes it available
to every node *before* the ``file_generated`` event announces it, so a viewer never sees a
file it cannot download. Two implementations, chosen by ``TK9_FILE_STORE``:

* ``local`` (default): the outputs folder itself, on a volume every node mounts (one machine,
  or the compose profile's shared volume). ``publish`` has nothing to do. Symbolic links are
  never followed — not the session folder, not a file in it.
* ``s3``: an S3-compatible bucket (AWS, MinIO, Ceph, …) through boto3 (``pip install
  tk9[s3]``), objects ``<prefix><session id>/<name>``; web nodes need no shared disk.

Names are checked by the API (:data:`SAFE_NAME`); the store only sees safe names.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any, Protocol

from tk9.settings import Settings

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
SUFFIXES = frozenset({".md", ".pdf", ".docx", ".html"})


def servable(name: str) -> bool:
    """A name the API may serve: safe characters and a known report type."""
    return bool(SAFE_NAME.match(name)) and Path(name).suffix in SUFFIXES


class FileStore(Protocol):
    async def publish(self, session_id: str, path: Path) -> None:
        """Make a finished local file available to every node."""
        ...

    async def names(self, session_id: str) -> list[str]:
        """The session's servable files, sorted."""
        ...

    async def read(self, session_id: str, name: str) -> Path | bytes | None:
        """A local path to stream, the bytes, or None when there is no such file."""
        ...

    async def remove(self, session_id: str) -> None:
        """Delete every file of the session (unknown sessions: nothing to do)."""
        ...


class LocalFileStore:
    """Files in ``outputs_dir/<session id>/`` on a disk every node shares."""

    def __init__(self, outputs_dir: Path) -> None:
        self.outputs_dir = outputs_dir

    async def publish(self, session_id: str, path: Path) -> None:
        return None  # written in place by the run

    def _folder(self, session_id: str) -> Path | None:
        folder = self.outputs_dir / session_id
        if folder.is_symlink() or not folder.is_dir():
            return None
        return folder.resolve()

    async def names(self, session_id: str) -> list[str]:
        folder = self._folder(session_id)
        if folder is None:
            return []
        return sorted(
            p.name
            for p in folder.iterdir()
            if not p.is_symlink() and p.is_file() and servable(p.name)
        )

    async def read(self, session_id: str, name: str) -> Path | None:
        folder = self._folder(session_id)
        if folder is None or not servable(name):
            return None
        path = folder / name
        if path.is_symlink() or path.resolve().parent != folder or not path.is_file():
            return None
        return path

    async def remove(self, session_id: str) -> None:
        folder = self.outputs_dir / session_id
        if folder.is_symlink():
            folder.unlink()
        elif folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


class S3FileStore:
    """Files as objects in an S3-compatible bucket (boto3, its blocking calls in threads)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> S3FileStore:
        import boto3  # type: ignore[import-untyped]

        key = settings.s3_access_key.get_secret_value() if settings.s3_access_key else None
        secret = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )
        return cls(client, str(settings.s3_bucket), settings.s3_prefix)

    def _key(self, session_id: str, name: str = "") -> str:
        return f"{self.prefix}{session_id}/{name}"

    async def publish(self, session_id: str, path: Path) -> None:
        await asyncio.to_thread(
            self.client.upload_file, str(path), self.bucket, self._key(session_id, path.name)
        )

    def _list(self, session_id: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(session_id)
        )
        keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
        return [str(k) for k in keys]

    async def names(self, session_id: str) -> list[str]:
        keys = await asyncio.to_thread(self._list, session_id)
        start = len(self._key(session_id))
        return sorted(k[start:] for k in keys if servable(k[start:]))

    async def read(self, session_id: str, name: str) -> bytes | None:
        if not servable(name):
            return None

        def get() -> bytes | None:
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self._key(session_id, name))
            except self.client.exceptions.NoSuchKey:
                return None
            data: bytes = body["Body"].read()
            return data

        return await asyncio.to_thread(get)

    async def remove(self, session_id: str) -> None:
        keys = await asyncio.to_thread(self._list, session_id)
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            await asyncio.to_thread(
                self.client.delete_objects, Bucket=self.bucket, Delete={"Objects": batch}
            )


_made: dict[int, tuple[Settings, FileStore]] = {}


def make_file_store(settings: Settings) -> FileStore:
    """The store ``TK9_FILE_STORE`` names (one per ``Settings`` object: an S3 client is
    built once, not per request)."""
    kept = _made.get(id(settings))
    if kept is not None and kept[0] is settings:
        return kept[1]
    store: FileStore
    if settings.file_store == "s3":
        store = S3FileStore.from_settings(settings)
    else:
        store = LocalFileStore(settings.outputs_dir)
    _made[id(settings)] = (settings, store)
    return store
