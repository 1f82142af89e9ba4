"""The corpus index: SQLite FTS5 over every document source, built once and kept in sync.

One index file per data directory (``<data_dir>/corpus/index.sqlite3``). Each source — a
local folder, or the offline wiki — is synchronised incrementally: a file is re-read only when
its size or modification time changed, removed files are dropped, and the 10k-article wiki is
indexed once and reused until the installed package changes. Searches are restricted to the
sources of the current run, so two runs with different folders never see each other's files.

All methods block; the pipeline calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tk9.research.documents import (
    Document,
    UnreadableDocument,
    corpus_files,
    read_document,
    wiki_documents,
)
from tk9.research.relevance import concept_words
from tk9.research.text import STOPWORDS, stem, words

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    source TEXT NOT NULL,
    uri TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    doc_rowid INTEGER,
    PRIMARY KEY (source, uri)
);
CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(
    title, body, uri UNINDEXED, source UNINDEXED, tokenize = 'porter unicode61'
);
"""


@dataclass(slots=True)
class SyncReport:
    """What one synchronisation changed."""

    source: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    unreadable: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Hit:
    document: Document
    score: float
    """bm25 relevance, higher is better."""


def folder_source(root: Path) -> str:
    return f"dir:{root.resolve()}"


def wiki_source(locale: str = "en-us") -> str:
    return f"wiki:{locale}"


class CorpusIndex:
    """An FTS5 index of documents grouped by source."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, check_same_thread=False, timeout=120.0, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        # The index's vocabulary (porter stems), per connection: finds "tide" for "tidal".
        self._db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, docs, 'row')"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction; IMMEDIATE so two processes syncing at once serialise
        (the second then sees the first's work as unchanged instead of redoing it)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def sync_folder(self, root: Path) -> SyncReport:
        """Bring the index in line with the files under ``root``."""
        source = folder_source(root)
        report = SyncReport(source=source)
        files = corpus_files(root)
        with self._lock, self._write():
            known = {
                uri: (fp, rowid)
                for uri, fp, rowid in self._db.execute(
                    "SELECT uri, fingerprint, doc_rowid FROM files WHERE source = ?", (source,)
                )
            }
            seen: set[str] = set()
            for path in files:
                uri = path.resolve().as_uri()
                seen.add(uri)
                stat = path.stat()
                fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}"
                old = known.get(uri)
                if old is not None and old[0] == fingerprint:
                    report.unchanged += 1
                    continue
                if old is not None and old[1] is not None:
                    self._db.execute("DELETE FROM docs WHERE rowid = ?", (old[1],))
                try:
                    doc = read_document(path)
                except UnreadableDocument as exc:
                    report.unreadable.append(exc.message)
                    rowid = None  # remembered so an unchanged broken file is not re-read
                else:
                    rowid = self._insert(doc, source) if doc.body.strip() else None
                self._db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                    (source, uri, fingerprint, rowid),
                )
                if old is None:
                    report.added += 1
                else:
                    report.updated += 1
            for uri, (_, rowid) in known.items():
                if uri not in seen:
                    if rowid is not None:
                        self._db.execute("DELETE FROM docs WHERE rowid = ?", (rowid,))
                    self._db.execute(
                        "DELETE FROM files WHERE source = ? AND uri = ?", (source, uri)
                    )
                    report.removed += 1
        return report

    def sync_wiki(self, data_file: Path, locale: str = "en-us") -> SyncReport:
        """Index the wiki summaries once; reuse them while the package file is unchanged."""
        source = wiki_source(locale)
        report = SyncReport(source=source)
        stat = data_file.stat()
        fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}"
        with self._lock, self._write():
            row = self._db.execute(
                "SELECT fingerprint FROM files WHERE source = ? AND uri = ?",
                (source, str(data_file)),
            ).fetchone()
            if row is not None and row[0] == fingerprint:
                report.unchanged = 1
                return report
            self._db.execute("DELETE FROM docs WHERE source = ?", (source,))
            self._db.execute("DELETE FROM files WHERE source = ?", (source,))
            self._db.executemany(
                "INSERT INTO docs (title, body, uri, source) VALUES (?, ?, ?, ?)",
                ((d.title, d.body, d.uri, source) for d in wiki_documents(data_file)),
            )
            self._db.execute(
                "INSERT INTO files VALUES (?, ?, ?, NULL)", (source, str(data_file), fingerprint)
            )
            report.added = 1
        return report

    def _insert(self, doc: Document, source: str) -> int:
        cursor = self._db.execute(
            "INSERT INTO docs (title, body, uri, source) VALUES (?, ?, ?, ?)",
            (doc.title, doc.body, doc.uri, source),
        )
        return int(cursor.lastrowid or 0)

    def count(self, sources: Sequence[str]) -> int:
        """Documents indexed for ``sources``."""
        if not sources:
            return 0
        marks = ",".join("?" * len(sources))
        with self._lock:
            row = self._db.execute(
                f"SELECT count(*) FROM docs WHERE source IN ({marks})", tuple(sources)
            ).fetchone()
        return int(row[0])

    def search(
        self, query: str, sources: Sequence[str], limit: int = 10, exclude: Iterable[str] = ()
    ) -> list[Hit]:
        """Best matches for ``query`` (any of its content words or their variants in the index,
        see :meth:`variants`; titles weigh five times more)."""
        if not sources:
            return []
        with self._lock:
            match = fts_match([self._variants(word) for word, _ in concept_words(query)])
        if not match:
            return []
        excluded = set(exclude)
        marks = ",".join("?" * len(sources))
        sql = (
            "SELECT uri, title, body, bm25(docs, 5.0, 1.0) AS rank FROM docs "
            f"WHERE docs MATCH ? AND source IN ({marks}) ORDER BY rank LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (match, *sources, limit + len(excluded))).fetchall()
        hits = [
            Hit(Document(uri=uri, title=title, body=body), -float(rank))
            for uri, title, body, rank in rows
            if uri not in excluded
        ]
        return hits[:limit]

    def variants(self, word: str) -> list[str]:
        """``word`` and the indexed terms sharing its root (:func:`stem`): "tidal" → tide."""
        with self._lock:
            return self._variants(word)

    def _variants(self, word: str) -> list[str]:
        root = stem(word)
        found = [word]
        rows = self._db.execute(
            "SELECT term FROM temp.vocab WHERE term >= ? AND term < ? LIMIT 200",
            (root, root + "\uffff"),
        )
        for (term,) in rows:
            # the index holds porter stems, which end "energy" as "energi"
            same = stem(term) == root or (term.endswith("i") and stem(term[:-1] + "y") == root)
            if same and term not in found:
                found.append(term)
        return found

    def frequencies(self, subject: str, sources: Sequence[str]) -> dict[str, int]:
        """Documents of ``sources`` using each content word of ``subject`` (by root)."""
        out: dict[str, int] = {}
        if not sources:
            return out
        marks = ",".join("?" * len(sources))
        sql = f"SELECT count(*) FROM docs WHERE docs MATCH ? AND source IN ({marks})"
        with self._lock:
            for word, root in concept_words(subject):
                match = fts_match([self._variants(word)])
                out[root] = int(self._db.execute(sql, (match, *sources)).fetchone()[0])
        return out


def fts_match(groups: Sequence[Sequence[str]]) -> str:
    """An FTS5 ``OR`` query of every term of every group, each quoted (no syntax leaks)."""
    seen: list[str] = []
    for group in groups:
        for term in group:
            clean = term.replace('"', "")
            if clean and clean not in seen:
                seen.append(clean)
    return " OR ".join(f'"{t}"' for t in seen[:64])


def fts_query(text: str) -> str:
    """An FTS5 ``OR`` query of the content words of ``text``, each quoted (no syntax leaks)."""
    seen: list[str] = []
    for word in words(text):
        if word not in STOPWORDS and len(word) > 1 and word not in seen:
            seen.append(word)
    return " OR ".join(f'"{w}"' for w in seen[:32])
