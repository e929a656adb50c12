"""Whether a generated sentence says only what the passage its marker names says.

A generator (rag/generative.py) writes sentences ending in [n]. Before a sentence is shown it must
pass, against passage n:
- facts: every number it says (in digits or words, dates included) is a number of the passage,
  and every name it gives (a glossary name in any spelling, or another capitalised word) is named
  in the passage, in the original or its aligned translation;
- closeness: its embedding is at least a threshold (cosine) from the passage's nearest clause, in
  either language, and at least a share of its search terms are the passage's (an invented
  detail brings words of its own). Both limits, per answer language, are calibrated on labelled
  supported and unsupported sentences (bench/support_pairs.jsonl, by bench/calibrate_support.py)
  and kept in rag/data/support.json.
The nearest clause is what the answer highlights as the sentence's evidence.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from .glossary import Glossary
from .index import Index
from .reader import ClauseTable
from .retrieval import Hit
from .textnorm import AR_STOPWORDS, EN_STOPWORDS, normalize, tokenize

CALIBRATION = Path(__file__).resolve().parent / "data" / "support.json"
CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}(?:[-'][A-Za-z]+)*")


@cache
def calibrated() -> dict[str, tuple[float, float]]:
    """Per answer language, (cosine threshold, term coverage) as bench/calibrate_support.py chose them."""
    data = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    return {lang: (float(data[lang]["threshold"]), float(data[lang]["coverage"])) for lang in ("ar", "en")}


@dataclass(frozen=True)
class Support:
    supported: bool
    reason: str  # "" | "number" | "name" | "far" | "words" | "empty"
    similarity: float
    coverage: float
    evidence: tuple[int, int] | None  # the passage's nearest clause, as a span of the original


class SupportCheck:
    def __init__(self, table: ClauseTable, glossary: Glossary, index: Index, embedder,
                 limits: dict[str, tuple[float, float]] | None = None):
        """`limits`: per answer language, (cosine threshold, term coverage); default: the calibrated ones."""
        self.table, self.glossary, self.index, self.embedder = table, glossary, index, embedder
        self.limits = calibrated() if limits is None else limits
        self.stopwords = frozenset(w.casefold() for w in (*EN_STOPWORDS, *AR_STOPWORDS))
        # per passage: every number it says and every search term it uses, over its clauses' facts
        self.passage_facts = {p.id: (frozenset().union(*(self.table.facts[(p.id, i)].values for i in range(len(p.segments)))),
                                     frozenset().union(*(self.table.facts[(p.id, i)].terms for i in range(len(p.segments)))))
                              for p in index.passages}

    def encode(self, sentence: str) -> np.ndarray:
        """The sentence's vector, once for every passage it is checked against."""
        return self.embedder.encode_queries([sentence])[0]

    def facts(self, sentence: str, hit: Hit) -> str:
        """"" when every number and name of the sentence is the passage's, else what is not."""
        passage = hit.passage
        values, terms = self.passage_facts[passage.id]
        if self.table.values(normalize(sentence)) - values:
            return "number"
        named = {m.entry.id for m in self.glossary.find(sentence, where=(passage.source, passage.paragraph))}
        if named - self.table.passage_names[passage.id]:
            return "name"
        for word in CAPITALISED.findall(sentence):
            if word.casefold() in self.stopwords or self.glossary.find(word):
                continue
            if not set(tokenize(word)) <= terms:
                return "name"
        return ""

    def nearest(self, vector: np.ndarray, hit: Hit) -> tuple[float, tuple[int, int] | None]:
        """The cosine of the passage's nearest clause (either view) and that clause's span."""
        passage = hit.passage
        best, span = -1.0, None
        for i, segment in enumerate(passage.segments):
            rows = list(self.index.clause_vector_rows(passage.id, i))
            if not rows:
                continue
            score = float((self.index.clause_vectors[rows] @ vector).max())
            if score > best:
                best, span = score, (segment.start, segment.end)
        return best, span

    def terms_covered(self, sentence: str, hit: Hit) -> float:
        """The share of the sentence's search terms the passage uses (in either view)."""
        terms = self.passage_facts[hit.passage.id][1]
        own = set(tokenize(sentence))
        return len(own & terms) / len(own) if own else 0.0

    def check(self, sentence: str, hit: Hit, language: str, vector: np.ndarray | None = None) -> Support:
        """Whether the passage supports the sentence; `vector`: the sentence's, when already encoded."""
        if not tokenize(sentence):
            return Support(False, "empty", 0.0, 0.0, None)
        similarity, evidence = self.nearest(self.encode(sentence) if vector is None else vector, hit)
        coverage = self.terms_covered(sentence, hit)
        threshold, least_covered = self.limits[language]
        reason = self.facts(sentence, hit) or ("far" if similarity < threshold else "") \
            or ("words" if coverage < least_covered else "")
        return Support(not reason, reason, similarity, coverage, evidence)
