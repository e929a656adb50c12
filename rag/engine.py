"""What every answer engine shares: its input, its draft, and the check that quotes are real.

An engine turns retrieved passages into a `Draft`: a few claims, each a sentence that quotes one
passage. The assistant numbers the cited passages in order of first use and writes the markers;
`verify_claim` checks, for every answer, that each quoted sentence really occurs in the passage
it cites (or in that passage's aligned translation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, Protocol

from .query import Query
from .retrieval import Hit
from .textnorm import tokenize

EDGE_PUNCTUATION = " \t\n،,؛;.:!?؟\"'«»()[]"


@dataclass(frozen=True)
class EngineInput:
    question: str  # as asked
    language: str  # answer language
    queries: list[Query]  # one per part of the question
    part_hits: list[list[Hit]]  # what was retrieved for each part
    hits: list[Hit]  # all of them merged, best first: what claims cite and the answer lists

    @property
    def query(self) -> str:
        """What was searched (a follow-up carries names from earlier turns)."""
        return " | ".join(q.text for q in self.queries)


@dataclass(frozen=True)
class Claim:
    text: str  # one quoted sentence of the answer, without its marker
    hit: int  # index into EngineInput.hits of the passage it quotes
    highlights: tuple[tuple[int, int], ...] = ()  # quoted spans of the original file
    prefix: str = ""  # the engine's own words before the quote: a verdict ("No:"), a note


@dataclass(frozen=True)
class Draft:
    claims: list[Claim]
    answerable: bool
    notes: list[str] = field(default_factory=list)  # the engine's own sentences after the claims
    ranking: list[int] = field(default_factory=list)  # hits in the engine's order, best first (empty: as retrieved)


class Engine(Protocol):
    name: str

    def stream(self, request: EngineInput) -> Iterator[str | Draft]:
        """Yield text increments as they are produced, then the final Draft."""


def squash(text: str) -> str:
    """Whitespace- and case-insensitive form used to check that a quote occurs in a passage."""
    return re.sub(r"\s+", " ", text).strip(EDGE_PUNCTUATION).casefold()


def verify_claim(claim: Claim, hits: list[Hit], support: float = 0.8) -> bool:
    """A claim is verified when its sentence occurs in the cited passage or its translation, or (for
    a generator's paraphrase) when at least `support` of its search terms occur there."""
    if not 0 <= claim.hit < len(hits):
        return False
    quote = squash(claim.text)
    passage = hits[claim.hit].passage
    views = [view for view in (passage.text, passage.translation) if view]
    if not quote:
        return False
    if any(quote in squash(view) for view in views):
        return True
    terms = set(tokenize(claim.text))
    found = set().union(*(tokenize(view) for view in views))
    return bool(terms) and len(terms & found) >= support * len(terms)
