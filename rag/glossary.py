"""The bilingual glossary: finds the people, places and terms a query names, in either language.

Names are matched on search tokens (normalised and light-stemmed), so "وبخارى", "لبخارى" and
"Bukhara's" all find the entry for Bukhara, and "Utrar" finds Otrar through its variants.
"""

from __future__ import annotations

from dataclasses import dataclass

from .sources import GlossaryEntry
from .textnorm import AR_STOPWORDS, EN_STOPWORDS, tokenize


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

    def attachments(self, text: str, language: str) -> list[tuple[str, frozenset[str]]]:
        """Each word of a text with the glossary names that modify it, as (search token, entry ids).

        Arabic puts the modifier after the word ("عاصمة المغول", "العاصمة الخوارزمية"); English
        before it ("the Khwarazmian capital", "the Sultan's army") or after "of" ("the capital of
        the Mongols"). A word with no name beside it gets an empty set. Used to tell "the capital
        of the Mongols" from "the Khwarazmian capital", which share every word.
        """
        tokens = tokenize(text, keep_stopwords=True)
        mentions = self.find(text)
        owner: dict[int, Mention] = {i: m for m in mentions for i in range(m.start, m.end)}
        stop = AR_STOPWORDS if language == "ar" else EN_STOPWORDS

        def names_at(i: int) -> frozenset[str]:
            if i not in owner:
                return frozenset()
            span = (owner[i].start, owner[i].end)
            return frozenset(m.entry.id for m in mentions if (m.start, m.end) == span)

        pairs = []
        for i, token in enumerate(tokens):
            if i in owner or token in stop:
                continue
            if language == "ar":
                names = names_at(i + 1)
            else:
                after_of = i + 2 + (tokens[i + 2:i + 3] == ["the"])
                names = names_at(i - 1) | (names_at(after_of) if tokens[i + 1:i + 2] == ["of"] else frozenset())
            pairs.append((token, names))
        return pairs

    def expansion(self, text: str, language: str) -> list[str]:
        """Names, in `language`, of everything the text mentions: for cross-lingual lexical search."""
        names: list[str] = []
        for mention in self.find(text):
            for name in mention.entry.names(language):
                if name not in names:
                    names.append(name)
        return names
