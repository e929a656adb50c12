"""Hybrid retrieval: dense (FAISS) and lexical (BM25) scores fused per passage.

- dense: the query embedding against both language views of every passage (the best view counts);
- lexical: BM25 over the view in the query's language, the query expanded with the glossary's
  spelling variants of the names it mentions (Utrar -> Otrar, أترار -> اوترار).
Fusion is a weighted mean of the per-query min-max normalised scores (default) or
reciprocal rank fusion; `rag eval` and bench/quality.py measure both (see README). Lexical search
in the other language through glossary names was measured too and only added noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .embeddings import Embedder
from .glossary import Glossary
from .index import LANGUAGE_CODES, Index
from .passages import Passage
from .query import Query
from .settings import Settings
from .textnorm import tokenize


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # fused score: higher is better
    dense: float  # best cosine similarity of the query with a view of the passage
    ranks: dict[str, int] = field(default_factory=dict)  # rank in each fused ranking (1-based)


class Retriever:
    def __init__(self, index: Index, embedder: Embedder, glossary: Glossary, settings: Settings):
        self.index = index
        self.embedder = embedder
        self.glossary = glossary
        self.settings = settings

    def search(self, query: Query, k: int | None = None) -> list[Hit]:
        """The best passages for an analysed query. Dense scores are normalised within each view
        language before a passage takes its best view: one model's cosines run higher within a
        language than across, so a passage with no view in the question's language (an Arabic-only
        text asked about in English) would otherwise lose to any passage that has one. A signal
        that cannot reach a passage (BM25 in a language it has no view in) is left out of its
        fused score rather than counted as zero."""
        k = k or self.settings.top_k
        n = len(self.index.passages)
        fuse = _rrf if self.settings.fusion == "rrf" else _convex
        dense, by_view = self._dense_scores(query.vector, n)
        signals = [(np.max([fuse(s, self.settings.rrf_k) for s in by_view], axis=0), self.settings.dense_weight,
                    np.ones(n, dtype=bool))]
        lexical = None
        if query.language in self.index.bm25:
            lexical, has_view = self._lexical_scores(query, n)
            if lexical is not None:
                signals.append((fuse(lexical, self.settings.rrf_k), self.settings.lexical_weight, has_view))
        total = np.zeros(n)
        weights = np.zeros(n)
        for fused_signal, weight, reaches in signals:
            if weight:
                total += np.where(reaches, weight * fused_signal, 0.0)
                weights += np.where(reaches, weight, 0.0)
        fused = total / np.maximum(weights, 1e-9)
        order = np.argsort(-fused, kind="stable")[:k]
        dense_ranks = _ranks(dense)
        lexical_ranks = _ranks(lexical) if lexical is not None else None
        return [Hit(self.index.passages[i], float(fused[i]), float(dense[i]),
                    {"dense": int(dense_ranks[i]),
                     **({"bm25": int(lexical_ranks[i])} if lexical_ranks is not None else {})})
                for i in order]

    def _dense_scores(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Best cosine per passage over its views, and per view language; -inf where not reached."""
        rows = self.index.dense.ntotal
        reach = rows if rows <= 4096 else min(rows, max(200, 8 * self.settings.top_k))
        scores, ids = self.index.dense.search(vector[None, :], reach)
        by_view = np.full((len(LANGUAGE_CODES), n), -np.inf, dtype=np.float64)
        for score, row in zip(scores[0], ids[0]):
            if row < 0:
                continue
            pid, view = self.index.rows[row, 0], self.index.rows[row, 1]
            if score > by_view[view, pid]:
                by_view[view, pid] = score
        return by_view.max(axis=0), [v for v in by_view if np.isfinite(v).any()]

    def _lexical_scores(self, query: Query, n: int) -> tuple[np.ndarray | None, np.ndarray]:
        """BM25 scores per passage (-inf where no term is shared) and which passages have a view to
        search in the query's language."""
        language = query.language
        has_view = np.zeros(n, dtype=bool)
        has_view[self.index.bm25_rows[language]] = True
        terms = list(query.terms)
        if self.settings.glossary_expansion:
            for name in self.glossary.expansion(list(query.mentions), language):
                terms.extend(tokenize(name))
        if not terms:
            return None, has_view
        scores = np.full(n, -np.inf)
        found = self.index.bm25[language].get_scores(terms).astype(np.float64)
        scores[self.index.bm25_rows[language]] = np.where(found > 0, found, -np.inf)  # no shared term: not ranked
        return scores, has_view


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each entry by descending score (ties share the order of appearance)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks



def _convex(scores: np.ndarray, _: int) -> np.ndarray:
    """Min-max normalised scores; passages a signal did not reach get 0."""
    finite = np.isfinite(scores)
    if not finite.any():
        return np.zeros(len(scores))
    low, high = scores[finite].min(), scores[finite].max()
    return np.where(finite, (scores - low) / (high - low + 1e-9), 0.0)


def _rrf(scores: np.ndarray, k: int) -> np.ndarray:
    """Reciprocal rank fusion term 1 / (k + rank); passages a signal did not reach get 0."""
    return np.where(np.isfinite(scores), 1.0 / (k + _ranks(scores)), 0.0)
