"""The default answer engine: grounded, extractive, bilingual.

No instruction model that reads Arabic runs here (see ../shared/MODELS.md), so the answer is
built from the text itself. Candidate answers are windows of one to three consecutive clauses of
the best passages, scored on features:
- coverage: the IDF-weighted share of the query's terms (glossary-expanded) the window contains;
- meaning: the query embedding's cosine with the window's clauses (precomputed at index time);
- fit: whether it holds a new thing of the kind asked for (a number for "how many", a date for
  "when", a person for "who", a place for "where", a cause for "why"), for "… after X?"
  holds it after X, and for "what happened to X in the end?" closes the latest passage naming X;
- the rank of its passage in retrieval, and its length.
A question whose terms the text barely covers, or never uses at all (a wife, a birth, a
population), is refused: the best window's coverage minus the share of unknown terms is too low.
A word the text uses only of other names of the same kind counts as unknown: asked for "the
capital of the Mongols", a text that speaks only of "the Khwarazmian capital" is silent. So is a
text whose best clauses about what a "how many / how long / when / where" question asks hold no
number, length, date or place beside them. Only passages about the people and places a question
names are quoted (they name them, or one of the two paragraphs before them does).
The best window is quoted (Arabic from the original, English from the aligned translation), and
a second, separate one when it scores nearly as well: an answer often spans two places.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np

from .engine import Claim, Draft, EngineInput
from .glossary import Glossary
from .index import Index
from .passages import Passage
from .questions import QuestionKind, answers_kind, classify
from .sources import GlossaryEntry
from .textnorm import arabic_skeleton, detect_language, tokenize

NAMED_KINDS = frozenset({"person", "people", "place", "dynasty", "river"})  # glossary kinds that own things
ECHO = 1 / 3  # a clause with at least this share of the question's terms restates the question
MEASURED_KINDS = frozenset({"number", "duration", "date", "place"})  # answered by a thing a clause holds
PREFIX = 4  # a word sharing its first 4 letters with a word of the text is not unknown to it (دافعوا, دافعت)
FEATURES = ("coverage", "dense", "fit", "rank", "length")


@dataclass(frozen=True)
class ExtractiveWeights:
    """Feature weights and thresholds, tuned on the team's question set (bench/team_qa.jsonl) and
    checked on the development set, which only broke ties between settings equal on the team set;
    see bench/tune_extractive.py."""

    coverage: float = 1.0
    dense: float = 0.1  # per 0.05 of cosine below the best clause
    fit: float = 0.2
    rank: float = 0.4
    length: float = -0.1  # per clause beyond the first
    candidates: int = 3  # passages whose clauses are considered
    max_window: int = 3
    max_extension: int = 3  # clauses a window may read on to reach what was asked for
    second_margin: float = 0.3  # a second, separate window is quoted too when it scores within this
    # of the best and covers at least `second_gain` of the question that the best leaves out: the
    # answer often spans two places (a demand in one paragraph, its refusal in the next)
    second_gain: float = 0.1
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
    covered: dict[int, float] = field(default_factory=dict)  # query unit -> its share of the query


def _gain(window: Window, over: Window) -> float:
    """The share of the question a window covers that another leaves out."""
    return sum(share for unit, share in window.covered.items() if unit not in over.covered)


def _overlaps(a: Window, b: Window) -> bool:
    """Whether two windows share or touch a clause (adjacent ones would read as one repeated quote)."""
    return a.passage.id == b.passage.id and a.first <= b.last + 1 and b.first <= a.last + 1


class ExtractiveEngine:
    name = "extractive"

    def __init__(self, index: Index, glossary: Glossary, weights: ExtractiveWeights | None = None):
        self.index = index
        self.glossary = glossary
        self.weights = weights or ExtractiveWeights()
        self._entities = {(p.id, i): {m.entry.id: m.entry.kind
                                      for m in glossary.find(seg.text) + glossary.find(seg.translation or "")}
                          for p in index.passages for i, seg in enumerate(p.segments)}
        self._idf, self._name_idf, self._unseen_idf = self._inverse_document_frequencies(index, self._entities)
        self._prefixes = {t[:PREFIX] for t in self._idf if len(t) >= PREFIX}
        self._skeletons = {arabic_skeleton(t) for t in self._idf} - {None}
        self._views: dict[tuple[int, int], tuple[frozenset[str], ...]] = {}
        self._terms: dict[tuple[int, int], frozenset[str]] = {}
        self._kinds = {e.id: e.kind for e in glossary.entries}
        self._modifiers = self._word_modifiers(index, glossary)
        in_order = sorted(index.passages, key=lambda p: (p.source, p.start))
        self._previous = {p.id: q for q, p in zip(in_order, in_order[1:]) if q.source == p.source}
        self._around: dict[int, frozenset[str]] = {}

    @staticmethod
    def _inverse_document_frequencies(index: Index, entities: dict[tuple[int, int], dict[str, str]]
                                      ) -> tuple[dict[str, float], dict[str, float], float]:
        """IDF over clauses (both views) of terms, and of glossary names (a clause names an entry in
        any of its spellings): a term found in every clause tells nothing about the answer, and a
        name is as common as all its spellings together, not as its rarest one."""
        terms: Counter[str] = Counter()
        names: Counter[str] = Counter()
        total = 0
        for p in index.passages:
            for i, seg in enumerate(p.segments):
                total += 1
                terms.update(set(tokenize(seg.text)) | set(tokenize(seg.translation or "")))
                names.update(entities[(p.id, i)].keys())
        return ({t: math.log(1 + total / n) for t, n in terms.items()},
                {e: math.log(1 + total / n) for e, n in names.items()}, math.log(1 + total))

    @staticmethod
    def _word_modifiers(index: Index, glossary: Glossary) -> dict[tuple[str, str], list[frozenset[str]]]:
        """(language, word) -> the glossary names modifying each of its uses in the text."""
        uses: dict[tuple[str, str], list[frozenset[str]]] = {}
        for p in index.passages:
            for language in filter(None, (p.language, p.translation_language)):
                for word, names in glossary.attachments(p.view(language) or "", language):
                    uses.setdefault((language, word), []).append(names)
        return uses

    def _owned_elsewhere(self, query: str, language: str) -> set[str]:
        """Words of the question that belong to a name ("the capital of the Mongols") which the
        text uses only of other names of the same kind ("the Khwarazmian capital")."""
        out = set()
        for word, names in self.glossary.attachments(query, language):
            kinds = {self._kinds[n] for n in names} & NAMED_KINDS
            uses = self._modifiers.get((language, word), [])
            if kinds and uses and all(u and not u & names for u in uses) \
                    and any(kinds & {self._kinds[n] for n in u} for u in uses):
                out.add(word)
        return out

    def _view_terms(self, passage: Passage, position: int) -> tuple[frozenset[str], ...]:
        """The search terms of each view of a clause (the original, and the translation if any)."""
        key = (passage.id, position)
        if key not in self._views:
            seg = passage.segments[position]
            self._views[key] = tuple(frozenset(tokenize(text)) for text in (seg.text, seg.translation) if text)
        return self._views[key]

    def _clause_terms(self, passage: Passage, position: int) -> frozenset[str]:
        key = (passage.id, position)
        if key not in self._terms:
            self._terms[key] = frozenset().union(*self._view_terms(passage, position))
        return self._terms[key]

    def _clause_entities(self, passage: Passage, position: int) -> dict[str, str]:
        """Glossary ids named in a clause (either view) -> their kind."""
        return self._entities[(passage.id, position)]

    def _passage_names(self, passage: Passage) -> frozenset[str]:
        return frozenset(name for i in range(len(passage.segments)) for name in self._clause_entities(passage, i))

    def names_asked_about(self, question: str) -> set[str]:
        """The people and places a question names, leaving out words that are also something else
        (الجند: the town of Jand, or the troops)."""
        spans: dict[tuple[int, int], list[GlossaryEntry]] = {}
        for m in self.glossary.find(question):
            spans.setdefault((m.start, m.end), []).append(m.entry)
        return {entries[0].id for entries in spans.values()
                if len(entries) == 1 and entries[0].kind in ("person", "place")}

    def _names_around(self, passage: Passage) -> frozenset[str]:
        """Glossary names in a passage and in the two before it: a narrative goes on about the
        place or person it named a paragraph or two earlier ("the city" of the siege of Samarkand)."""
        if passage.id not in self._around:
            near = [passage]
            while len(near) < 3 and near[-1].id in self._previous:
                near.append(self._previous[near[-1].id])
            self._around[passage.id] = frozenset().union(*map(self._passage_names, near))
        return self._around[passage.id]

    def _query_units(self, query: str, asking: frozenset[str] = frozenset()) -> list[tuple[frozenset[str], float]]:
        """What a window should cover: each term of the question once, and each glossary name the
        question mentions once (matched by any of its spellings, in either language).

        A unit weighs its IDF; a term the text never uses keeps the highest IDF, so a question
        about something absent (a wife, a birth) cannot be covered and is refused. The words of
        the question phrase (`asking`: "how large", "كم عدد") are left out.
        """
        units: list[tuple[frozenset[str], float]] = []
        named: set[str] = set()
        for mention in {m.entry.id: m for m in self.glossary.find(query)}.values():  # a name counts once
            variants = frozenset(t for name in mention.entry.ar + mention.entry.en for t in tokenize(name))
            named.update(tokenize(" ".join(mention.entry.ar + mention.entry.en)))
            units.append((variants, self._name_idf.get(mention.entry.id, self._unseen_idf)))
        for term in dict.fromkeys(tokenize(query)):
            if term not in named and term not in asking:
                units.append((frozenset([term]), self._idf.get(term, self._unseen_idf)))
        return units

    def windows(self, request: EngineInput) -> list[Window]:
        """Every candidate window with its features, best first."""
        kind = classify(request.query, self.glossary)
        return self._windows(request, kind, self._query_units(request.query, kind.asking))

    def _windows(self, request: EngineInput, kind: QuestionKind,
                 units: list[tuple[frozenset[str], float]]) -> list[Window]:
        w = self.weights
        elsewhere = self._owned_elsewhere(request.query, detect_language(request.query))
        # such a word is emptied: never covered, and counted with the words the text does not know
        units = [(frozenset() if unit & elsewhere else unit, weight) for unit, weight in units]
        unknown = sum(weight for unit, weight in units if not any(self._known(t) for t in unit))
        total = sum(weight for _, weight in units) or 1.0
        out: list[Window] = []
        for hit_index, hit in enumerate(request.hits[:w.candidates]):
            p = hit.passage
            dense = [self._clause_similarity(p, i, request.query_vector) for i in range(len(p.segments))]
            for first in range(len(p.segments)):
                for last in range(first, min(first + w.max_window, len(p.segments))):
                    span = range(first, last + 1)
                    window_terms = frozenset().union(*(self._clause_terms(p, i) for i in span))
                    covered = {u: weight / total for u, (unit, weight) in enumerate(units) if unit & window_terms}
                    features = {
                        "coverage": sum(covered.values()),
                        "dense": max(dense[first:last + 1]),
                        "fit": float(self._fits(kind, p, first, last)),
                        "rank": 1.0 / (1 + hit_index),
                        "length": float(last - first),
                        "unknown": unknown / total,
                    }
                    out.append(Window(hit_index, p, first, last, features, w.score(features), covered))
        if out:  # meaning relative to the best clause: cosines of one model bunch in a narrow band
            top = max(x.features["dense"] for x in out)
            out = [replace(x, features=(f := {**x.features, "dense": (x.features["dense"] - top) / 0.05}), score=w.score(f))
                   for x in out]
        out.sort(key=lambda x: x.score, reverse=True)
        return out

    def _known(self, term: str) -> bool:
        """Whether the text uses a word in some form: as it is, by its first letters, or for an
        Arabic word by its skeleton (the question's يقاتل, the text's قاتل)."""
        return (term in self._idf or (len(term) >= PREFIX and term[:PREFIX] in self._prefixes)
                or arabic_skeleton(term) in self._skeletons)

    def _clause_similarity(self, passage: Passage, position: int, query_vector: np.ndarray) -> float:
        rows = self.index.clause_vector_rows(passage.id, position)
        return float(np.max(self.index.clause_vectors[rows] @ query_vector)) if rows else 0.0

    def draft(self, request: EngineInput) -> Draft:
        kind = classify(request.query, self.glossary)
        units = self._query_units(request.query, kind.asking)
        # only passages about the people and places the question names: the siege of Otrar does
        # not tell how long the siege of Khujand lasted
        asked = self.names_asked_about(request.question)
        windows = [x for x in self._windows(request, kind, units) if asked <= self._names_around(x.passage)]
        if not windows:
            return Draft([], answerable=False)
        best = windows[0]
        diagnostics = {k: round(v, 3) for k, v in best.features.items()}
        if self.weights.silent(best.features):
            return Draft([], answerable=False, diagnostics=diagnostics)
        if kind.fate_of is not None:  # asked for the end: what the latest passage naming them tells, if any does
            telling = [x for x in windows if x.features["fit"]]
            if telling:
                latest = max(telling, key=lambda x: (x.passage.source, x.passage.start)).passage
                windows = [x for x in telling if x.passage.id == latest.id]
        if kind.kind in MEASURED_KINDS or kind.role:  # quote what holds the number, date, place or name asked for
            terms = [unit for unit, _ in units]
            windows = [x for x in windows if self._answers_beside_question(kind, terms, self._extend_to_fit(x, kind))]
            if not windows:
                return Draft([], answerable=False, diagnostics=diagnostics)
        chosen = self.select(windows, kind)
        return Draft([self._claim(x, request.language) for x in chosen], answerable=True,
                     diagnostics=diagnostics)

    def _answers_beside_question(self, kind: QuestionKind, units: list[frozenset[str]], window: Window) -> bool:
        """Whether a clause of the window holds what was asked for (a number, a date, a place) at
        most two clauses away from a clause that holds a word of the question ("he left a huge army
        there, under the command of Tughay Khan, numbering 110,000 fighters"). The best clauses
        about the siege of Khujand hold no length of it: "How long did the Mongols besiege
        Khujand?" is not answered by a number from elsewhere in the passage."""
        p = window.passage
        span = range(window.first, window.last + 1)
        about = [i for i in span if any(unit & self._clause_terms(p, i) for unit in units)]
        return any(self._holds(kind, p, i, i) for i in span if any(abs(i - j) <= 2 for j in about))

    def select(self, windows: list[Window], kind: QuestionKind) -> list[Window]:
        """What to quote from windows ranked best first: the best, read on until it holds what was
        asked for, and a second separate window when it scores within `second_margin` of the best."""
        best = windows[0]
        chosen = [self._extend_to_fit(best, kind)]
        second = next((x for x in windows[1:] if best.score - x.score <= self.weights.second_margin
                       and not _overlaps(x, chosen[0]) and _gain(x, best) >= self.weights.second_gain), None)
        if second is not None and not _overlaps(extended := self._extend_to_fit(second, kind), chosen[0]):
            chosen.append(extended)
        return sorted(chosen, key=lambda x: (x.hit, x.first))  # in retrieval order, a passage's clauses in reading order

    def _extend_to_fit(self, window: Window, kind: QuestionKind) -> Window:
        """A window that lacks what was asked for (no date for "when") reads on, a few clauses at
        most, until the thing appears: the narrative usually gives it right after."""
        if window.features["fit"] or (kind.kind is None and kind.after is None and kind.fate_of is None):
            return window
        p = window.passage
        for last in range(window.last + 1, min(window.last + 1 + self.weights.max_extension, len(p.segments))):
            if self._fits(kind, p, window.first, last):
                return replace(window, last=last)
        return window

    def _fits(self, kind: QuestionKind, p: Passage, first: int, last: int) -> bool:
        """Whether clauses first..last hold what the question asks for. For "what happened to X in
        the end?" they must close a passage that names X. For "… after X?" only the
        part from the last clause naming X on counts, and it must go on past X when nothing more
        specific is asked (the narrative tells what followed after it names X)."""
        if kind.fate_of is not None:  # a passage that names them ends with what became of them
            if last < len(p.segments) - 1 or kind.fate_of not in self._passage_names(p):
                return False
        if kind.kind == "manner":  # "how did he…?": the answer goes on past the clauses that restate the question
            return all(len(view & kind.terms) < ECHO * len(view) for view in self._view_terms(p, last) if view)
        if kind.after is not None:
            anchors = [i for i in range(first, last + 1) if kind.after in self._clause_terms(p, i)]
            if anchors:
                first = anchors[-1]
                if kind.kind is None:
                    return first < last
        return self._holds(kind, p, first, last)

    def _holds(self, kind: QuestionKind, p: Passage, first: int, last: int) -> bool:
        """Whether clauses first..last, in either language, hold a new thing of the kind asked for."""
        text = " ".join(f"{s.text} {s.translation or ''}" for s in p.segments[first:last + 1])
        entities = {k: v for i in range(first, last + 1) for k, v in self._clause_entities(p, i).items()}
        return answers_kind(kind, text, entities)

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
