"""`rag eval`: retrieval and answer metrics on a QA set, per language.

Scored the way the project is judged (../shared/eval/score.py): a passage hits a gold paragraph
when at least half of it lies inside that paragraph; an answer is correct when it holds the
expected keywords (after the same normalisation), is in the question's language and is not a
refusal; numbers match only as whole numbers. A question bank (`source_texts/*.questions.jsonl`)
reads the same way (its `paragraphs` are the gold ones); a yes/no question with a verdict is
answered correctly only when the answer also opens with that verdict (Yes / No, نعم / لا).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from .assistant import Assistant
from .textnorm import normalize, script_counts

MARKER = re.compile(r"\[(\d+)\]")


class QASetError(ValueError):
    """The QA file cannot be read or a line is malformed."""


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    question: str
    gold: list[int]
    answerable: bool
    any: list[str] | None
    must: list[list[str]] | None
    history: list[dict] | None
    verdict: str | None = None  # "yes" | "no": the answer must open with it
    source: str | None = None  # the text's stem when several texts are indexed: gold paragraphs are its own


def question_from_row(row: dict, number: int = 0) -> Question:
    """A question of a QA set (the development set's shape, or a bank's: gold = its paragraphs)."""
    answerable = bool(row.get("answerable", True))
    gold = row.get("gold", row.get("paragraphs", []) if answerable else [])
    return Question(id=str(row.get("id", number)), lang=row["lang"], question=row["question"],
                    gold=[int(g) for g in gold], answerable=answerable, any=row.get("any"), must=row.get("must"),
                    history=row.get("history"),
                    verdict=row.get("verdict") if row.get("verdict") in ("yes", "no") else None,
                    source=row.get("source"))


def read_qa(path: Path) -> list[Question]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QASetError(f"cannot read {path}: {exc}") from None
    questions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            questions.append(question_from_row(json.loads(line), number))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise QASetError(f"{path}:{number}: malformed question ({exc})") from None
    if not questions:
        raise QASetError(f"{path} holds no questions")
    return questions


def contains_keyword(text_normalized: str, alternatives: list[str]) -> bool:
    for alt in alternatives:
        needle = normalize(alt).replace(",", "")
        if needle.isdigit():
            if re.search(r"(?<!\d)" + needle + r"(?!\d)", text_normalized):
                return True
        elif needle in text_normalized:
            return True
    return False


def has_keywords(q: Question, text: str) -> bool:
    """Whether an answer holds the question's keywords: one of `any`, and one of each `must` group."""
    normalized = normalize(text)
    return ((q.any is None or contains_keyword(normalized, q.any))
            and all(contains_keyword(normalized, group) for group in q.must or []))


def opens_with_verdict(text: str, verdict: str, language: str) -> bool:
    """Whether an answer opens with a yes/no verdict in its language."""
    from .messages import message

    return normalize(text).startswith(normalize(message(f"verdict_{verdict}", language)))


def in_language(text: str, language: str) -> bool:
    """At least 60% of the letters (markers aside) are in the question's script."""
    arabic, latin = script_counts(text)
    if arabic + latin == 0:
        return False
    share = arabic if language == "ar" else latin
    return share / (arabic + latin) >= 0.6


def hits_paragraph(citation: dict, span: tuple[int, int]) -> bool:
    start, end = citation["start"], citation["end"]
    inside = min(end, span[1]) - max(start, span[0])
    return end > start and inside > 0 and inside >= 0.5 * (end - start)


def score_question(q: Question, answer: dict, spans: dict[str, list[tuple[int, int]]], seconds: float,
                   k: int = 5) -> dict:
    def is_gold(c: dict) -> bool:
        if q.source and Path(c["source"]).name.split(".")[0] != q.source:
            return False
        paragraphs = spans.get(c["source"], [])
        return any(0 < g <= len(paragraphs) and hits_paragraph(c, paragraphs[g - 1]) for g in q.gold)

    text = answer["text"]
    row = {"id": q.id, "lang": q.lang, "seconds": seconds, "text": text,
           "refused": answer["answerable"] is False, "lang_ok": in_language(text, q.lang)}
    if not q.answerable:
        return row
    ranks = [i for i, c in enumerate(answer["passages"][:10], 1) if is_gold(c)]
    row["recall"] = bool(ranks and ranks[0] <= k)
    row["rr"] = 1.0 / ranks[0] if ranks else 0.0
    row["correct"] = has_keywords(q, text) and not row["refused"] and row["lang_ok"] \
        and (q.verdict is None or opens_with_verdict(text, q.verdict, q.lang))
    markers = {int(m) for m in MARKER.findall(text)}
    used = [c for c in answer["citations"] if c["n"] in markers]
    row["cite_ok"] = any(is_gold(c) for c in used)
    row["cite_precision"] = sum(is_gold(c) for c in used) / len(used) if used else 0.0
    return row


def _mean(values) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 3) if values else None


def summarize(rows: list[dict], k: int = 5) -> dict:
    """Metrics per language and overall."""
    def block(subset: list[dict]) -> dict:
        answerable = [r for r in subset if "recall" in r]
        unanswerable = [r for r in subset if "recall" not in r]
        seconds = sorted(r["seconds"] for r in subset)
        return {
            "questions": len(subset),
            f"recall@{k}": _mean(r["recall"] for r in answerable),
            "mrr@10": _mean(r["rr"] for r in answerable),
            "accuracy": _mean(r["correct"] for r in answerable),
            "cite_ok": _mean(r["cite_ok"] for r in answerable),
            "cite_precision": _mean(r["cite_precision"] for r in answerable),
            "lang_ok": _mean(r["lang_ok"] for r in subset),
            "refusal": _mean(r["refused"] for r in unanswerable),
            "false_refusal": _mean(r["refused"] for r in answerable),
            "p50_ms": round(1000 * statistics.median(seconds), 1) if seconds else None,
            "p95_ms": round(1000 * seconds[min(len(seconds) - 1, int(len(seconds) * 0.95))], 1) if seconds else None,
        }
    summary = {"all": block(rows)}
    for lang in sorted({r["lang"] for r in rows}):
        summary[lang] = block([r for r in rows if r["lang"] == lang])
    return summary


def evaluate(assistant: Assistant, questions: list[Question], k: int = 5) -> dict:
    spans = {s.path: [(p.start, p.end) for p in s.paragraphs] for s in assistant.sources}
    texts = {s.path: s.text for s in assistant.sources}
    rows, offset_errors = [], 0
    for q in questions:
        started = time.perf_counter()
        answer = assistant.ask(q.question, history=q.history).to_dict()
        seconds = time.perf_counter() - started
        for c in answer["passages"] + answer["citations"]:
            if texts.get(c["source"], "")[c["start"]:c["end"]].strip() != c["text"].strip():
                offset_errors += 1
        rows.append(score_question(q, answer, spans, seconds, k))
    return {"summary": summarize(rows, k), "offset_errors": offset_errors, "rows": rows}


def format_table(result: dict) -> str:
    summary = result["summary"]
    columns = [c for c in summary["all"] if c != "questions"]
    header = f"{'':6}{'n':>4} " + " ".join(f"{c:>14}" for c in columns)
    lines = [header]
    for name, block in summary.items():
        cells = " ".join(f"{'-' if block[c] is None else block[c]:>14}" for c in columns)
        lines.append(f"{name:6}{block['questions']:>4} {cells}")
    lines.append(f"offset errors: {result['offset_errors']}")
    return "\n".join(lines)
