"""Source texts: originals, aligned translations and glossaries from `source_texts/`.

A source is an original-language file `<stem>.<lang>.txt`, kept byte for byte. Beside it, all
optional: `<stem>.meta.json` (title, provenance, licence), `<stem>.<lang2>.jsonl` (a translation
aligned segment by segment, each segment naming the exact character span of the original it
renders) and `<stem>.glossary.json`. Adding a text is dropping these files in and running
`rag build`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .textnorm import detect_language

# Where the original is cut into clauses when no aligned translation says where: after an
# Arabic or Latin comma, semicolon, full stop, question or exclamation mark.
VIEW_LANGUAGES = ("ar", "en")  # the languages a text or its translation can be read in
CLAUSE_END = re.compile(r"[،,؛;.!?؟]+")
# Older Arabic prose punctuates little: a clause longer than this is cut again before a word that
# opens a new clause with «و» or «ف» (or «ثم»), as near its middle as can be.
LONG_CLAUSE = 250
CLAUSE_OPENER = re.compile(r"\s(?=(?:ثم|[وف][\u0621-\u064A]{2,})(?:\s|$))")


class SourceError(Exception):
    """A source file or its companion files are unreadable or inconsistent."""


@dataclass(frozen=True)
class Segment:
    """A clause of the original with its aligned translation (None when there is none)."""

    paragraph: int
    start: int
    end: int
    text: str
    translation: str | None


@dataclass(frozen=True)
class Paragraph:
    number: int  # 1-based, in order of the file's non-empty lines
    start: int  # offsets of the paragraph without its surrounding white space
    end: int


@dataclass(frozen=True)
class NameScope:
    """Names that mean an entry only in some paragraphs of one source ("the Sultan" after
    Muhammad's death is Jalal al-Din)."""

    source: str
    first: int
    last: int
    names: tuple[str, ...]


@dataclass(frozen=True)
class GlossaryEntry:
    id: str
    kind: str
    ar: tuple[str, ...]
    en: tuple[str, ...]
    note_en: str
    note_ar: str
    scopes: tuple[NameScope, ...] = ()

    def names(self, language: str) -> tuple[str, ...]:
        return self.ar if language == "ar" else self.en

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "ar": list(self.ar), "en": list(self.en),
                "note_en": self.note_en, "note_ar": self.note_ar}


@dataclass(frozen=True)
class SourceText:
    path: str  # relative to the project root, e.g. "source_texts/khwarazm_campaign.ar.txt"
    language: str
    text: str
    sha256: str
    title: dict[str, str]
    meta: dict
    paragraphs: tuple[Paragraph, ...]
    segments: tuple[Segment, ...]
    translation_language: str | None
    glossary: tuple[GlossaryEntry, ...]
    companion_sha256: dict[str, str]  # checksums of the meta, translation and glossary files

    def notes(self, paragraph: int) -> list[dict]:
        """The editors' footnotes on a paragraph (the meta file's `notes`: where the source slips),
        each {"paragraph", "start", "end", "ar", "en"}."""
        return [n for n in self.meta.get("notes", []) if isinstance(n, dict) and n.get("paragraph") == paragraph]

    def paragraph(self, number: int) -> Paragraph:
        if not 1 <= number <= len(self.paragraphs):
            raise KeyError(number)
        return self.paragraphs[number - 1]

    @property
    def stem(self) -> str:
        """The name a source goes by in links: `khwarazm_campaign` for `khwarazm_campaign.ar.txt`."""
        return Path(self.path).name.split(".")[0]

    def translation_of(self, start: int, end: int) -> str | None:
        """The aligned translation of the clauses that overlap [start, end), joined; None without one."""
        pieces = [s.translation for s in self.segments if s.translation and s.start < end and start < s.end]
        return " ".join(pieces) or None


def find_source(sources: list[SourceText], name: str) -> SourceText | None:
    """A source by its path, file name or stem (what links and the API use)."""
    return next((s for s in sources if name in (s.path, Path(s.path).name, s.stem)), None)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_paragraphs(text: str) -> tuple[Paragraph, ...]:
    """Paragraphs are the non-empty lines of the file, trimmed of surrounding white space."""
    paragraphs = []
    for match in re.finditer(r"[^\n]+", text):
        line = match.group()
        if not line.strip():
            continue
        lead = len(line) - len(line.lstrip())
        trail = len(line) - len(line.rstrip())
        paragraphs.append(Paragraph(len(paragraphs) + 1, match.start() + lead, match.end() - trail))
    return tuple(paragraphs)


def split_clauses(text: str, paragraph: Paragraph) -> list[Segment]:
    """Cut a paragraph into clauses at punctuation, for sources without an aligned translation."""
    segments, cursor = [], paragraph.start
    body = text[paragraph.start:paragraph.end]
    cuts = _cut_long([m.end() for m in CLAUSE_END.finditer(body)] + [len(body)], body)
    for cut in cuts:
        end = paragraph.start + cut
        chunk = text[cursor:end]
        if chunk.strip(" ،,؛;.!?؟\t"):
            start = cursor + len(chunk) - len(chunk.lstrip())
            segments.append(Segment(paragraph.number, start, end, text[start:end], None))
            cursor = end
    if segments and cursor < paragraph.end:  # trailing punctuation only: attach to the last clause
        last = segments[-1]
        segments[-1] = Segment(last.paragraph, last.start, paragraph.end, text[last.start:paragraph.end], None)
    return segments


def _cut_long(cuts: list[int], body: str) -> list[int]:
    """Cut positions with every stretch longer than LONG_CLAUSE cut again (see CLAUSE_OPENER)."""
    out, start = [], 0
    for cut in cuts:
        out.extend(_halves(body, start, cut))
        start = cut
    return out


def _halves(body: str, start: int, end: int) -> list[int]:
    """The cut positions of body[start:end]: its end, after cutting it near its middle until no
    piece is longer than LONG_CLAUSE (or no clause opener is left to cut at)."""
    if end - start <= LONG_CLAUSE:
        return [end]
    openers = [m.start() for m in CLAUSE_OPENER.finditer(body, start + 40, end - 40)]
    if not openers:
        return [end]
    middle = min(openers, key=lambda at: abs(at - (start + end) // 2))
    return _halves(body, start, middle) + _halves(body, middle, end)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"{path}: cannot read JSON ({exc})") from None


def _read_translation(path: Path, text: str, paragraphs: tuple[Paragraph, ...],
                      language: str, translation_language: str) -> list[Segment]:
    """Load aligned segments and check each one against the original: a wrong offset is an error.

    Each line: {"paragraph", "start", "end", <original language>: slice, <translation language>: text}.
    """
    segments = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: cannot read ({exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            start, end, paragraph = int(row["start"]), int(row["end"]), int(row["paragraph"])
            original, translation = row[language], str(row[translation_language])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise SourceError(f"{path}:{number}: malformed segment ({exc})") from None
        if text[start:end] != original:
            raise SourceError(f"{path}:{number}: offsets {start}:{end} do not match the original text")
        if not 1 <= paragraph <= len(paragraphs):
            raise SourceError(f"{path}:{number}: paragraph {paragraph} does not exist")
        para = paragraphs[paragraph - 1]
        if not (para.start <= start < end <= para.end):
            raise SourceError(f"{path}:{number}: segment lies outside paragraph {paragraph}")
        if segments and start < segments[-1].end:
            raise SourceError(f"{path}:{number}: segment overlaps or precedes the previous one")
        segments.append(Segment(paragraph, start, end, original, translation))
    return segments


def _fill_gaps(text: str, paragraphs: tuple[Paragraph, ...], aligned: list[Segment]) -> list[Segment]:
    """Every paragraph is covered by segments: clauses an alignment leaves out get no translation."""
    by_paragraph: dict[int, list[Segment]] = {}
    for seg in aligned:
        by_paragraph.setdefault(seg.paragraph, []).append(seg)
    out: list[Segment] = []
    for para in paragraphs:
        segs = by_paragraph.get(para.number)
        out.extend(segs if segs else split_clauses(text, para))
    return out


def _read_glossary(path: Path, source: str) -> tuple[GlossaryEntry, ...]:
    """Entries: {"id", "kind", "ar": [names], "en": [names], "note_en", "note_ar", and optionally
    "scoped": [{"paragraphs": [first, last], "ar": [names], "en": [names]}]}."""
    rows = _read_json(path)
    if not isinstance(rows, list):
        raise SourceError(f"{path}: a glossary is a JSON list of entries")
    entries = []
    for i, row in enumerate(rows):
        try:
            scopes = tuple(NameScope(source, int(scope["paragraphs"][0]), int(scope["paragraphs"][1]),
                                     tuple(str(x) for x in scope.get("ar", []) + scope.get("en", [])))
                           for scope in row.get("scoped", []))
            entries.append(GlossaryEntry(
                id=str(row.get("id") or f"entry{i}"), kind=str(row.get("kind", "term")),
                ar=tuple(str(x) for x in row.get("ar", [])), en=tuple(str(x) for x in row.get("en", [])),
                note_en=str(row.get("note_en", "")), note_ar=str(row.get("note_ar", "")), scopes=scopes))
        except (AttributeError, KeyError, IndexError, TypeError, ValueError):
            raise SourceError(f"{path}: entry {i} is malformed") from None
    return tuple(entries)


def load_source(original: Path, project_dir: Path) -> SourceText:
    stem, _, _ = original.name.partition(".")
    folder = original.parent
    try:
        raw = original.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{original}: not a readable UTF-8 text ({exc})") from None
    meta_path = folder / f"{stem}.meta.json"
    meta = _read_json(meta_path) if meta_path.exists() else {}
    language = meta.get("language") or detect_language(text[:2000])
    paragraphs = split_paragraphs(text)
    if not paragraphs:
        raise SourceError(f"{original}: the text is empty")
    companions = {}
    if meta_path.exists():
        companions[meta_path.name] = sha256_bytes(meta_path.read_bytes())

    translations = meta.get("translations") or {  # <stem>.en.jsonl, not the bank <stem>.questions.jsonl
        p.name.split(".")[-2]: p.name for p in sorted(folder.glob(f"{stem}.*.jsonl"))
        if p.name.split(".")[-2] in VIEW_LANGUAGES and p.name.count(".") == 2}
    translation_language, aligned = None, []
    for lang, name in translations.items():  # one aligned translation is used: the first listed
        path = folder / name
        if path.exists():
            aligned = _read_translation(path, text, paragraphs, language, lang)
            translation_language = lang
            companions[path.name] = sha256_bytes(path.read_bytes())
            break

    try:
        rel = original.resolve().relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        rel = str(original.resolve())
    glossary_path = folder / meta.get("glossary", f"{stem}.glossary.json")
    glossary: tuple[GlossaryEntry, ...] = ()
    if glossary_path.exists():
        glossary = _read_glossary(glossary_path, rel)
        companions[glossary_path.name] = sha256_bytes(glossary_path.read_bytes())

    title = meta.get("title") or {language: stem.replace("_", " ")}
    return SourceText(
        path=rel, language=language, text=text, sha256=sha256_bytes(raw), title=title, meta=meta,
        paragraphs=paragraphs, segments=tuple(_fill_gaps(text, paragraphs, aligned)),
        translation_language=translation_language, glossary=glossary, companion_sha256=companions)


def find_originals(sources_dir: Path) -> list[Path]:
    """Originals are the `.txt` files of the folder, in name order."""
    return sorted(p for p in sources_dir.glob("*.txt") if p.is_file())


def load_sources(sources_dir: Path, project_dir: Path) -> list[SourceText]:
    originals = find_originals(sources_dir)
    if not originals:
        raise SourceError(f"no source texts (*.txt) in {sources_dir}")
    return [load_source(path, project_dir) for path in originals]
