"""The default answer engine: grounded, extractive, bilingual.

No instruction model that reads Arabic runs here (see ../shared/MODELS.md), so the answer is
built from the text itself. Candidate answers are windows of one to three consecutive clauses of
the best passages. Each window is scored by
- lexical coverage: the IDF-weighted share of the query's terms (glossary-expanded) it contains,
- meaning: the query embedding's cosine with the clauses (precomputed at index time),
- fit: whether it holds the kind of thing asked for (a number for "how many", a date for "when",
  a person for "who", a place for "where", a cause for "why") that the question does not already name,
- the rank of its passage in retrieval,
and the best window is quoted: Arabic from the original, English from the aligned translation.
When even the best window is weak, the engine says the text does not answer the question.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import numpy as np

from .engine import Claim, Draft, EngineInput
from .glossary import Glossary
from .index import Index
from .passages import Passage
from .questions import QuestionKind, answers_kind, classify
from .textnorm import tokenize


@dataclass(frozen=True)
class ExtractiveWeights:
    """Scoring weights and the refusal threshold, tuned on the development set (see README)."""

    lexical: float = 1.0
    dense: float = 6.0
    fit: float = 0.35
    rank: float = 0.25
    extra_clause: float = 0.12  # cost of each clause beyond the first
    candidates: int = 4  # passages whose clauses are considered
    max_window: int = 3
    refuse_below: float = 0.32  # best window's lexical coverage + fit, below which the text is silent
    second_claim: float = 0.92  # a second passage is quoted when its best window is this close


@dataclass(frozen=True)
class Window:
    hit: int
    passage: Passage
    first: int  # clause positions [first, last] in the passage
    last: int
    score: float
    coverage: float
    dense: float
    fits: bool


class ExtractiveEngine:
    name = "extractive"

    def __init__(self, index: Index, glossary: Glossary, weights: ExtractiveWeights | None = None):
        self.index = index
        self.glossary = glossary
        self.weights = weights or ExtractiveWeights()
        self._idf = self._document_frequencies(index)

    @staticmethod
    def _document_frequencies(index: Index) -> tuple[dict[str, float], float]:
        """IDF over clauses (both views): a term in every clause tells nothing about the answer."""
        df: Counter[str] = Counter()
        total = 0
        for p in index.passages:
            for seg in p.segments:
                total += 1
                df.update(set(tokenize(seg.text)) | set(tokenize(seg.translation or "")))
        return {t: math.log(1 + total / n) for t, n in df.items()}, math.log(1 + total)

    @lru_cache(maxsize=4096)
    def _clause_terms(self, passage_id: int, position: int) -> frozenset[str]:
        seg = self.index.passages[passage_id].segments[position]
        return frozenset(tokenize(seg.text)) | frozenset(tokenize(seg.translation or ""))

    @lru_cache(maxsize=4096)
    def _clause_entities(self, passage_id: int, position: int) -> tuple[tuple[str, str], ...]:
        seg = self.index.passages[passage_id].segments[position]
        found = self.glossary.find(seg.text) + self.glossary.find(seg.translation or "")
        return tuple(sorted({(m.entry.id, m.entry.kind) for m in found}))

    def _query_terms(self, request: EngineInput) -> dict[str, float]:
        idf, unseen = self._idf
        terms = set(tokenize(request.query))
        for lang in ("ar", "en"):
            for name in self.glossary.expansion(request.query, lang):
                terms.update(tokenize(name))
        return {t: idf.get(t, unseen) for t in terms}

    def windows(self, request: EngineInput) -> list[Window]:
        w = self.weights
        kind = classify(request.query, self.glossary)
        terms = self._query_terms(request)
        total = sum(terms.values()) or 1.0
        out: list[Window] = []
        for hit_index, hit in enumerate(request.hits[:w.candidates]):
            p = hit.passage
            dense = []
            for position in range(len(p.segments)):
                rows = self.index.clause_vector_rows(p.id, position)
                dense.append(float(np.max(self.index.clause_vectors[rows] @ request.query_vector)) if rows else 0.0)
            for first in range(len(p.segments)):
                for last in range(first, min(first + w.max_window, len(p.segments))):
                    clause_terms = frozenset().union(*(self._clause_terms(p.id, i) for i in range(first, last + 1)))
                    coverage = sum(v for t, v in terms.items() if t in clause_terms) / total
                    entities = dict(e for i in range(first, last + 1) for e in self._clause_entities(p.id, i))
                    text = " ".join(s.text + " " + (s.translation or "") for s in p.segments[first:last + 1])
                    fits = answers_kind(kind, text, entities)
                    best_dense = max(dense[first:last + 1])
                    score = (w.lexical * coverage + w.dense * best_dense + w.fit * fits
                             + w.rank / (1 + hit_index) - w.extra_clause * (last - first))
                    out.append(Window(hit_index, p, first, last, score, coverage, best_dense, fits))
        out.sort(key=lambda x: x.score, reverse=True)
        return out

    def draft(self, request: EngineInput) -> Draft:
        w = self.weights
        windows = self.windows(request)
        if not windows:
            return Draft([], answerable=False)
        best = windows[0]
        support = best.coverage + w.fit * best.fits
        diagnostics = {"support": round(support, 3), "score": round(best.score, 3), "dense": round(best.dense, 3)}
        if support < w.refuse_below:
            return Draft([], answerable=False, diagnostics=diagnostics)
        chosen = [best]
        runner_up = next((x for x in windows if x.passage.paragraph != best.passage.paragraph
                          or x.passage.source != best.passage.source), None)
        if runner_up and runner_up.score >= w.second_claim * best.score and runner_up.fits:
            chosen.append(runner_up)
        return Draft([self._claim(x, request.language) for x in chosen], answerable=True, diagnostics=diagnostics)

    def _claim(self, window: Window, language: str) -> Claim:
        segments = window.passage.segments[window.first:window.last + 1]
        if language == window.passage.language or any(s.translation is None for s in segments):
            text = window.passage.text[segments[0].start - window.passage.start:segments[-1].end - window.passage.start]
        else:
            text = " ".join(s.translation for s in segments)
        return Claim(text=text, hit=window.hit, highlights=((segments[0].start, segments[-1].end),))

    def stream(self, request: EngineInput) -> Iterator[str | Draft]:
        yield self.draft(request)
