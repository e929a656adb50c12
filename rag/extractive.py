"""The default answer engine: grounded, extractive, bilingual, with learned judgement.

No instruction model that reads Arabic runs here (see ../shared/MODELS.md), so the answer is
quoted from the text, and what a writer would judge is learned from the question bank
(`rag/learned.py`, trained by `rag train`):

1. every window of one to three clauses of the best passages is scored by the learned window
   scorer over the features of `rag/reader.py`;
2. the learned answerability model reads the best windows and the question and says whether the
   text answers it at all; below its calibrated threshold the answer is a refusal that lists the
   nearest passages;
3. the best window is quoted (the original for Arabic, the aligned translation for English; an
   English question about an untranslated text gets the original with a note saying so), and a
   second, separate one when the scorer rates it nearly as high (an answer often spans two places);
4. the question's kind shapes the answer: a yes/no question opens with the verdict (Yes / No —
   نعم / لا) when the learned verdict model is confident, a request to quote gets the whole
   sentence, and a question with several parts gets each part answered with its own quote.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from .engine import Claim, Draft, EngineInput
from .glossary import Glossary
from .index import Index
from .learned import KINDS, ReaderModels, sigmoid, softmax
from .messages import message
from .query import Query
from .reader import WINDOW_FEATURES, Candidates, ClauseTable, Window, WindowFeatures
from .retrieval import Hit

ANSWERABILITY_FEATURES = (
    "top_score", "top_prob", "margin", "second_prob", "coverage", "coverage_passage", "dense_max",
    "names_window", "asked_window", "asked_around", "fit_total", "num_conflict", "unit_conflict", "name_conflict",
    "negation",
    "unknown", "owned_elsewhere", "terms", "names", "asked", "negated", "numbers", "top_dense", "best_clause",
    "tuned_best", "null_margin", "tuned_max",
    "rank_inv", "echo_max", *(f"kind_{k}" for k in KINDS),
)
VERDICT_FEATURES = ("num_match", "num_conflict", "unit_conflict", "name_conflict", "negation", "negated", "coverage",
                    "names_window", "asked_window", "top_score", "top_prob", "dense_max", "unknown", "echo_max",
                    "null_margin", "tuned_best")


@dataclass(frozen=True)
class Reading:
    """What the reader made of one part of a question."""

    query: Query
    candidates: Candidates
    scores: np.ndarray  # one per window
    probabilities: np.ndarray
    answerable: float  # probability that the text answers it
    verdict: float | None  # for a yes/no question: probability of "yes"

    @property
    def order(self) -> np.ndarray:
        return np.argsort(-self.scores, kind="stable")

    def best(self) -> Window | None:
        return self.candidates.windows[int(self.order[0])] if len(self.scores) else None


class ExtractiveEngine:
    name = "extractive"

    def __init__(self, index: Index, glossary: Glossary, models: ReaderModels, passages: int = 5):
        """`passages`: how many of the best passages the reader reads."""
        self.index = index
        self.table = ClauseTable(index, glossary)
        self.features = WindowFeatures(self.table)
        self.models = models
        self.passages = passages

    @staticmethod
    def reads_with(models: ReaderModels) -> bool:
        """Whether trained models expect the features this engine computes."""
        return (models.windows.features == WINDOW_FEATURES and models.answerable.features == ANSWERABILITY_FEATURES
                and models.verdict.features == VERDICT_FEATURES)

    # ------------------------------------------------------------------ reading
    def read(self, query: Query, hits: list[Hit]) -> Reading:
        candidates = self.features.of(query, hits, self.passages)
        if not candidates.windows:
            return Reading(query, candidates, np.zeros(0), np.zeros(0), 0.0, None)
        matrix, question = complete(candidates, query.kinds, query.tuned, self.models.head)
        scores = self.models.windows.logits(matrix)[:, 0]
        probabilities = softmax(scores)
        values = summary(matrix, question, query.kinds, scores)
        answerable = sigmoid(float(self.models.answerable.logits(self.models.answerable.vector(values))[0, 0]))
        verdict = None
        if query.kind() == "yesno":
            verdict = sigmoid(float(self.models.verdict.logits(self.models.verdict.vector(values))[0, 0]))
        return Reading(query, candidates, scores, probabilities, answerable, verdict)

    # ------------------------------------------------------------------ answering
    def draft(self, request: EngineInput) -> Draft:
        readings = [self.read(query, hits) for query, hits in zip(request.queries, request.part_hits)]
        ranking = self.ranking(readings, request.hits)
        answered = [r for r in readings if r.best() is not None and r.answerable >= self.models.answerable.threshold]
        if not answered:
            return Draft([], answerable=False, ranking=ranking)
        claims: list[Claim] = []
        notes: list[str] = []
        position = {hit.passage.id: i for i, hit in enumerate(request.hits)}
        for reading in readings:
            if reading not in answered:
                notes.append(message("part_not_in_text", request.language, part=reading.query.question.strip(" ?؟")))
                continue
            claims.extend(self._claims(reading, request.language, position))
        return Draft(claims, answerable=True, notes=notes, ranking=ranking)

    @staticmethod
    def ranking(readings: list[Reading], hits: list[Hit]) -> list[int]:
        """The passages the reader read, ordered by their best window (parts in turn), then the rest
        as retrieved: the reader ranks the passages it read better than retrieval alone."""
        position = {hit.passage.id: i for i, hit in enumerate(hits)}
        orders = []
        for reading in readings:
            best: dict[int, float] = {}
            for window, score in zip(reading.candidates.windows, reading.scores):
                best[window.passage.id] = max(best.get(window.passage.id, -np.inf), float(score))
            orders.append(sorted(best, key=best.get, reverse=True))
        ranked: list[int] = []
        for rank in range(max((len(o) for o in orders), default=0)):
            for order in orders:
                if rank < len(order) and position[order[rank]] not in ranked:
                    ranked.append(position[order[rank]])
        return ranked + [i for i in range(len(hits)) if i not in ranked]

    def _claims(self, reading: Reading, language: str, position: dict[int, int]) -> list[Claim]:
        chosen = self.select(reading)
        kind = reading.query.kind()
        if kind == "quote":
            chosen = [self._whole_sentence(w) for w in chosen[:1]]
        claims = [self._claim(w, language, position) for w in chosen]
        prefix = self._verdict(reading, language)
        if prefix:
            claims[0] = replace(claims[0], prefix=prefix + " " + claims[0].prefix if claims[0].prefix else prefix)
        return claims

    def select(self, reading: Reading) -> list[Window]:
        return select(reading.candidates.windows, reading.probabilities,
                      float(self.models.windows.calibration.get("second_ratio", 1.0)))

    def _verdict(self, reading: Reading, language: str) -> str:
        """Yes / No for a yes/no question, when the verdict model is confident either way."""
        if reading.verdict is None:
            return ""
        margin = self.models.verdict.threshold
        if reading.verdict >= 0.5 + margin:
            return message("verdict_yes", language)
        if reading.verdict <= 0.5 - margin:
            return message("verdict_no", language)
        return ""

    def _whole_sentence(self, window: Window) -> Window:
        """The window widened to the sentence it stands in: "quote the sentence that…"."""
        facts = [self.table.facts[(window.passage.id, i)] for i in range(len(window.passage.segments))]
        first = window.first
        while first > 0 and not facts[first - 1].ends_sentence:
            first -= 1
        last = window.last
        while last < len(facts) - 1 and not facts[last].ends_sentence:
            last += 1
        return replace(window, first=first, last=last)

    def _claim(self, window: Window, language: str, position: dict[int, int]) -> Claim:
        passage = window.passage
        segments = passage.segments[window.first:window.last + 1]
        start, end = segments[0].start, segments[-1].end
        translated = language != passage.language and all(s.translation is not None for s in segments) \
            and passage.translation_language == language
        if translated:
            text, prefix = " ".join(s.translation for s in segments), ""
        else:
            text = passage.text[start - passage.start:end - passage.start]
            prefix = "" if language == passage.language else message("untranslated", language)
        return Claim(text=text, hit=position[passage.id], highlights=((start, end),), prefix=prefix)

    def stream(self, request: EngineInput) -> Iterator[str | Draft]:
        yield self.draft(request)


def complete(candidates: Candidates, kinds: dict[str, float], tuned: np.ndarray, head) -> tuple[np.ndarray, dict]:
    """The candidates' features for these kind probabilities and tuned vector, and the question's
    facts, with the head's no-answer score against its best candidate clause."""
    matrix, question = candidates.complete(kinds, tuned)
    if head is not None and len(candidates.windows):
        question["null_margin"] = float(head.null @ tuned + head.null_bias - question["tuned_best"] / head.temperature)
    else:
        question["null_margin"] = 0.0
    return matrix, question


def summary(matrix: np.ndarray, question: dict[str, float], kinds: dict[str, float],
            scores: np.ndarray) -> dict[str, float]:
    """Question-level features: the best window's, how far ahead of the rest it is, and the
    question's own (how much of it the text never uses, what kind of answer it asks for)."""
    order = np.argsort(-scores, kind="stable")
    probabilities = softmax(scores)
    values = {**dict(zip(WINDOW_FEATURES, matrix[order[0]].tolist())), **question,
              "top_score": float(scores[order[0]]), "top_prob": float(probabilities[order[0]]),
              "second_prob": float(probabilities[order[1]]) if len(order) > 1 else 0.0,
              "margin": float(scores[order[0]] - scores[order[1]]) if len(order) > 1 else 10.0}
    for kind in KINDS:
        values[f"kind_{kind}"] = kinds.get(kind, 0.0)
    return values


def select(windows: list[Window], probabilities: np.ndarray, ratio: float) -> list[Window]:
    """The best window, and a second, separate one that covers more of the question when the scorer
    rates it within `ratio` of the best (`rag train` picks the ratio: an answer often spans two places)."""
    order = np.argsort(-probabilities, kind="stable")
    best = windows[int(order[0])]
    chosen = [best]
    for i in order[1:]:
        if probabilities[i] < ratio * probabilities[order[0]]:
            break
        window = windows[int(i)]
        if not _overlaps(window, best) and window.covered & ~best.covered:
            chosen.append(window)
            break
    return sorted(chosen, key=lambda w: (w.hit, w.first))


def _overlaps(a: Window, b: Window) -> bool:
    """Whether two windows share or touch a clause (adjacent ones would read as one repeated quote)."""
    return a.passage.id == b.passage.id and a.first <= b.last + 1 and b.first <= a.last + 1
