"""The extractive report, planned at once: introduction, sections by subtopic, key points.

Given the documents judged on the subject (its own article first), :func:`compose`:

1. cuts them into quotable units (:mod:`.sentences`: a sentence opening with "It", "This",
   "later that century"… comes with the sentence it leans on, or not at all);
2. keeps the units close in meaning to the subject (embedding cosine ≥ the embedder's
   ``sentence`` threshold, or holding a key phrase);
3. opens with the definition: the first sentences of the subject's own article;
4. clusters the rest into subtopics (:mod:`.outline`), fills each up to its share of the word
   budget with its most relevant, least redundant units, names and orders the sections;
5. ends with key points: the most central relevant sentences not quoted anywhere above.

No sentence appears twice in the plan. Pure: vectors come from the :class:`Embedder` passed in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tk9.research.documents import Document
from tk9.research.outline import cluster, distinctive_phrase, order
from tk9.research.relevance import is_main
from tk9.research.semantic import Embedder, centrality, similarities
from tk9.research.sentences import Unit, units
from tk9.research.subject import Subject, presence, required
from tk9.research.text import words

WORD_BUDGET = 1200
"""Words of prose aimed at (introduction + sections + key points): 800–1,500 when the
evidence allows."""
INTRO_WORDS = 150
KEY_POINT_WORDS = 250
NEAR_DUPLICATE = 0.9


@dataclass(slots=True)
class Plan:
    """What the extractive engine will write; unit sources index :attr:`documents`."""

    documents: list[Document]
    introduction: list[Unit] = field(default_factory=list)
    sections: list[tuple[str, list[Unit]]] = field(default_factory=list)
    key_points: list[Unit] = field(default_factory=list)

    def words(self) -> int:
        every = [*self.introduction, *self.key_points]
        every += [u for _, us in self.sections for u in us]
        return sum(u.word_count for u in every)


def compose(
    subject: Subject,
    documents: Sequence[Document],
    embedder: Embedder,
    max_sections: int,
    context: frozenset[str] = frozenset(),
) -> Plan:
    """Plan the report on ``subject`` from ``documents`` (on the subject, best first). From a
    document whose URI is in ``context`` (it names the subject without being about it), only
    units that name a key phrase are quoted."""
    docs = list(documents)
    plan = Plan(docs)
    pool = units(docs)
    if not pool:
        return plan
    query = subject.text  # with its framing, as the Browser judged documents
    vectors = embedder.embed([query, *(u.text for u in pool)])
    relevance = similarities(vectors[:1], vectors[1:])[0].astype(np.float64)
    lexical = np.array([_phrase_share(subject, u) for u in pool])
    main = {i for i, d in enumerate(docs) if is_main(subject, d)}
    score = relevance + 0.15 * lexical + np.array([0.05 * (u.last.source in main) for u in pool])
    naming = {i for i, d in enumerate(docs) if d.uri in context}
    keep = [
        i
        for i in range(len(pool))
        if (pool[i].last.source not in naming or _names_subject(subject, pool[i]))
        and (relevance[i] >= embedder.sentence or lexical[i] > 0 or pool[i].last.source in main)
    ]
    if not keep:
        return plan
    budget = WORD_BUDGET  # fewer documents simply hold fewer sentences: the report is shorter
    used: set[tuple[int, int]] = set()

    # the introduction: the opening of the subject's own article, else the closest units
    lead = sorted(main) or []
    intro_candidates = [i for i in keep if pool[i].last.source in lead[:1]]
    intro_candidates.sort(key=lambda i: pool[i].last.position)
    if not intro_candidates:
        intro_candidates = sorted(keep, key=lambda i: -score[i])[:3]
    plan.introduction = _fill(intro_candidates, pool, vectors[1:], used, INTRO_WORDS)

    rest = [i for i in keep if not _overlaps(pool[i], used)]
    if rest:
        k = max(1, min(max_sections, len(rest) // 4))
        labels = cluster(vectors[1:][rest], k)
        for_sections = budget - INTRO_WORDS - KEY_POINT_WORDS
        per_section = max(80.0, for_sections / k)
        groups: list[list[Unit]] = []
        pools: list[list[int]] = []
        for c in range(k):
            members = [rest[j] for j in range(len(rest)) if labels[j] == c]
            members.sort(key=lambda i: -score[i])
            chosen = _fill(members, pool, vectors[1:], used, per_section)
            if sum(len(u.sentences) for u in chosen) >= 2 or (chosen and k == 1):
                groups.append(chosen)
                pools.append(members)
            else:
                for unit in chosen:  # too thin for a section: free its sentences again
                    used.difference_update((s.source, s.position) for s in unit.sentences)
        _extend(groups, pools, pool, vectors[1:], used, for_sections)
        texts = [[u.text for u in g] for g in groups]
        names = _names(subject, docs, groups, texts)
        plan.sections = [(names[i], groups[i]) for i in order(texts, subject.framing)]

    if not plan.sections and len(plan.introduction) > 1:
        # too little for subtopics: a short introduction and one section with the rest
        group, plan.introduction = plan.introduction[1:], plan.introduction[:1]
        plan.sections = [(_names(subject, docs, [group], [[u.text for u in group]])[0], group)]

    # key points: the most central relevant units not quoted above
    left = [i for i in keep if not _overlaps(pool[i], used)]
    if left:
        central = centrality(vectors[1:][keep])
        by_index = dict(zip(keep, central, strict=True))
        left.sort(key=lambda i: -(by_index[i] + score[i]))
        plan.key_points = _fill(left, pool, vectors[1:], used, KEY_POINT_WORDS)
    return plan


def _phrase_share(subject: Subject, unit: Unit) -> float:
    doc = Document("", "", unit.text)
    total = sum(p.weight for p in subject.phrases) or 1.0
    return sum(p.weight * (presence(p, doc) > 0) for p in subject.phrases) / total


def _names_subject(subject: Subject, unit: Unit) -> bool:
    """Whether the unit's own sentence (not the antecedents it brings) names the subject's
    required phrase (one of them) as a unit of words."""
    doc = Document("", "", unit.last.text)
    return any(presence(p, doc) >= 0.5 for p in required(subject))


def _overlaps(unit: Unit, used: set[tuple[int, int]]) -> bool:
    """Whether any sentence of the unit is already quoted (its antecedent may not be, alone:
    a chain is quoted whole or not at all)."""
    return any((s.source, s.position) in used for s in unit.sentences)


def _extend(
    groups: list[list[Unit]],
    pools: Sequence[Sequence[int]],
    pool: Sequence[Unit],
    vectors: np.ndarray,
    used: set[tuple[int, int]],
    budget: float,
) -> None:
    """Share the words the sections left unspent among those with more to quote: an equal
    share per section left most of a large cluster unquoted while small ones used little."""
    for _ in range(3):
        left = budget - sum(u.word_count for g in groups for u in g)
        open_ = [i for i, m in enumerate(pools) if any(not _overlaps(pool[j], used) for j in m)]
        if left < 20 or not open_:
            return
        for i in open_:
            mine = {(s.source, s.position) for u in groups[i] for s in u.sentences}
            more = _fill(pools[i], pool, vectors, used, left / len(open_), mine)
            groups[i] = _merged([*groups[i], *more])


def _fill(
    candidates: Sequence[int],
    pool: Sequence[Unit],
    vectors: np.ndarray,
    used: set[tuple[int, int]],
    budget: float,
    mine: set[tuple[int, int]] | None = None,
) -> list[Unit]:
    """Take candidates in order while words remain, skipping near-duplicate units and units
    that share a sentence with another part of the report; mark the chosen sentences used.

    A unit may share sentences with units already chosen *for this group*: then only its new
    sentences count, and they read on from their antecedent ("It lies in the Mahalangur
    Himal…" after "Mount Everest is the highest mountain…", which the unit starting at that
    sentence had already taken). ``mine``: sentences the group already holds (a second pass).
    Returned in document order for reading."""
    chosen: list[int] = []
    mine = set() if mine is None else set(mine)
    total = 0
    for i in candidates:
        unit = pool[i]
        if total >= budget:
            break
        keys = [(s.source, s.position) for s in unit.sentences]
        shared = {k for k in keys if k in used}
        if not shared <= mine or len(shared) == len(keys):
            continue  # quoted elsewhere (its antecedent or itself), or nothing new
        if any(
            float(vectors[i] @ vectors[j]) > NEAR_DUPLICATE
            for j in chosen
            if not _shares(unit, pool[j])
        ):
            continue
        chosen.append(i)
        pairs = zip(unit.sentences, keys, strict=True)
        total += sum(len(words(s.text)) for s, k in pairs if k not in used)
        used.update(keys)
        mine.update(keys)
    return _merged([pool[i] for i in chosen])


def _merged(chosen: Sequence[Unit]) -> list[Unit]:
    """Units in document order, those that share sentences joined into one (a unit is a run
    of consecutive sentences of one document, so overlapping runs make one longer run)."""
    out: list[Unit] = []
    for unit in sorted(chosen, key=lambda u: (u.last.source, u.sentences[0].position)):
        if (
            out
            and out[-1].last.source == unit.last.source
            and (unit.sentences[0].position <= out[-1].last.position)
        ):
            known = {s.position for s in out[-1].sentences}
            extra = tuple(s for s in unit.sentences if s.position not in known)
            out[-1] = Unit(out[-1].sentences + extra)
        else:
            out.append(unit)
    return out


def _shares(a: Unit, b: Unit) -> bool:
    """Whether two units quote a sentence in common (one extends the other's chain)."""
    return not {(s.source, s.position) for s in a.sentences}.isdisjoint(
        (s.source, s.position) for s in b.sentences
    )


def _names(
    subject: Subject,
    docs: Sequence[Document],
    groups: Sequence[Sequence[Unit]],
    texts: list[list[str]],
) -> list[str]:
    """A heading per group: the title of the document most of it quotes, unless that is the
    subject's own article or already taken; else the group's most distinctive phrase."""
    exclude = {r for p in subject.phrases for r in p.roots}
    taken: set[str] = {subject.core.lower()}
    names = []
    for g, group in enumerate(groups):
        weight: Counter[int] = Counter()
        for unit in group:
            weight[unit.last.source] += unit.word_count
        name = None
        for source, _ in weight.most_common():
            title = docs[source].title
            share = weight[source] / max(1, sum(weight.values()))
            if share >= 0.5 and title.lower() not in taken and not is_main(subject, docs[source]):
                name = title
                break
        if name is None:
            others = [t for h, ts in enumerate(texts) if h != g for t in ts]
            name = distinctive_phrase(texts[g], others, exclude)
        if name is None or name.lower() in taken:
            top = weight.most_common(1)[0][0] if weight else 0
            name = _fallback(subject, docs[top], g)
        taken.add(name.lower())
        names.append(name)
    return names


def _fallback(subject: Subject, doc: Document, index: int) -> str:
    core = subject.core[:1].upper() + subject.core[1:]
    if not is_main(subject, doc):
        return f"{core}: {doc.title}"
    return f"{core}: more" if index else core


def render(group: Sequence[Unit]) -> str:
    """Quoted sentences with their ``[n]`` markers (local: source + 1), one paragraph per
    stretch of the same document, each sentence once, in the document's order."""
    seen: set[tuple[int, int]] = set()
    paragraphs: list[list[str]] = []
    last_source = -1
    for unit in group:
        for sentence in unit.sentences:
            key = (sentence.source, sentence.position)
            if key in seen:
                continue
            seen.add(key)
            if sentence.source != last_source:
                paragraphs.append([])
                last_source = sentence.source
            paragraphs[-1].append(f"{sentence.text} [{sentence.source + 1}]")
    return "\n\n".join(" ".join(p) for p in paragraphs)


def prose_words(text: str) -> int:
    return len(words(text))
