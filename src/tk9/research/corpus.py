"""The corpus index: documents, passages and their embeddings, built once and kept in sync.

One index file per data directory (``<data_dir>/corpus/index.sqlite3``). Each source — a
local folder, or the offline wiki — is synchronised incrementally: a file is re-read only when
its size or modification time changed, removed files are dropped, and the 10k-article wiki is
indexed once and reused until the installed package changes. Searches are restricted to the
sources of the current run, so two runs with different folders never see each other's files.

Full-text search (FTS5, BM25) runs over a *stemmed shadow* of every text: words are stemmed
with :func:`tk9.research.text.stem` (Snowball) before indexing and so are queries, so the index
and the relevance judgement never disagree on what matches (FTS5's own Porter tokenizer
would). Dense search and the hybrid of both live in :mod:`tk9.research.hybrid`; passages and
their embeddings in :mod:`tk9.research.passages`.

All methods block; the pipeline calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tk9.research import passages
from tk9.research.documents import (
    Document,
    UnreadableDocument,
    corpus_files,
    read_document,
    wiki_documents,
)
from tk9.research.relevance import concept_words
from tk9.research.text import STOPWORDS, stem, stems, words

SCHEMA_VERSION = 2
"""Bumped when the layout or the stemming changes: an index of another version is rebuilt
(embeddings are kept: they depend only on the model and the passage text)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    source TEXT NOT NULL,
    uri TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    doc_rowid INTEGER,
    PRIMARY KEY (source, uri)
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    uri TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source ON documents (source);
CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(
    title, body, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_REBUILT = ("files", "docs", "documents", "passages", "passage_terms", "state")


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
    """Documents grouped by source, with full-text and passage indexes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.Lock()
        """Held around every use of :attr:`db` (one connection shared by threads)."""
        self.db = sqlite3.connect(
            path, check_same_thread=False, timeout=120.0, isolation_level=None
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        with self.write():
            if self.db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                for table in _REBUILT:
                    self.db.execute(f"DROP TABLE IF EXISTS {table}")
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            for statement in (_SCHEMA + passages.SCHEMA).split(";"):
                if statement.strip():  # one by one: executescript would commit
                    self.db.execute(statement)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction; IMMEDIATE so two processes syncing at once serialise
        (the second then sees the first's work as unchanged instead of redoing it)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @property
    def generation(self) -> int:
        """Increases whenever documents are added or removed (caches compare it)."""
        with self.lock:
            return self.generation_locked()

    def generation_locked(self) -> int:
        """:attr:`generation`, for a caller already holding :attr:`lock`."""
        row = self.db.execute("SELECT value FROM state WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def _bump(self) -> None:
        self.db.execute(
            "INSERT INTO state VALUES ('generation', 1) "
            "ON CONFLICT (key) DO UPDATE SET value = value + 1"
        )

    def sync_folder(self, root: Path) -> SyncReport:
        """Bring the index in line with the files under ``root``."""
        source = folder_source(root)
        report = SyncReport(source=source)
        files = corpus_files(root)
        with self.lock, self.write():
            known = {
                uri: (fp, rowid)
                for uri, fp, rowid in self.db.execute(
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
                    self._delete(old[1])
                try:
                    doc = read_document(path)
                except UnreadableDocument as exc:
                    report.unreadable.append(exc.message)
                    rowid = None  # remembered so an unchanged broken file is not re-read
                else:
                    rowid = self._insert(doc, source) if doc.body.strip() else None
                self.db.execute(
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
                        self._delete(rowid)
                    self.db.execute("DELETE FROM files WHERE source = ? AND uri = ?", (source, uri))
                    report.removed += 1
            if report.added or report.updated or report.removed:
                self._bump()
                passages.collect(self.db)
        return report

    def sync_wiki(self, data_file: Path, locale: str = "en-us") -> SyncReport:
        """Index the wiki summaries once; reuse them while the package file is unchanged."""
        source = wiki_source(locale)
        report = SyncReport(source=source)
        stat = data_file.stat()
        fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}"
        with self.lock, self.write():
            row = self.db.execute(
                "SELECT fingerprint FROM files WHERE source = ? AND uri = ?",
                (source, str(data_file)),
            ).fetchone()
            if row is not None and row[0] == fingerprint:
                report.unchanged = 1
                return report
            for (doc_id,) in self.db.execute(
                "SELECT id FROM documents WHERE source = ?", (source,)
            ).fetchall():
                self._delete(doc_id)
            self.db.execute("DELETE FROM files WHERE source = ?", (source,))
            for doc in wiki_documents(data_file):
                self._insert(doc, source)
            self.db.execute(
                "INSERT INTO files VALUES (?, ?, ?, NULL)", (source, str(data_file), fingerprint)
            )
            self._bump()
            passages.collect(self.db)
            report.added = 1
        return report

    def _insert(self, doc: Document, source: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO documents (source, uri, title, body) VALUES (?, ?, ?, ?)",
            (source, doc.uri, doc.title, doc.body),
        )
        doc_id = int(cursor.lastrowid or 0)
        self.db.execute(
            "INSERT INTO docs (rowid, title, body) VALUES (?, ?, ?)",
            (doc_id, stems(doc.title), stems(doc.body)),
        )
        passages.insert_passages(self.db, doc_id, doc.title, doc.body, stems)
        return doc_id

    def _delete(self, doc_id: int) -> None:
        self.db.execute("DELETE FROM docs WHERE rowid = ?", (doc_id,))
        self.db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        passages.delete_passages(self.db, doc_id)

    def count(self, sources: Sequence[str]) -> int:
        """Documents indexed for ``sources``."""
        if not sources:
            return 0
        marks = ",".join("?" * len(sources))
        with self.lock:
            row = self.db.execute(
                f"SELECT count(*) FROM documents WHERE source IN ({marks})", tuple(sources)
            ).fetchone()
        return int(row[0])

    def search(
        self, query: str, sources: Sequence[str], limit: int = 10, exclude: Iterable[str] = ()
    ) -> list[Hit]:
        """Best documents for ``query`` by BM25 over stemmed text (any of its content words;
        titles weigh five times more)."""
        if not sources:
            return []
        match = fts_stems(query)
        if not match:
            return []
        excluded = set(exclude)
        marks = ",".join("?" * len(sources))
        sql = (
            "SELECT d.uri, d.title, d.body, bm25(docs, 5.0, 1.0) AS rank FROM docs "
            "JOIN documents d ON d.id = docs.rowid "
            f"WHERE docs MATCH ? AND d.source IN ({marks}) ORDER BY rank LIMIT ?"
        )
        with self.lock:
            rows = self.db.execute(sql, (match, *sources, limit + len(excluded))).fetchall()
        hits = [
            Hit(Document(uri=uri, title=title, body=body), -float(rank))
            for uri, title, body, rank in rows
            if uri not in excluded
        ]
        return hits[:limit]

    def titled(
        self, names: Iterable[tuple[str, ...]], sources: Sequence[str], limit: int = 200
    ) -> list[Document]:
        """Documents whose title holds one of ``names`` (runs of stemmed words, as the index
        stores them: ``("black", "hole")``), best title match first. The caller decides which
        titles count: this only narrows 10,000 titles to the few that share a run. One FTS5
        query over the first 400 names (a wiki summary gives ~250; a long document is looked up
        by its opening)."""
        phrases = list(dict.fromkeys(" ".join(n).replace('"', "") for n in names if n))
        if not sources or not phrases:
            return []
        marks = ",".join("?" * len(sources))
        sql = (
            "SELECT d.uri, d.title, d.body FROM docs JOIN documents d ON d.id = docs.rowid "
            f"WHERE docs MATCH ? AND d.source IN ({marks}) ORDER BY bm25(docs, 5.0, 0.0) LIMIT ?"
        )
        match = "title : (" + " OR ".join(f'"{p}"' for p in phrases[:400]) + ")"
        with self.lock:
            rows = self.db.execute(sql, (match, *sources, limit)).fetchall()
        return [Document(uri=uri, title=title, body=body) for uri, title, body in rows]

    def variants(self, word: str) -> list[str]:
        """The index terms ``word`` matches: its Snowball stem (the index holds stems only;
        related words with other stems, "tidal"/"tide", are found by meaning instead)."""
        return [stem(word.lower())]

    def frequencies(self, subject: str, sources: Sequence[str]) -> dict[str, int]:
        """Documents of ``sources`` using each content word of ``subject`` (by root)."""
        out: dict[str, int] = {}
        if not sources:
            return out
        marks = ",".join("?" * len(sources))
        sql = (
            "SELECT count(*) FROM docs JOIN documents d ON d.id = docs.rowid "
            f"WHERE docs MATCH ? AND d.source IN ({marks})"
        )
        with self.lock:
            for _, root in concept_words(subject):
                match = fts_match([[root]])
                out[root] = int(self.db.execute(sql, (match, *sources)).fetchone()[0])
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


def fts_stems(text: str) -> str:
    """:func:`fts_query` of the words' stems: what to match against the stemmed index."""
    content = [w for w in words(text) if w not in STOPWORDS and len(w) > 1]
    return fts_match([[stem(w) for w in content[:32]]])
