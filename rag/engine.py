"""What every answer engine shares: its input, its draft, and the check that quotes are real.

An engine turns retrieved passages into a `Draft`: a few claims, each a sentence that quotes (the
extractive engine) or restates (a generator, whose sentences rag/support.py checks) one passage.
The assistant numbers the cited passages in order of first use and writes the markers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, Protocol

from .query import Query
from .retrieval import Hit

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
    # set by a generator that could not give a supported answer (a message key): the assistant
    # answers extractively instead and adds this note
    notice: str = ""


class Engine(Protocol):
    name: str

    def stream(self, request: EngineInput) -> Iterator[str | Draft]:
        """Yield text increments as they are produced, then the final Draft."""


def squash(text: str) -> str:
    """Whitespace- and case-insensitive form used to check that a quote occurs in a passage."""
    return re.sub(r"\s+", " ", text).strip(EDGE_PUNCTUATION).casefold()
