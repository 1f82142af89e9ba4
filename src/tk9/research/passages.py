"""Passages: the unit of dense retrieval, and the cache of their embeddings.

A document is cut into passages of whole sentences, at most :data:`PASSAGE_WORDS` words
(about 120 word pieces, under the model's 128-token window), so each embedding describes a few
sentences rather than a whole article. Each passage is embedded with its document's title in
front ("Mount Fuji: It is the highest mountain…"), which gives a passage that opens with a
pronoun its subject. Embeddings are stored as float16 BLOBs keyed by the model and a hash of
that text, so an edited file only re-embeds the passages whose text changed, two sources
holding the same text share one row, and a corpus is embedded once per model.

These functions take the index's SQLite connection; :class:`tk9.research.corpus.CorpusIndex`
calls them under its lock.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tk9.research.text import sentences, words

PASSAGE_WORDS = 90
"""Most words in one passage (a longer single sentence is cut at this many words)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages (doc_id);
CREATE INDEX IF NOT EXISTS passages_hash ON passages (hash);
CREATE VIRTUAL TABLE IF NOT EXISTS passage_terms USING fts5(
    title, text, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, hash)
) WITHOUT ROWID;
"""

Embed = Callable[[Sequence[str]], NDArray[np.float32]]


@dataclass(frozen=True, slots=True)
class Pending:
    """Passages of the given sources that have no embedding for a model yet."""

    hashes: list[str]
    texts: list[str]


def split_passages(body: str, limit: int = PASSAGE_WORDS) -> list[str]:
    """``body`` as consecutive passages of whole sentences, each at most ``limit`` words."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for sentence in sentences(body):
        n = len(words(sentence))
        if n > limit:  # one overlong "sentence" (a list, a table): cut it by words
            tokens = sentence.split()
            pieces = [" ".join(tokens[i : i + limit]) for i in range(0, len(tokens), limit)]
        else:
            pieces = [sentence]
        for piece in pieces:
            n = min(n, limit) if len(pieces) == 1 else len(words(piece))
            if current and size + n > limit:
                out.append(" ".join(current))
                current, size = [], 0
            current.append(piece)
            size += n
    if current:
        out.append(" ".join(current))
    return out


def embedding_text(title: str, passage: str) -> str:
    """What is embedded for a passage: its document's title, then the passage."""
    return f"{title}: {passage}" if title else passage


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def insert_passages(
    db: sqlite3.Connection, doc_id: int, title: str, body: str, shadow: Callable[[str], str]
) -> None:
    """Store ``body``'s passages for document ``doc_id``, with their stemmed full-text shadow."""
    for ordinal, text in enumerate(split_passages(body)):
        digest = text_hash(embedding_text(title, text))
        cursor = db.execute(
            "INSERT INTO passages (doc_id, ordinal, text, hash) VALUES (?, ?, ?, ?)",
            (doc_id, ordinal, text, digest),
        )
        db.execute(
            "INSERT INTO passage_terms (rowid, title, text) VALUES (?, ?, ?)",
            (cursor.lastrowid, shadow(title) if ordinal == 0 else "", shadow(text)),
        )


def delete_passages(db: sqlite3.Connection, doc_id: int) -> None:
    """Drop document ``doc_id``'s passages (their embeddings stay until :func:`collect`)."""
    db.execute(
        "DELETE FROM passage_terms WHERE rowid IN (SELECT id FROM passages WHERE doc_id = ?)",
        (doc_id,),
    )
    db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))


def collect(db: sqlite3.Connection) -> int:
    """Delete embeddings no passage uses any more; returns how many."""
    cursor = db.execute(
        "DELETE FROM embeddings WHERE NOT EXISTS "
        "(SELECT 1 FROM passages p WHERE p.hash = embeddings.hash)"
    )
    return cursor.rowcount


def pending(db: sqlite3.Connection, model: str, sources: Sequence[str]) -> Pending:
    """Passages of ``sources`` not yet embedded by ``model``; every document's lead passage
    comes first, so a run interrupted part-way has embedded the most useful ones."""
    marks = ",".join("?" * len(sources))
    rows = db.execute(
        "SELECT p.hash, d.title, p.text, min(p.ordinal) AS o FROM passages p "
        f"JOIN documents d ON d.id = p.doc_id WHERE d.source IN ({marks}) "
        "AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = ? AND e.hash = p.hash) "
        "GROUP BY p.hash ORDER BY o, p.id",
        (*sources, model),
    ).fetchall()
    return Pending([h for h, _, _, _ in rows], [embedding_text(t, x) for _, t, x, _ in rows])


def store(
    db: sqlite3.Connection, model: str, hashes: Sequence[str], vectors: NDArray[np.float32]
) -> None:
    """Save embeddings (as float16: half the space, cosines change by < 0.001)."""
    half = vectors.astype(np.float16)
    db.executemany(
        "INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?)",
        ((model, h, half[i].tobytes()) for i, h in enumerate(hashes)),
    )


def load(
    db: sqlite3.Connection, model: str, sources: Sequence[str]
) -> tuple[NDArray[np.int64], NDArray[np.float16]]:
    """Passage ids and their embeddings (float16 rows) for every embedded passage of
    ``sources``."""
    marks = ",".join("?" * len(sources))
    rows = db.execute(
        "SELECT p.id, e.vector FROM passages p JOIN documents d ON d.id = p.doc_id "
        "JOIN embeddings e ON e.model = ? AND e.hash = p.hash "
        f"WHERE d.source IN ({marks}) ORDER BY p.id",
        (model, *sources),
    ).fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    blob = b"".join(r[1] for r in rows)
    return ids, np.frombuffer(blob, dtype=np.float16).reshape(len(rows), -1)
