"""Follow-up questions: carry the people and places of earlier turns into the search query.

"What happened to him in the end?" names nobody; after "Who governed Otrar?" it means Inal Khan.
A question that names no person or place of the glossary is treated as a follow-up, and the
names mentioned in the latest turns (newest first, people before places) are added to its query.
"""

from __future__ import annotations

from .glossary import Glossary

ANCHOR_KINDS = ("person", "place", "river")
MAX_CARRIED = 3
TURNS_LOOKED_AT = 4


def contextual_query(question: str, history: list[dict], glossary: Glossary, language: str) -> str:
    if not history or any(m.entry.kind in ANCHOR_KINDS for m in glossary.find(question)):
        return question
    carried = []
    for turn in reversed(history[-TURNS_LOOKED_AT:]):
        mentions = sorted(glossary.find(turn["content"]), key=lambda m: ANCHOR_KINDS.index(m.entry.kind)
                          if m.entry.kind in ANCHOR_KINDS else len(ANCHOR_KINDS))
        for m in mentions:
            if m.entry.kind in ANCHOR_KINDS and m.entry not in carried:
                carried.append(m.entry)
        if len(carried) >= MAX_CARRIED:
            break
    names = [entry.names(language)[0] for entry in carried[:MAX_CARRIED] if entry.names(language)]
    return " ".join([question, *names]) if names else question
