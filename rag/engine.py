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

import numpy as np

from .retrieval import Hit
from .textnorm import tokenize

EDGE_PUNCTUATION = " \t\n،,؛;.:!?؟\"'«»()[]"


@dataclass(frozen=True)
class EngineInput:
    question: str  # as asked
    query: str  # what was searched (a follow-up carries names from earlier turns)
    language: str  # answer language
    hits: list[Hit]
    query_vector: np.ndarray


@dataclass(frozen=True)
class Claim:
    text: str  # one sentence of the answer, without its marker
    hit: int  # index into EngineInput.hits of the passage it quotes
    highlights: tuple[tuple[int, int], ...] = ()  # quoted spans of the original file


@dataclass(frozen=True)
class Draft:
    claims: list[Claim]
    answerable: bool
    topic: str = ""  # for a refusal: what the text does not say
    diagnostics: dict = field(default_factory=dict)


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
