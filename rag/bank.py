"""The question bank of a text: `source_texts/<stem>.questions.jsonl`.

Questions written from the text by several writers (never from the engine's output), each
labelled with the clause spans that answer it. The bank trains the reader (`rag train`), measures
it (bench/reader_cv.py) and is study material. One JSON object a line:

    id, lang ("ar" | "en"), question, history (follow-ups: earlier turns), answerable,
    paragraphs (1-based, in order of the text), spans ([[start, end], ...] into the original),
    answer (a few words, in the question's language), kind (person, group, place, date, number,
    duration, reason, manner, event, description, list, yesno, quote, multi, other), verdict (yes/no
    questions: yes | no | not_stated), any / must (keywords a correct answer holds, as in the
    development set), parts (multi: [{kind, paragraphs, spans, answer, any}]), trap
    (unanswerable: false_premise | not_stated | off_topic, the last with no paragraphs), correction
    (false premise: what the text says),
    style, writer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .sources import SourceText

KINDS = ("person", "group", "place", "date", "number", "duration", "reason", "manner", "event",
         "description", "list", "yesno", "quote", "multi", "other")
VERDICTS = ("yes", "no", "not_stated")
# false_premise: presupposes what the text contradicts; not_stated: the text's own names and words,
# asking what it does not say; off_topic: nothing the text touches (a greeting, another history)
TRAPS = ("false_premise", "not_stated", "off_topic")
SUFFIX = ".questions.jsonl"


class BankError(ValueError):
    """A bank line is malformed or does not fit its text."""


@dataclass(frozen=True)
class Part:
    kind: str
    paragraphs: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    answer: str
    any: tuple[str, ...]


@dataclass(frozen=True)
class BankQuestion:
    id: str
    source: str  # the original's path, relative to the project
    lang: str
    question: str
    answerable: bool
    paragraphs: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    answer: str
    kind: str
    style: str
    writer: str
    verdict: str | None = None
    history: tuple[dict, ...] = ()
    parts: tuple[Part, ...] = ()
    any: tuple[str, ...] | None = None
    must: tuple[tuple[str, ...], ...] | None = None
    trap: str | None = None
    correction: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def as_eval_row(self) -> dict:
        """The development set's shape, which `rag eval` and ../shared/eval/score.py read."""
        row = {"id": self.id, "lang": self.lang, "question": self.question,
               "gold": list(self.paragraphs) if self.answerable else [], "answerable": self.answerable}
        if self.any:
            row["any"] = list(self.any)
        if self.must:
            row["must"] = [list(group) for group in self.must]
        if self.history:
            row["history"] = list(self.history)
        if self.verdict in ("yes", "no"):
            row["verdict"] = self.verdict
        return row


def bank_path(source: SourceText, project_dir: Path) -> Path:
    """Where a source's bank lives: beside it, `<stem>.questions.jsonl`."""
    original = project_dir / source.path
    return original.with_name(original.name.split(".")[0] + SUFFIX)


def read_bank(path: Path, source: SourceText) -> list[BankQuestion]:
    """Read and check a bank against its text: every field, every span inside the text and its
    paragraphs, every keyword inside the text of its spans (in the question's language)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BankError(f"cannot read {path}: {exc}") from None
    questions, seen = [], set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = _question(row, source)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BankError(f"{path}:{number}: {exc}") from None
        if question.id in seen:
            raise BankError(f"{path}:{number}: duplicate id {question.id}")
        seen.add(question.id)
        questions.append(question)
    return questions


def _question(row: dict, source: SourceText) -> BankQuestion:
    if row["lang"] not in ("ar", "en"):
        raise ValueError(f"lang {row['lang']!r}")
    if row["kind"] not in KINDS:
        raise ValueError(f"kind {row['kind']!r}")
    answerable = row["answerable"]
    if not isinstance(answerable, bool) or not isinstance(row["question"], str) or not row["question"].strip():
        raise ValueError("answerable must be true/false and question a non-empty string")
    verdict = row.get("verdict")
    if (row["kind"] == "yesno") != (verdict is not None) or (verdict is not None and verdict not in VERDICTS):
        raise ValueError("a yesno question, and only one, has a verdict yes|no|not_stated")
    trap = row.get("trap")
    if answerable == (trap is not None) or (trap is not None and trap not in TRAPS):
        raise ValueError("an unanswerable question, and only one, has a trap " + "|".join(TRAPS))
    paragraphs = tuple(int(p) for p in row["paragraphs"])
    if (not paragraphs) != (trap == "off_topic") or any(not 1 <= p <= len(source.paragraphs) for p in paragraphs):
        raise ValueError(f"paragraphs {paragraphs}: none for an off-topic question, else within 1..{len(source.paragraphs)}")
    spans = _spans(row["spans"], source)
    parts = tuple(Part(p["kind"], tuple(int(x) for x in p["paragraphs"]), _spans(p["spans"], source),
                       str(p["answer"]), tuple(p["any"])) for p in row.get("parts", []))
    if answerable and not spans:
        raise ValueError("an answerable question needs spans")
    if (row["kind"] == "multi" and answerable) != bool(parts):
        raise ValueError("an answerable multi question, and only one, has parts")
    history = tuple(row.get("history") or ())
    if any(t.get("role") not in ("user", "assistant") or not isinstance(t.get("content"), str) for t in history):
        raise ValueError("history turns need role user|assistant and content")
    question = BankQuestion(
        id=str(row["id"]), source=source.path, lang=row["lang"], question=row["question"], answerable=answerable,
        paragraphs=paragraphs, spans=spans, answer=str(row.get("answer", "")), kind=row["kind"],
        style=str(row["style"]), writer=str(row["writer"]), verdict=verdict, history=history, parts=parts,
        any=tuple(row["any"]) if row.get("any") else None,
        must=tuple(tuple(g) for g in row["must"]) if row.get("must") else None, trap=trap,
        correction=row.get("correction"))
    if answerable and not (question.any or question.must):
        raise ValueError("an answerable question needs keywords (any or must)")
    return question


def _spans(raw, source: SourceText) -> tuple[tuple[int, int], ...]:
    spans = tuple((int(s), int(e)) for s, e in raw)
    for start, end in spans:
        if not 0 <= start < end <= len(source.text):
            raise ValueError(f"span {start}:{end} outside the text")
        if not any(p.start <= start and end <= p.end for p in source.paragraphs):
            raise ValueError(f"span {start}:{end} crosses a paragraph boundary")
    return spans


def span_text(question_spans, source: SourceText, language: str) -> str:
    """The text of spans in a language: the original, or the aligned translation of the clauses
    they cover."""
    if language == source.language:
        return " ".join(source.text[s:e] for s, e in question_spans)
    return " ".join(seg.translation or "" for seg in source.segments
                    if any(s <= seg.start and seg.end <= e for s, e in question_spans))
