"""Checks on a research request, done before any work starts (bad input changes nothing).

The accepted languages are the ISO 639-1 two-letter codes. A code is accepted even when no
translator for it is installed: the Translator then reports an explicit ``skipped`` with the
reason and the run ends ``completed_with_warnings`` (the report stays in English) instead of
being refused, so the set of accepted requests does not depend on which Debian packages happen
to be present. The dashboard and the CLI say so before the run starts
(:mod:`tk9.research.translate`).
"""

from __future__ import annotations

from tk9.errors import InvalidInput
from tk9.research.languages import LANGUAGE_NAMES

MIN_SUBJECT = 3
MAX_SUBJECT = 1000
SOURCE_LANGUAGE = "en"
"""The language the corpus is read in and the report is first written in."""

ISO_639_1: frozenset[str] = frozenset(LANGUAGE_NAMES)
"""The accepted language codes: every ISO 639-1 code."""


def validate_request(subject: str, language: str) -> tuple[str, str]:
    """Return the normalised ``(subject, language)`` or raise :class:`InvalidInput`.

    The subject is stripped and its inner whitespace collapsed; the language is lower-cased.
    """
    if not isinstance(subject, str) or not isinstance(language, str):
        raise InvalidInput("subject and language must be strings")
    clean = " ".join(subject.split())
    if len(clean) < MIN_SUBJECT:
        raise InvalidInput(
            f"subject must be at least {MIN_SUBJECT} characters (got {len(clean)})",
            field="subject",
        )
    if len(clean) > MAX_SUBJECT:
        raise InvalidInput(
            f"subject must be at most {MAX_SUBJECT} characters (got {len(clean)})",
            field="subject",
        )
    code = language.strip().lower()
    if code not in ISO_639_1:
        named = [c for c, name in LANGUAGE_NAMES.items() if name.lower() == code]
        hint = f"did you mean {named[0]!r}? " if named else ""
        raise InvalidInput(
            f"unknown language code {language!r}: {hint}"
            "use an ISO 639-1 code such as 'en', 'es', 'fr'",
            field="language",
        )
    return clean, code
