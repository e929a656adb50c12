"""The default answer engine: grounded, extractive, bilingual.

No instruction model that reads Arabic runs here (see ../shared/MODELS.md), so the answer is
built from the text itself. Candidate answers are windows of one to three consecutive clauses of
the best passages, scored on features:
- coverage: the IDF-weighted share of the query's terms (glossary-expanded) the window contains;
- meaning: the query embedding's cosine with the window's clauses (precomputed at index time);
- fit: whether it holds a new thing of the kind asked for (a number for "how many", a date for
  "when", a person for "who", a place for "where", a cause for "why");
- tail: whether it goes on past the clause that matches the question best;
- the rank of its passage in retrieval, and its length.
A question whose terms the text barely covers, or never uses at all (a wife, a birth, a
population), is refused: the best window's coverage minus the share of unknown terms is too low.
The best window is quoted: Arabic from the original, English from the aligned translation. When
even the best window neither covers the question nor fits it, the text is taken to be silent.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .engine import Claim, Draft, EngineInput
from .glossary import Glossary
from .index import Index
from .passages import Passage
from .questions import QuestionKind, answers_kind, classify
from .textnorm import tokenize

PREFIX = 4  # a word sharing its first 4 letters with a word of the text is not unknown to it (دافعوا, دافعت)
FEATURES = ("coverage", "dense", "fit", "tail", "rank", "length")


@dataclass(frozen=True)
class ExtractiveWeights:
    """Feature weights and thresholds, tuned on the team's question set (bench/team_qa.jsonl) and
    checked on the development set; see bench/tune_extractive.py."""

    coverage: float = 1.0
    dense: float = 0.1  # per 0.05 of cosine below the best clause
    fit: float = 0.2
    tail: float = 0.1
    rank: float = 0.6
    length: float = -0.05  # per clause beyond the first
    candidates: int = 3  # passages whose clauses are considered
    max_window: int = 3
    max_extension: int = 3  # clauses a window may read on to reach what was asked for
    refuse_below: float = 0.0  # the text is taken to be silent when the best window's coverage minus
    # the share of the question the text never mentions at all falls below this

    def score(self, features: dict[str, float]) -> float:
        return sum(getattr(self, name) * features[name] for name in FEATURES)

    def silent(self, features: dict[str, float]) -> bool:
        """Whether the best window shows that the text does not answer the question."""
        return features["coverage"] - features["unknown"] < self.refuse_below


@dataclass(frozen=True)
class Window:
    hit: int
    passage: Passage
    first: int  # clause positions [first, last] in the passage
    last: int
    features: dict[str, float]
    score: float = 0.0


class ExtractiveEngine:
    name = "extractive"

    def __init__(self, index: Index, glossary: Glossary, weights: ExtractiveWeights | None = None):
        self.index = index
        self.glossary = glossary
        self.weights = weights or ExtractiveWeights()
        self._idf, self._unseen_idf = self._inverse_document_frequencies(index)
        self._prefixes = {t[:PREFIX] for t in self._idf if len(t) >= PREFIX}
        self._terms: dict[tuple[int, int], frozenset[str]] = {}
        self._entities: dict[tuple[int, int], dict[str, str]] = {}

    @staticmethod
    def _inverse_document_frequencies(index: Index) -> tuple[dict[str, float], float]:
        """IDF over clauses (both views): a term found in every clause tells nothing about the answer."""
        df: Counter[str] = Counter()
        total = 0
        for p in index.passages:
            for seg in p.segments:
                total += 1
                df.update(set(tokenize(seg.text)) | set(tokenize(seg.translation or "")))
        return {t: math.log(1 + total / n) for t, n in df.items()}, math.log(1 + total)

    def _clause_terms(self, passage: Passage, position: int) -> frozenset[str]:
        key = (passage.id, position)
        if key not in self._terms:
            seg = passage.segments[position]
            self._terms[key] = frozenset(tokenize(seg.text)) | frozenset(tokenize(seg.translation or ""))
        return self._terms[key]

    def _clause_entities(self, passage: Passage, position: int) -> dict[str, str]:
        key = (passage.id, position)
        if key not in self._entities:
            seg = passage.segments[position]
            found = self.glossary.find(seg.text) + self.glossary.find(seg.translation or "")
            self._entities[key] = {m.entry.id: m.entry.kind for m in found}
        return self._entities[key]

    def _query_units(self, query: str) -> list[tuple[frozenset[str], float]]:
        """What a window should cover: each term of the question once, and each glossary name the
        question mentions once (matched by any of its spellings, in either language).

        A unit weighs its IDF; a term the text never uses keeps the highest IDF, so a question
        about something absent (a wife, a birth) cannot be covered and is refused.
        """
        units: list[tuple[frozenset[str], float]] = []
        named: set[str] = set()
        for mention in self.glossary.find(query):
            variants = frozenset(t for name in mention.entry.ar + mention.entry.en for t in tokenize(name))
            named.update(tokenize(" ".join(mention.entry.ar + mention.entry.en)))
            seen = [self._idf[t] for t in variants if t in self._idf]
            units.append((variants, max(seen) if seen else self._unseen_idf))
        for term in dict.fromkeys(tokenize(query)):
            if term not in named:
                units.append((frozenset([term]), self._idf.get(term, self._unseen_idf)))
        return units

    def windows(self, request: EngineInput) -> list[Window]:
        """Every candidate window with its features, best first."""
        w = self.weights
        kind: QuestionKind = classify(request.query, self.glossary)
        units = self._query_units(request.query)
        unknown = sum(weight for unit, weight in units if not any(self._known(t) for t in unit))
        total = sum(weight for _, weight in units) or 1.0
        out: list[Window] = []
        for hit_index, hit in enumerate(request.hits[:w.candidates]):
            p = hit.passage
            dense = [self._clause_similarity(p, i, request.query_vector) for i in range(len(p.segments))]
            for first in range(len(p.segments)):
                for last in range(first, min(first + w.max_window, len(p.segments))):
                    span = range(first, last + 1)
                    clause_cover = [sum(weight for unit, weight in units if unit & self._clause_terms(p, i))
                                    for i in span]
                    window_terms = frozenset().union(*(self._clause_terms(p, i) for i in span))
                    entities = {k: v for i in span for k, v in self._clause_entities(p, i).items()}
                    text = " ".join(f"{s.text} {s.translation or ''}" for s in p.segments[first:last + 1])
                    features = {
                        "coverage": sum(weight for unit, weight in units if unit & window_terms) / total,
                        "dense": max(dense[first:last + 1]),
                        "fit": float(answers_kind(kind, text, entities)),
                        # the window goes on past the clause that matches the question best: where
                        # an answer usually is ("what did he do after ...", "who commanded ...")
                        "tail": float(int(np.argmax(clause_cover)) < last - first),
                        "rank": 1.0 / (1 + hit_index),
                        "length": float(last - first),
                        "unknown": unknown / total,
                    }
                    out.append(Window(hit_index, p, first, last, features, w.score(features)))
        if out:  # meaning relative to the best clause: cosines of one model bunch in a narrow band
            top = max(x.features["dense"] for x in out)
            out = [Window(x.hit, x.passage, x.first, x.last, f := {**x.features, "dense": (x.features["dense"] - top) / 0.05},
                          w.score(f)) for x in out]
        out.sort(key=lambda x: x.score, reverse=True)
        return out

    def _known(self, term: str) -> bool:
        return term in self._idf or (len(term) >= PREFIX and term[:PREFIX] in self._prefixes)

    def _clause_similarity(self, passage: Passage, position: int, query_vector: np.ndarray) -> float:
        rows = self.index.clause_vector_rows(passage.id, position)
        return float(np.max(self.index.clause_vectors[rows] @ query_vector)) if rows else 0.0

    def draft(self, request: EngineInput) -> Draft:
        windows = self.windows(request)
        if not windows:
            return Draft([], answerable=False)
        best = windows[0]
        diagnostics = {k: round(v, 3) for k, v in best.features.items()}
        if self.weights.silent(best.features):
            return Draft([], answerable=False, diagnostics=diagnostics)
        best = self._extend_to_fit(best, classify(request.query, self.glossary))
        return Draft([self._claim(best, request.language)], answerable=True, diagnostics=diagnostics)

    def _extend_to_fit(self, window: Window, kind: QuestionKind) -> Window:
        """A window that lacks what was asked for (no date for "when") reads on, a few clauses at
        most, until the thing appears: the narrative usually gives it right after."""
        if window.features["fit"] or kind.kind is None:
            return window
        p = window.passage
        for last in range(window.last + 1, min(window.last + 1 + self.weights.max_extension, len(p.segments))):
            segs = p.segments[window.first:last + 1]
            text = " ".join(f"{s.text} {s.translation or ''}" for s in segs)
            entities = {k: v for i in range(window.first, last + 1) for k, v in self._clause_entities(p, i).items()}
            if answers_kind(kind, text, entities):
                return Window(window.hit, p, window.first, last, window.features, window.score)
        return window

    def _claim(self, window: Window, language: str) -> Claim:
        segments = window.passage.segments[window.first:window.last + 1]
        start, end = segments[0].start, segments[-1].end
        if language == window.passage.language or any(s.translation is None for s in segments):
            text = window.passage.text[start - window.passage.start:end - window.passage.start]
        else:
            text = " ".join(s.translation for s in segments)
        return Claim(text=text, hit=window.hit, highlights=((start, end),))

    def stream(self, request: EngineInput) -> Iterator[str | Draft]:
        yield self.draft(request)
