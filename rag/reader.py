"""The reader's view of a (question, clause window) pair: the features the learned scorers read.

A candidate answer is a window of one to three consecutive clauses of a retrieved passage. What
is known of every clause is computed once, when the engine starts (`ClauseTable`): its search
terms in both views, the glossary names it holds, its numbers, years, months, lengths of time,
place words, purpose words and negations (word lists from rag/data). For a question, each window
gets a vector of features (`WindowFeatures.of`):

- retrieval: the passage's rank and fused score;
- meaning: the question embedding's cosine with the window's clauses (precomputed at index time),
  relative to the best clause among the candidates;
- words: the IDF-weighted share of the question the window covers, names asked about that it (or
  its passage, or the two paragraphs before) holds, how much of it only restates the question;
- where it stands: at, right after or near the clause that matches the question best, at the end
  of its passage, in the latest passage naming the person asked about;
- kind: for each kind of answer (a number, a length, a date, a person, a people, a place, a
  purpose), the learned probability that the question asks for it times whether the window holds
  a new thing of that kind;
- agreement: whether the window holds the question's numbers or contradicts them, names another
  person or place of the same kind instead of the one asked about, or is negated.

`rag/learned.py` turns these into scores; nothing here decides anything.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .glossary import Glossary
from .index import Index
from .passages import Passage
from .query import NUMBER, Query
from .retrieval import Hit
from .textnorm import arabic_skeleton, lexicon, normalize, tokenize, word_set

FIT_KINDS = ("number", "duration", "date", "person", "group", "place", "reason")
NAMED_KINDS = frozenset({"person", "people", "place", "dynasty", "river"})  # glossary kinds that own things
WINDOW_FEATURES = (
    "rank_inv", "fused", "passage_dense", "dense_max", "dense_mean", "dense_first",
    "tuned_max", "tuned_mean", "tuned_first",
    "coverage", "coverage_passage", "names_window", "asked_window", "asked_around",
    "echo_max", "echo_last", "has_anchor", "after_anchor", "near_anchor", "passage_end", "latest_naming",
    "length", "chars", *(f"fit_{k}" for k in FIT_KINDS), "fit_total", "manner_past_echo",
    "num_match", "num_conflict", "unit_conflict", "name_conflict", "negation", "sentence_start", "sentence_end",
)
MAX_WINDOW = 3
PREFIX = 4  # a word sharing its first 4 letters with a word of the text is not unknown to it (دافعوا, دافعت)
DENSE_UNIT = 0.05  # cosines of one model bunch in a narrow band: differences are counted in these units
YEAR = re.compile(r"(?<!\d)\d{3,4}(?!\d)")
DATED_YEAR = re.compile(r"(?<!\d)\d+(?=\s?(?:ه|م|ah|ce)(?:\W|$))")  # 617ه/1220م, 617 AH/1220 CE: a date, not a count
SENTENCE_END = re.compile(r"[.!?؟]\s*$")


def _words(name: str) -> frozenset[str]:
    return word_set("ar", name) | word_set("en", name)


@dataclass(frozen=True)
class ClauseFacts:
    """What a clause holds, in either of its views."""

    views: tuple[frozenset[str], ...]  # search terms of the original and of the translation
    terms: frozenset[str]
    words: frozenset[str]  # normalised words (not stemmed), both views
    entities: dict  # glossary id -> kind
    numbers: frozenset[str]  # numbers that count something (not the years of dates)
    years: frozenset[str]
    values: frozenset[int]  # every number it says, in digits or words
    units: frozenset[str]  # the units of time it names (search terms)
    vector_rows: tuple[int, ...]
    ends_sentence: bool
    chars: int


class ClauseTable:
    """Facts of every clause of the index, and the text's word statistics, computed once."""

    def __init__(self, index: Index, glossary: Glossary):
        self.index = index
        self.glossary = glossary
        self.number_words = _words("number_words")
        self.months = _words("months")
        self.time_units = _words("time_units")
        self.place_words = _words("place_words")
        self.reason_words = _words("reason_words")
        self.negations = _words("negations")
        self.number_values = {normalize(w): v for language in ("ar", "en")
                              for w, v in lexicon(language)["number_values"].items()}
        self.unit_terms = frozenset(tokenize(" ".join(self.time_units)))
        self.facts: dict[tuple[int, int], ClauseFacts] = {}
        for p in index.passages:
            for i, seg in enumerate(p.segments):
                texts = [t for t in (seg.text, seg.translation) if t]
                where = (p.source, p.paragraph)
                entities = {m.entry.id: m.entry.kind for t in texts for m in glossary.find(t, where=where)}
                folded = normalize(" ".join(texts))
                dated = set(DATED_YEAR.findall(folded))
                numbers = set(NUMBER.findall(folded))
                views = tuple(frozenset(tokenize(t)) for t in texts)
                terms = frozenset().union(*views)
                self.facts[(p.id, i)] = ClauseFacts(
                    views, terms, frozenset(folded.split()), entities,
                    frozenset(n for n in numbers - dated if not (YEAR.fullmatch(n) and n in dated)),
                    frozenset(n for n in numbers if YEAR.fullmatch(n)), self.values(folded), terms & self.unit_terms,
                    tuple(index.clause_vector_rows(p.id, i)), bool(SENTENCE_END.search(seg.text)), len(seg.text))
        self.idf, self.name_idf, self.unseen_idf = self._inverse_document_frequencies()
        self.prefixes = {t[:PREFIX] for t in self.idf if len(t) >= PREFIX}
        self.skeletons = {arabic_skeleton(t) for t in self.idf} - {None}
        self.kinds = {e.id: e.kind for e in glossary.entries}
        self.modifiers = self._word_modifiers()
        in_order = sorted(index.passages, key=lambda p: (p.source, p.start))
        self.previous = {p.id: q for q, p in zip(in_order, in_order[1:]) if q.source == p.source}
        self.order = {p.id: n for n, p in enumerate(in_order)}
        self.passage_names = {p.id: frozenset(e for i in range(len(p.segments)) for e in self.facts[(p.id, i)].entities)
                              for p in index.passages}
        self.around = {p.id: self._names_around(p) for p in index.passages}

    def values(self, folded: str) -> frozenset[int]:
        """The numbers a (normalised) text says, in digits or in words ("five months", «عشرون فيلا»)."""
        found = {int(n) for n in NUMBER.findall(folded)}
        for word in folded.split():
            value = self.number_values.get(word) or self.number_values.get(word[1:] if word[:1] in "وفب" else "")
            if value:
                found.add(value)
        return frozenset(found)

    def _inverse_document_frequencies(self) -> tuple[dict[str, float], dict[str, float], float]:
        """IDF over clauses (both views) of terms, and of glossary names (a clause names an entry in
        any of its spellings): a term found in every clause tells nothing about the answer, and a
        name is as common as all its spellings together, not as its rarest one."""
        terms: Counter[str] = Counter()
        names: Counter[str] = Counter()
        for facts in self.facts.values():
            terms.update(facts.terms)
            names.update(facts.entities.keys())
        total = len(self.facts)
        return ({t: math.log(1 + total / n) for t, n in terms.items()},
                {e: math.log(1 + total / n) for e, n in names.items()}, math.log(1 + total))

    def _word_modifiers(self) -> dict[tuple[str, str], list[frozenset[str]]]:
        """(language, word) -> the glossary names modifying each of its uses in the text."""
        uses: dict[tuple[str, str], list[frozenset[str]]] = {}
        for p in self.index.passages:
            for language in filter(None, (p.language, p.translation_language)):
                for word, names in self.glossary.attachments(p.view(language) or "", language):
                    uses.setdefault((language, word), []).append(names)
        return uses

    def _names_around(self, passage: Passage) -> frozenset[str]:
        """Glossary names in a passage and in the two before it: a narrative goes on about the
        place or person it named a paragraph or two earlier ("the city" of the siege of Samarkand)."""
        near = [passage]
        while len(near) < 3 and near[-1].id in self.previous:
            near.append(self.previous[near[-1].id])
        return frozenset().union(*(self.passage_names[p.id] for p in near))

    def known(self, term: str) -> bool:
        """Whether the text uses a word in some form: as it is, by its first letters, or for an
        Arabic word by its skeleton (the question's يقاتل, the text's قاتل)."""
        return (term in self.idf or (len(term) >= PREFIX and term[:PREFIX] in self.prefixes)
                or arabic_skeleton(term) in self.skeletons)

    def owned_elsewhere(self, query: Query) -> set[str]:
        """Words of the question that belong to a name ("the capital of the Mongols") which the
        text uses only of other names of the same kind ("the Khwarazmian capital")."""
        out = set()
        for word, names in self.glossary.attachments(query.question, query.language):
            kinds = {self.kinds[n] for n in names} & NAMED_KINDS
            uses = self.modifiers.get((query.language, word), [])
            if kinds and uses and all(u and not u & names for u in uses) \
                    and any(kinds & {self.kinds[n] for n in u} for u in uses):
                out.add(word)
        return out


@dataclass(frozen=True)
class Window:
    hit: int  # index of the passage in the hits
    passage: Passage
    first: int  # clause positions [first, last] in the passage
    last: int
    covered: int  # bit mask of the query units the window covers


HOLDS = (*FIT_KINDS, "past_echo")  # what a window holds, whatever is asked
KIND_COLUMNS = [WINDOW_FEATURES.index(f"fit_{k}") for k in FIT_KINDS]
TUNED_COLUMNS = [WINDOW_FEATURES.index(f"tuned_{k}") for k in ("max", "mean", "first")]


@dataclass
class Candidates:
    """The windows of a query's best passages, with their feature matrix (rows in WINDOW_FEATURES order).

    What depends on learned models (the kinds asked for, the tuned query vector) is filled in by
    `complete`, so that training can try models without reading the passages again."""

    query: Query
    windows: list[Window]
    features: np.ndarray  # (windows, len(WINDOW_FEATURES))
    holds: np.ndarray  # (windows, len(HOLDS)): what each window holds, whatever the question asks
    question: dict[str, float]  # question-level facts (for answerability)
    clause_vectors: np.ndarray  # (candidate clauses, views, dim): each candidate clause's vectors
    clause_of: np.ndarray  # (windows, 2): the first and last candidate clause of each window

    def complete(self, kinds: dict[str, float], tuned: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """The feature matrix and question facts for a question asking for these kinds (their
        probabilities) with this tuned query vector: each kind's fit is its probability times
        whether the window holds a new thing of that kind; the tuned cosines count, like the
        model's own, from the best candidate clause."""
        matrix = self.features.copy()
        weights = np.array([kinds.get(k, 0.0) for k in FIT_KINDS], dtype=np.float32)
        matrix[:, KIND_COLUMNS] = self.holds[:, :len(FIT_KINDS)] * weights
        matrix[:, WINDOW_FEATURES.index("fit_total")] = matrix[:, KIND_COLUMNS].sum(axis=1)
        manner = kinds.get("manner", 0.0) + kinds.get("event", 0.0)
        matrix[:, WINDOW_FEATURES.index("manner_past_echo")] = self.holds[:, -1] * manner
        question = dict(self.question)
        if len(self.windows):
            cosines = (self.clause_vectors @ tuned).max(axis=1)  # best view of each clause
            best = float(cosines.max())
            for row, (first, last) in enumerate(self.clause_of):
                span = cosines[first:last + 1]
                matrix[row, TUNED_COLUMNS] = (np.array([span.max(), span.mean(), span[0]]) - best) / DENSE_UNIT
            question["tuned_best"] = best
        return matrix, question


class WindowFeatures:
    def __init__(self, table: ClauseTable):
        self.table = table

    def units(self, query: Query) -> tuple[list[frozenset[str]], np.ndarray, float, float]:
        """What a window should cover: each glossary name the question mentions once (by any of its
        spellings) and each other term once, weighted by IDF; a term the text never uses keeps the
        highest IDF. Also the shares of the question the text never uses and that belong to a name
        the text uses only of others."""
        t = self.table
        units: list[frozenset[str]] = []
        weights: list[float] = []
        named: set[str] = set()
        for mention in {m.entry.id: m for m in query.mentions}.values():
            variants = frozenset(tok for name in mention.entry.ar + mention.entry.en for tok in tokenize(name))
            named.update(variants)
            units.append(variants)
            weights.append(t.name_idf.get(mention.entry.id, t.unseen_idf))
        for term in dict.fromkeys(query.terms):
            if term not in named:
                units.append(frozenset([term]))
                weights.append(t.idf.get(term, t.unseen_idf))
        elsewhere = t.owned_elsewhere(query)
        units = [frozenset() if unit & elsewhere else unit for unit in units]
        w = np.array(weights, dtype=np.float64)
        total = w.sum() or 1.0
        unknown = sum(wt for unit, wt in zip(units, w) if not any(t.known(x) for x in unit)) / total
        owned = sum(wt for unit, wt in zip(units, w) if not unit) / total
        return units, w / total, unknown, owned

    def of(self, query: Query, hits: list[Hit], passages: int) -> Candidates:
        t = self.table
        units, shares, unknown, owned = self.units(query)
        asked = query.asked
        names = query.names
        q_terms = frozenset(query.terms)
        latest = self._latest_naming(hits[:passages], asked)
        top_score = max((h.score for h in hits[:passages]), default=1.0) or 1.0
        top_dense = max((h.dense for h in hits[:passages]), default=0.0)
        rows: list[list[float]] = []
        held: list[list[float]] = []
        windows: list[Window] = []
        clause_of: list[tuple[int, int]] = []
        clause_vectors: list[np.ndarray] = []
        per_passage = []
        for rank, hit in enumerate(hits[:passages]):
            p = hit.passage
            facts = [t.facts[(p.id, i)] for i in range(len(p.segments))]
            masks = [sum(1 << u for u, unit in enumerate(units) if unit & f.terms) for f in facts]
            dense = [float(np.max(t.index.clause_vectors[list(f.vector_rows)] @ query.vector)) if f.vector_rows else 0.0
                     for f in facts]
            per_passage.append((rank, hit, facts, masks, dense))
        best_dense = max((max(d) for *_, d in per_passage if d), default=0.0)
        for rank, hit, facts, masks, dense in per_passage:
            p = hit.passage
            offset = len(clause_vectors)
            for f in facts:
                vectors = t.index.clause_vectors[list(f.vector_rows)] if f.vector_rows else np.zeros((1, len(query.vector)), np.float32)
                clause_vectors.append(vectors if len(vectors) == 2 else np.repeat(vectors[:1], 2, axis=0))
            passage_mask = 0
            for m in masks:
                passage_mask |= m
            coverage_of = [float(shares[[u for u in range(len(units)) if m >> u & 1]].sum()) if m else 0.0 for m in masks]
            anchor = int(np.argmax(coverage_of)) if any(coverage_of) else -1
            echoes = [max((len(view & q_terms) / len(view) for view in f.views if view), default=0.0) for f in facts]
            around_ok = float(asked <= t.around[p.id])
            for first in range(len(facts)):
                for last in range(first, min(first + MAX_WINDOW, len(facts))):
                    span = facts[first:last + 1]
                    mask = 0
                    for m in masks[first:last + 1]:
                        mask |= m
                    entities = {k: v for f in span for k, v in f.entities.items()}
                    features = {
                        "rank_inv": 1.0 / (1 + rank),
                        "fused": hit.score / top_score,
                        "passage_dense": (hit.dense - top_dense) / DENSE_UNIT,
                        "dense_max": (max(dense[first:last + 1]) - best_dense) / DENSE_UNIT,
                        "dense_mean": (float(np.mean(dense[first:last + 1])) - best_dense) / DENSE_UNIT,
                        "dense_first": (dense[first] - best_dense) / DENSE_UNIT,
                        "coverage": _share(mask, shares),
                        "coverage_passage": _share(passage_mask, shares),
                        "names_window": len(names & entities.keys()) / len(names) if names else 1.0,
                        "asked_window": len(asked & entities.keys()) / len(asked) if asked else 1.0,
                        "asked_around": around_ok,
                        "echo_max": max(echoes[first:last + 1]),
                        "echo_last": echoes[last],
                        "has_anchor": float(first <= anchor <= last),
                        "after_anchor": float(anchor >= 0 and first == anchor + 1),
                        "near_anchor": float(anchor >= 0 and anchor < first <= anchor + 3),
                        "passage_end": float(last == len(facts) - 1),
                        "latest_naming": float(p.id == latest),
                        "length": float(last - first),
                        "chars": sum(f.chars for f in span) / 200.0,
                        "sentence_start": float(first == 0 or facts[first - 1].ends_sentence),
                        "sentence_end": float(span[-1].ends_sentence),
                        **self._agreement(query, span, entities),
                    }
                    holds = {**self._holds(query, span, entities), "past_echo": float(echoes[last] < 1 / 3)}
                    rows.append([features.get(name, 0.0) for name in WINDOW_FEATURES])
                    held.append([holds[name] for name in HOLDS])
                    windows.append(Window(rank, p, first, last, mask))
                    clause_of.append((offset + first, offset + last))
        question = {"unknown": unknown, "owned_elsewhere": owned, "terms": float(len(units)),
                    "names": float(len(names)), "asked": float(len(asked)),
                    "negated": float(bool(_words("negations") & set(normalize(query.question).split()))),
                    "numbers": float(len(query.numbers)), "top_dense": top_dense, "best_clause": best_dense}
        dim = len(query.vector)
        return Candidates(query, windows, np.array(rows, dtype=np.float32).reshape(-1, len(WINDOW_FEATURES)),
                          np.array(held, dtype=np.float32).reshape(-1, len(HOLDS)), question,
                          np.stack(clause_vectors) if clause_vectors else np.zeros((0, 2, dim), np.float32),
                          np.array(clause_of, dtype=np.int64).reshape(-1, 2))

    def _holds(self, query: Query, span: list[ClauseFacts], entities: dict) -> dict[str, float]:
        """Whether the clauses hold a new thing (not in the question) of each kind."""
        t = self.table
        q_words = set(normalize(query.question).split())
        words = set().union(*(f.words for f in span)) - q_words
        numbers = set().union(*(f.numbers for f in span)) - query.numbers
        years = set().union(*(f.years for f in span)) - query.numbers
        new = {kind for eid, kind in entities.items() if eid not in query.names}
        counted = bool(numbers) or bool(words & t.number_words)
        return {
            "number": float(counted),
            "duration": float(bool(words & t.time_units) and counted),
            "date": float(bool(years) or bool(words & t.months)),
            "person": float("person" in new),
            "group": float(bool({"people", "dynasty"} & new)),
            "place": float(bool({"place", "river"} & new) or bool(words & t.place_words)),
            "reason": float(bool(words & t.reason_words) or any(w.startswith(("لت", "للا", "لاست")) for w in words)),
        }

    def _agreement(self, query: Query, span: list[ClauseFacts], entities: dict) -> dict[str, float]:
        """How the window agrees with what the question asserts: its numbers (in digits or words),
        its units of time, its names."""
        t = self.table
        asserted = t.values(normalize(query.question))
        held = set().union(*(f.values for f in span))
        match = len(asserted & held) / len(asserted) if asserted else 0.0
        conflict = float(bool(asserted) and not asserted & held and bool(held))
        asked_units = frozenset(query.terms) & t.unit_terms
        units = set().union(*(f.units for f in span))
        unit_conflict = float(bool(asked_units) and bool(units) and not asked_units & units)
        named_kinds = {t.kinds[n]: n for n in query.names if t.kinds.get(n) in NAMED_KINDS}
        other = any(kind in named_kinds and eid not in query.names for eid, kind in entities.items())
        missing = any(n not in entities for n in named_kinds.values())
        words = set().union(*(f.words for f in span))
        return {"num_match": match, "num_conflict": conflict, "unit_conflict": unit_conflict,
                "name_conflict": float(other and missing),
                "negation": float(bool(words & t.negations))}

    def _latest_naming(self, hits: list[Hit], asked: frozenset[str]) -> int | None:
        """The passage, among the candidates, latest in the text that names a person asked about:
        where the story of them ends ("what became of him in the end?")."""
        people = {n for n in asked if self.table.kinds.get(n) == "person"}
        naming = [h.passage for h in hits if people & self.table.passage_names[h.passage.id]]
        return max(naming, key=lambda p: self.table.order[p.id]).id if naming else None


def _share(mask: int, shares: np.ndarray) -> float:
    total, u = 0.0, 0
    while mask:
        if mask & 1:
            total += shares[u]
        mask >>= 1
        u += 1
    return float(total)
