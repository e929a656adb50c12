"""The bilingual glossary: finds the people, places and terms a query names, in either language.

Names are matched on search tokens (normalised and light-stemmed), so "وبخارى", "لبخارى" and
"Bukhara's" all find the entry for Bukhara, and "Utrar" finds Otrar through its variants.
"""

from __future__ import annotations

from dataclasses import dataclass

from .sources import GlossaryEntry
from .textnorm import tokenize


@dataclass(frozen=True)
class Mention:
    entry: GlossaryEntry
    start: int  # token positions in the query
    end: int


class Glossary:
    def __init__(self, entries: list[GlossaryEntry]):
        self.entries = list(entries)
        # name tokens -> entries; longest names are tried first so "Jalal al-Din Mankubirti" wins
        self._names: dict[tuple[str, ...], list[GlossaryEntry]] = {}
        for entry in self.entries:
            for name in entry.ar + entry.en:
                key = tuple(tokenize(name, keep_stopwords=True))
                if sum(map(len, key)) < 2:  # one-letter forms (ه for "AH") would match noise
                    continue
                if entry not in self._names.setdefault(key, []):
                    self._names[key].append(entry)
        self._longest = max((len(k) for k in self._names), default=0)

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, text: str) -> list[Mention]:
        """Glossary entries named in a text, left to right, longest match first."""
        tokens = tokenize(text, keep_stopwords=True)
        mentions, i = [], 0
        while i < len(tokens):
            for size in range(min(self._longest, len(tokens) - i), 0, -1):
                entries = self._names.get(tuple(tokens[i:i + size]))
                if entries:
                    mentions.extend(Mention(e, i, i + size) for e in entries)
                    i += size
                    break
            else:
                i += 1
        return mentions

    def expansion(self, text: str, language: str) -> list[str]:
        """Names, in `language`, of everything the text mentions: for cross-lingual lexical search."""
        names: list[str] = []
        for mention in self.find(text):
            for name in mention.entry.names(language):
                if name not in names:
                    names.append(name)
        return names
