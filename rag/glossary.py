"""The bilingual glossary: finds the people, places and terms a text names, in either language.

Names are matched on search tokens (normalised and light-stemmed), so "وبخارى", "لبخارى" and
"Bukhara's" all find the entry for Bukhara, and "Utrar" finds Otrar through its variants.
A question may also spell a name in a way the glossary does not list ("Samarkhand", "سمرقنط",
"Gengis"): with `fuzzy=True` a word the texts never use is matched to the nearest name within one
edit (two for names of seven letters or more), when exactly one entry is that near.
Some names mean different people in different parts of a text ("the Sultan" is Muhammad until
his death, Jalal al-Din after it): an entry's scoped names apply only in their paragraphs, and
there they win over the same name elsewhere in the glossary.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import DamerauLevenshtein

from .sources import GlossaryEntry
from .textnorm import AR_STOPWORDS, EN_STOPWORDS, tokenize

FUZZY_MIN_LETTERS = 5  # shorter names are matched exactly only (Nasa, Jand, Rayy: "nasal" is no misspelling)
FUZZY_TWO_EDITS_FROM = 7  # names this long (without spaces) may be two edits away


@dataclass(frozen=True)
class Mention:
    entry: GlossaryEntry
    start: int  # token positions in the text (tokenize(text, keep_stopwords=True))
    end: int
    edits: int = 0  # 0 for a listed spelling, else the edit distance of a fuzzy match


class Glossary:
    def __init__(self, entries: list[GlossaryEntry], known_words: frozenset[str] = frozenset()):
        """`known_words`: search tokens the texts use; they are never taken for a misspelt name."""
        self.entries = list(entries)
        # name tokens -> entries; longest names are tried first so "Jalal al-Din Mankubirti" wins
        self._names: dict[tuple[str, ...], list[GlossaryEntry]] = {}
        # name tokens -> (source, first paragraph, last paragraph, entry) for scoped names
        self._scoped: dict[tuple[str, ...], list[tuple[str, int, int, GlossaryEntry]]] = {}
        for entry in self.entries:
            for name in entry.ar + entry.en:
                key = _key(name)
                if key and entry not in self._names.setdefault(key, []):
                    self._names[key].append(entry)
            for scope in entry.scopes:
                for name in scope.names:
                    if key := _key(name):
                        self._scoped.setdefault(key, []).append((scope.source, scope.first, scope.last, entry))
        self._longest = max((len(k) for k in (*self._names, *self._scoped)), default=0)
        self.known_words = known_words - {token for key in (*self._names, *self._scoped) for token in key}
        self._spelled: dict[int, list[tuple[str, tuple[str, ...]]]] = {}  # letters -> (joined name, key)
        for key in self._names:
            joined = "".join(key)
            if len(joined) >= FUZZY_MIN_LETTERS:
                self._spelled.setdefault(len(joined), []).append((joined, key))

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, text: str, where: tuple[str, int] | None = None, fuzzy: bool = False) -> list[Mention]:
        """Glossary entries named in a text, left to right, longest match first.

        `where` (source path, paragraph) is where the text stands in a source, for scoped names;
        `fuzzy` also matches misspelt names (for questions, not for the texts themselves).
        """
        tokens = tokenize(text, keep_stopwords=True)
        mentions, i = [], 0
        while i < len(tokens):
            for size in range(min(self._longest, len(tokens) - i), 0, -1):
                entries = self._entries(tuple(tokens[i:i + size]), where)
                if entries:
                    mentions.extend(Mention(e, i, i + size) for e in entries)
                    i += size
                    break
            else:
                near = self._nearest(tokens, i) if fuzzy else None
                if near:
                    size, edits, entries = near
                    mentions.extend(Mention(e, i, i + size, edits) for e in entries)
                    i += size
                else:
                    i += 1
        return mentions

    def _entries(self, key: tuple[str, ...], where: tuple[str, int] | None) -> list[GlossaryEntry]:
        if where is not None:
            scoped = [e for source, first, last, e in self._scoped.get(key, [])
                      if source == where[0] and first <= where[1] <= last]
            if scoped:
                return scoped
        return self._names.get(key, [])

    def _nearest(self, tokens: list[str], i: int) -> tuple[int, int, list[GlossaryEntry]] | None:
        """(tokens taken, edits, entries) of the one name nearest to the words at position i, if any."""
        if tokens[i] in self.known_words or tokens[i] in AR_STOPWORDS or tokens[i] in EN_STOPWORDS:
            return None
        best: tuple[int, int, list[GlossaryEntry]] | None = None
        for size in range(1, min(3, len(tokens) - i) + 1):
            words = tokens[i:i + size]
            if size > 1 and (words[-1] in AR_STOPWORDS or words[-1] in EN_STOPWORDS):
                break
            joined = "".join(words)
            if len(joined) < FUZZY_MIN_LETTERS:
                continue
            allowed = 2 if len(joined) >= FUZZY_TWO_EDITS_FROM else 1
            found: dict[int, set[tuple[str, ...]]] = {}
            for length in range(len(joined) - allowed, len(joined) + allowed + 1):
                for name, key in self._spelled.get(length, ()):
                    limit = 2 if min(len(name), len(joined)) >= FUZZY_TWO_EDITS_FROM else 1
                    edits = DamerauLevenshtein.distance(joined, name, score_cutoff=limit)
                    if edits <= limit:
                        found.setdefault(edits, set()).add(key)
            if found:
                edits = min(found)
                entries = {e.id: e for key in found[edits] for e in self._names[key]}
                if len(entries) == 1 and (best is None or edits < best[1]):
                    best = (size, edits, list(entries.values()))
        return best

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

    def expansion(self, mentions: list[Mention], language: str) -> list[str]:
        """Names, in `language`, of the entries mentioned: for cross-lingual lexical search."""
        names: list[str] = []
        for mention in mentions:
            for name in mention.entry.names(language):
                if name not in names:
                    names.append(name)
        return names


def _key(name: str) -> tuple[str, ...] | None:
    key = tuple(tokenize(name, keep_stopwords=True))
    return key if sum(map(len, key)) >= 2 else None  # one-letter forms (ه for "AH") would match noise
