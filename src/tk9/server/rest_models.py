"""Response bodies of the REST endpoints that had none: ``GET /api/config``.

Declared as pydantic models so the endpoint's answer is checked and documented (OpenAPI), and so
``scripts/gen_types.py`` can generate the dashboard's TypeScript for it instead of the frontend
copying the shape by hand.
"""

from __future__ import annotations

from pydantic import BaseModel

from tk9.research.corpus_info import CorpusInfo
from tk9.research.translate import Method


class LanguageOption(BaseModel):
    """One language of the new-research form and how a report would reach it."""

    code: str
    name: str
    translation: Method
    via: str
    """``Apertium eng-cat``, the language model, or the sentence saying the report stays
    English."""


class AppConfig(BaseModel):
    """What the new-research form needs (``GET /api/config``)."""

    languages: list[LanguageOption]
    source_language: str
    translation_targets: list[str]
    """Codes a report can really be translated into on this server (the source included)."""
    engines: list[str]
    min_subject: int
    max_subject: int
    heartbeat_interval: float
    heartbeat_timeout: float
    demo: bool
    corpus: CorpusInfo | None
    """What a run searches; ``null`` when the server could not tell."""


class CancelResult(BaseModel):
    """``POST /api/sessions/{id}/cancel``: whether a running run was told to stop."""

    cancelled: bool
