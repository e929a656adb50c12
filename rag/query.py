"""A question, analysed once: its parts, language, names, search terms, numbers and kind.

Every later step (retrieval, the reader, the answer) reads this one object instead of looking
the glossary up again. A question with two or three parts ("Who led the army to Bukhara and when
did they get there?") becomes one `Query` per part; a part that names nobody takes the names of
the parts before it, as a follow-up takes the names of the conversation before it ("What
happened to him in the end?" after "Who governed Otrar?" is about Inal Khan).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .glossary import Glossary, Mention
from .sources import GlossaryEntry
from .textnorm import detect_language, lexicon, normalize, tokenize, word_set

ANCHOR_KINDS = ("person", "place", "river")  # what a follow-up carries over from earlier turns
MAX_CARRIED = 3
TURNS_LOOKED_AT = 4
NUMBER = re.compile(r"(?<!\d)\d+(?!\d)")


@dataclass(frozen=True)
class Query:
    question: str  # the part of the question as asked
    text: str  # what is searched: the part, with the names it leans on from earlier parts or turns
    language: str  # of the question's script
    terms: tuple[str, ...]  # search terms of `text`
    mentions: tuple[Mention, ...]  # glossary names in `text`, misspellings included
    numbers: frozenset[str]  # numbers the question holds
    vector: np.ndarray = field(repr=False, compare=False, default=None)  # the embedding model's
    tuned: np.ndarray = field(repr=False, compare=False, default=None)  # the trained query head's (or the same)
    kinds: dict[str, float] = field(default_factory=dict, compare=False)  # answer kind -> probability

    @property
    def names(self) -> frozenset[str]:
        """Glossary ids the query names."""
        return frozenset(m.entry.id for m in self.mentions)

    @property
    def asked(self) -> frozenset[str]:
        """The people and places it asks about, leaving out names that are also something else
        (الجند: the town of Jand, or the troops)."""
        spans: dict[tuple[int, int], list[GlossaryEntry]] = {}
        for m in self.mentions:
            spans.setdefault((m.start, m.end), []).append(m.entry)
        return frozenset(entries[0].id for entries in spans.values()
                         if len(entries) == 1 and entries[0].kind in ("person", "place"))

    def kind(self) -> str | None:
        return max(self.kinds, key=self.kinds.get) if self.kinds else None


def split_parts(question: str) -> list[str]:
    """The parts of a question that asks two or three things at once: it is cut before a
    conjunction that opens a new question ("… and when did they …", «… ومتى …», «… وشو …»), and
    after a question mark followed by more. The words are the lexicon's (rag/data), per language."""
    language = detect_language(question)
    words = _split_words(language)
    spaced = re.sub(r"([?؟])\s*(?=\S)", r"\1 ", question.strip())
    tokens = spaced.split()
    cuts = []
    for i in range(2, len(tokens)):
        previous = tokens[i - 1]
        if previous.endswith(("?", "؟")):
            cuts.append(i)
        elif _opens_question(tokens, i, words):
            cuts.append(i)
    parts, start = [], 0
    for cut in cuts:
        if cut - start >= 2:
            parts.append(" ".join(tokens[start:cut]))
            start = cut
    parts.append(" ".join(tokens[start:]))
    parts = [p.strip(" ,،؛;") for p in parts if re.search(r"\w", p)]
    return parts[:3] if len(parts) > 1 else [question]


@lru_cache(maxsize=None)
def _split_words(language: str) -> tuple[frozenset[str], tuple[tuple[str, ...], ...]]:
    """The lexicon's conjunctions, and its question openers as word tuples (longest first), folded."""
    interrogatives = {tuple(normalize(w).split()) for w in lexicon(language)["interrogatives"]}
    return word_set(language, "conjunctions"), tuple(sorted(interrogatives, key=len, reverse=True))


def _opens_question(tokens: list[str], i: int, words) -> bool:
    """Whether tokens[i:] start a new question after a conjunction: "and when", «و متى», «ومتى»."""
    conjunctions, interrogatives = words
    folded = [normalize(t).strip(",،؛;:?؟") for t in tokens[i:i + 4]]
    if not folded:
        return False
    if folded[0] in conjunctions and len(folded) > 1:
        rest = folded[1:]
    elif folded[0][:1] in conjunctions and len(folded[0]) > 2:  # Arabic و joined to the word
        rest = [folded[0][1:], *folded[1:]]
    else:
        return False
    return any(tuple(rest[:len(w)]) == w for w in interrogatives)


class QueryAnalyzer:
    """Turns a question (and the conversation before it) into `Query` objects, one per part."""

    def __init__(self, glossary: Glossary, embedder, kinds=None, head=None, follow_up=None):
        """`embedder`: the retrieval model (rag/embeddings.py); `kinds`, `head` and `follow_up`: the
        learned `KindModel`, `QueryHead` and follow-up `KindModel` (rag/learned.py), or None before
        they are trained (then every question without names of its own leans on the conversation)."""
        self.glossary = glossary
        self.embedder = embedder
        self.kinds = kinds
        self.head = head
        self.follow_up = follow_up

    def leans_on_history(self, part: str) -> bool:
        """Whether a question without names of its own continues the conversation ("where did he go
        then?") rather than standing alone ("hi", "what is the boiling point of water?")."""
        if self.follow_up is None:
            return True
        return self.follow_up.probabilities(part, np.zeros(0, dtype=np.float32))["follow_up"] >= self.follow_up.threshold

    def analyze(self, question: str, history: list[dict] | None = None, split: bool = True) -> list[Query]:
        parts = split_parts(question) if split else [question]
        carried = self._carried_from(history or [])
        queries, earlier = [], list(carried)
        found = [self.glossary.find(part, fuzzy=True) for part in parts]
        texts = []
        for n, (part, mentions) in enumerate(zip(parts, found)):
            leans = not any(m.entry.kind in ANCHOR_KINDS for m in mentions)
            if leans and n > 0:  # "… and how long did it last?": about what the first part is about
                texts.append(f"{part} {parts[0]}")
            else:
                carry = leans and bool(earlier) and self.leans_on_history(part)
                names = [e for e in earlier if e.id not in {m.entry.id for m in mentions}] if carry else []
                language = detect_language(part)
                extra = [e.names(language)[0] for e in names[:MAX_CARRIED] if e.names(language)]
                texts.append(" ".join([part, *extra]))
            earlier = [m.entry for m in mentions if m.entry.kind in ANCHOR_KINDS] + earlier
        vectors, tuned = self.embedder.encode_queries_tuned(texts, self.head)
        for part, text, mentions, vector, tuned_vector in zip(parts, texts, found, vectors, tuned):
            if text != part:  # names were added: find them in what is searched
                mentions = self.glossary.find(text, fuzzy=True)
            mentions = tuple(mentions)
            kinds = self.kinds.probabilities(part, vector) if self.kinds is not None else {}
            queries.append(Query(part, text, detect_language(part), tuple(tokenize(text)), mentions,
                                 frozenset(NUMBER.findall(normalize(part))), vector, tuned_vector, kinds))
        return queries

    def _carried_from(self, history: list[dict]) -> list[GlossaryEntry]:
        """The people and places of the latest turns, newest first, people before places."""
        carried: list[GlossaryEntry] = []
        for turn in reversed(history[-TURNS_LOOKED_AT:]):
            mentions = sorted(self.glossary.find(turn["content"], fuzzy=True),
                              key=lambda m: ANCHOR_KINDS.index(m.entry.kind) if m.entry.kind in ANCHOR_KINDS
                              else len(ANCHOR_KINDS))
            for m in mentions:
                if m.entry.kind in ANCHOR_KINDS and m.entry not in carried:
                    carried.append(m.entry)
            if len(carried) >= MAX_CARRIED:
                break
        return carried
