"""The research-quality benchmark's labels and metrics: pure functions of a Markdown report.

Used by ``bench/research_quality.py`` (which runs the pipeline) and tested on their own in
``tests/bench/test_quality_metrics.py``. The labels live in ``bench/quality_subjects.toml``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from tk9.events import RunStatus
from tk9.research.documents import WIKI_URL

LABELS = Path(__file__).with_name("quality_subjects.toml")
GOALS = {"precision": 0.9, "central_recall": 0.8, "prose_words": 500, "cold_s": 120, "warm_s": 5}

# --- labels -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subject:
    """A labelled subject; ``covered`` is False for one the corpus does not hold."""

    name: str
    area: str = ""
    central: tuple[str, ...] = ()
    on_topic: tuple[str, ...] = ()
    traps: tuple[str, ...] = ()
    covered: bool = True

    @property
    def relevant(self) -> frozenset[str]:
        return frozenset(self.central) | frozenset(self.on_topic)


def load_subjects(path: Path = LABELS) -> list[Subject]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    subjects = [
        Subject(
            name=s["name"],
            area=s.get("area", ""),
            central=tuple(s["central"]),
            on_topic=tuple(s.get("on_topic", ())),
            traps=tuple(s.get("traps", ())),
        )
        for s in data.get("subject", [])
    ]
    subjects += [
        Subject(name=s["name"], area="uncovered", covered=False) for s in data.get("uncovered", [])
    ]
    return subjects


def label_errors(subjects: list[Subject], titles: set[str]) -> list[str]:
    """Every labelled title the corpus lacks, and every title labelled both ways."""
    errors = []
    for s in subjects:
        for title in (*s.central, *s.on_topic, *s.traps):
            if title not in titles:
                errors.append(f"{s.name}: {title!r} is not a corpus title")
        for title in s.relevant & set(s.traps):
            errors.append(f"{s.name}: {title!r} is both relevant and a trap")
    return errors


# --- metrics (pure) -----------------------------------------------------------------------------

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_NOT_PROSE = re.compile(
    r"^(?:(?:table of )?contents|references|sources|bibliography|about this report"
    r"|how this report was made)$",
    re.I,
)
"""Sections about the report rather than its subject (the coverage note is one)."""
_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*+])\s+(.*)$")
_URL = re.compile(r"<([a-z][a-z0-9+.-]*:[^>\s]+)>|\]\(([a-z][a-z0-9+.-]*:[^)\s]+)\)|(https?://\S+)")
_MARKER = re.compile(r"\[\d+(?:\s*[,–-]\s*\d+)*\]")
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")
_ESCAPE = re.compile(r"\\([\\`*_\[\]<>()#+\-.!|{}])")


def cited_titles(markdown: str) -> list[str]:
    """Titles in the reference list (items after the last "References" heading), in order.

    A Wikipedia URL names its article exactly, so its title is read from the URL; otherwise
    the item's text before the URL (or the link text) is the title.
    """
    lines = markdown.splitlines()
    start = None
    for i, line in enumerate(lines):
        match = _HEADING.match(line)
        if match and match.group(2).strip().lower() in {"references", "sources"}:
            start = i + 1
    if start is None:
        return []
    titles = []
    for line in lines[start:]:
        if _HEADING.match(line):
            break
        item = _ITEM.match(line)
        if item:
            titles.append(_reference_title(item.group(1)))
    return [t for t in titles if t]


def _reference_title(text: str) -> str:
    url_match = _URL.search(text)
    url = next((g for g in url_match.groups() if g), "") if url_match else ""
    if url.startswith(WIKI_URL):
        return unquote(url[len(WIKI_URL) :].rstrip(">.,;")).replace("_", " ")
    link = re.match(r"\s*\[(.+?)\]\(", text)
    title = link.group(1) if link else (text[: url_match.start()] if url_match else text)
    title = _ESCAPE.sub(r"\1", title).strip()
    return re.sub(r"\s*[—–:-]\s*$", "", title).strip()


def prose_words(markdown: str) -> int:
    """Words a reader reads as the report's prose.

    Left out: the title (level-1 heading) and everything between it and the first level-2
    heading (the note under the title), heading lines, the contents list, the reference list
    (and any section named Contents/References/Sources/Bibliography, or "About this report",
    where the coverage of the sources is stated, or "How this report was made", the agents'
    timeline), and ``[n]`` markers.
    """
    words = 0
    seen_section = False
    skipping = True  # before the first level-2 heading
    for line in markdown.splitlines():
        match = _HEADING.match(line)
        if match:
            if len(match.group(1)) == 1 and not seen_section:
                skipping = True
                continue
            if len(match.group(1)) == 2:
                seen_section = True
            skipping = bool(_NOT_PROSE.match(match.group(2).strip()))
            continue
        if skipping:
            continue
        text = _MARKER.sub(" ", _ESCAPE.sub(r"\1", line))
        text = re.sub(r"^\s*(?:\d+[.)]|[-*+>])\s+", "", text)
        words += len(_WORD.findall(text))
    return words


def source_precision(cited: list[str], subject: Subject) -> float | None:
    """On-topic share of the distinct cited sources; None when nothing was cited or the
    subject is uncovered (nothing there is on-topic: such a run is judged by its outcome)."""
    distinct = set(cited)
    if not distinct or not subject.covered:
        return None
    return len(distinct & subject.relevant) / len(distinct)


def central_recall(cited: list[str], subject: Subject) -> float | None:
    """Share of the subject's central articles that were cited; None for an uncovered one."""
    if not subject.central:
        return None
    return len(set(cited) & set(subject.central)) / len(subject.central)


def off_topic(cited: list[str], subject: Subject) -> list[str]:
    """Cited titles that are not labelled relevant (traps first), without repeats."""
    out = sorted(
        {t for t in cited if t not in subject.relevant}, key=lambda t: t not in subject.traps
    )
    return out


def wrongly_green(status: str, subject: Subject, cited: list[str]) -> bool:
    """Plain ``completed`` for a subject the corpus lacks, or with an off-topic source."""
    if status != RunStatus.COMPLETED:
        return False
    return not subject.covered or bool(off_topic(cited, subject))
