"""Passages: the units that are indexed, retrieved and cited.

A passage is a paragraph of a source (or, for a long paragraph, a run of its clauses), with exact
`start`/`end` offsets into the original file, its clauses (segments) and their aligned translation.
Its `text` is always `source.text[start:end]`: what is shown is what is in the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from .sources import Segment, SourceText


@dataclass(frozen=True)
class Passage:
    id: int  # position in the index
    source: str  # original file, relative to the project root
    language: str  # language of the original
    paragraph: int
    start: int
    end: int
    text: str
    segments: tuple[Segment, ...]
    translation_language: str | None

    @property
    def translation(self) -> str | None:
        """The aligned translation of the passage, or None when any of its clauses lacks one."""
        parts = [seg.translation for seg in self.segments]
        if not parts or any(p is None for p in parts):
            return None
        return " ".join(parts)

    def view(self, language: str) -> str | None:
        """The passage in a language: the original, or its aligned translation."""
        if language == self.language:
            return self.text
        if language == self.translation_language:
            return self.translation
        return None

    def to_dict(self) -> dict:
        return {"id": self.id, "source": self.source, "language": self.language, "paragraph": self.paragraph,
                "start": self.start, "end": self.end,
                "segments": [[s.start, s.end, s.translation] for s in self.segments],
                "translation_language": self.translation_language}

    @classmethod
    def from_dict(cls, row: dict, source_text: str) -> "Passage":
        """Rebuild a stored passage; its texts come from the source file, never from the index."""
        segments = tuple(Segment(row["paragraph"], s, e, source_text[s:e], t) for s, e, t in row["segments"])
        return cls(id=row["id"], source=row["source"], language=row["language"], paragraph=row["paragraph"],
                   start=row["start"], end=row["end"], text=source_text[row["start"]:row["end"]],
                   segments=segments, translation_language=row["translation_language"])


def make_passages(source: SourceText, max_chars: int, first_id: int = 0) -> list[Passage]:
    """One passage per paragraph; paragraphs longer than `max_chars` are cut between clauses."""
    by_paragraph: dict[int, list[Segment]] = {}
    for seg in source.segments:
        by_paragraph.setdefault(seg.paragraph, []).append(seg)
    passages: list[Passage] = []
    for para in source.paragraphs:
        groups: list[list[Segment]] = [[]]
        for seg in by_paragraph.get(para.number, []):
            group = groups[-1]
            if group and seg.end - group[0].start > max_chars:
                groups.append([seg])
            else:
                group.append(seg)
        for group in groups:
            if not group:
                continue
            start, end = group[0].start, group[-1].end
            passages.append(Passage(
                id=first_id + len(passages), source=source.path, language=source.language,
                paragraph=para.number, start=start, end=end, text=source.text[start:end],
                segments=tuple(group), translation_language=source.translation_language))
    return passages
