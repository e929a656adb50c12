"""The answer contract: `Answer` and `Citation`, shared by every engine, the CLI, UI and API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .retrieval import Hit


@dataclass(frozen=True)
class Citation:
    """A passage as the reader can check it: the exact span of the original file, and its translation.

    For `Answer.citations`, `n` is the [n] marker in the answer text; for `Answer.passages`, the rank.
    """

    n: int
    source: str  # original-language file, relative to the project root
    paragraph: int
    start: int
    end: int
    text: str  # original-language passage, == file text[start:end]
    translation: str | None
    score: float
    language: str = "ar"  # language of `text`
    translation_language: str | None = "en"
    highlights: list[list[int]] = field(default_factory=list)  # quoted [start, end] spans in the file

    @classmethod
    def from_hit(cls, n: int, hit: Hit, highlights: list[list[int]] | None = None) -> "Citation":
        p = hit.passage
        return cls(n=n, source=p.source, paragraph=p.paragraph, start=p.start, end=p.end, text=p.text,
                   translation=p.translation, score=round(hit.score, 6), language=p.language,
                   translation_language=p.translation_language, highlights=highlights or [])

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    text: str  # the answer, with [n] markers, in `language`
    language: str  # "ar" | "en"
    answerable: bool  # False when the sources do not answer the question
    citations: list[Citation]  # what the [n] markers refer to, numbered 1..k in order of first use
    passages: list[Citation]  # every retrieved passage, best first
    query: str = ""  # the search query actually used (differs from the question for follow-ups)

    def to_dict(self) -> dict:
        return {"text": self.text, "language": self.language, "answerable": self.answerable,
                "citations": [c.to_dict() for c in self.citations],
                "passages": [c.to_dict() for c in self.passages], "query": self.query}
