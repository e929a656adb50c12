"""Build the question bank from the writers' files, and the edition the writers read.

How the bank was made (see README, "The question bank"): the text was cut into numbered clauses
(`--edition` writes `edition.md` and `clauses.json` from source_texts/); each writer, a helper
given BRIEF.md, one style sheet of styles/ and a range of six paragraphs, and shown neither the
engine nor its answers nor any other question set, wrote questions citing clause ids, and ran
check.py until it found no problem. This script turns clause ids into character spans of the
original and writes `source_texts/<stem>.questions.jsonl`.

    .venv/bin/python bench/bank/compile.py --edition OUT_DIR          # what the writers read
    .venv/bin/python bench/bank/compile.py WRITERS_DIR                # the bank, from their files
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT))

from rag.bank import bank_path, read_bank  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.sources import load_sources  # noqa: E402

FIELDS = ("id", "lang", "question", "history", "answerable", "kind", "verdict", "paragraphs", "spans", "answer",
          "any", "must", "parts", "trap", "correction", "correction_spans", "style", "writer")


def clause_table(source) -> dict[str, tuple[int, int, str, str | None]]:
    """'P.C' -> (start, end, original, translation): clause C (1-based) of paragraph P."""
    table, counters = {}, {}
    for seg in source.segments:
        counters[seg.paragraph] = counters.get(seg.paragraph, 0) + 1
        table[f"{seg.paragraph}.{counters[seg.paragraph]}"] = (seg.start, seg.end, seg.text, seg.translation)
    return table


def write_edition(source, folder: Path) -> None:
    table = clause_table(source)
    lines = ["# The text, clause by clause\n",
             "Each paragraph of the Arabic original is cut into clauses. A clause id is `P.C` (paragraph P, "
             "clause C, both 1-based).",
             "Under each clause: AR = the exact Arabic original (typos and all), EN = the project's English "
             "translation of that clause.",
             "Cite clauses by id. Arabic keywords must be copied from AR lines, English keywords from EN lines.\n"]
    paragraph = None
    for cid, (_, _, original, translation) in table.items():
        if cid.split(".")[0] != paragraph:
            paragraph = cid.split(".")[0]
            lines.append(f"\n## Paragraph {paragraph}\n")
        lines.append(f"[{cid}]\n  AR: {original}\n  EN: {translation}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "edition.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    clauses = {cid: {"start": s, "end": e, "ar": o, "en": t} for cid, (s, e, o, t) in table.items()}
    (folder / "clauses.json").write_text(json.dumps(clauses, ensure_ascii=False, indent=0), encoding="utf-8")


def spans_of(ids: list[str], table) -> tuple[list[list[int]], list[int]]:
    """Character spans of clause ids (touching clauses merged) and their paragraphs."""
    spans: list[list[int]] = []
    for start, end in sorted((table[i][0], table[i][1]) for i in ids):
        if spans and start - spans[-1][1] <= 1:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return spans, sorted({int(i.split(".")[0]) for i in ids})


def compile_row(row: dict, table) -> dict:
    out = {k: row[k] for k in ("id", "lang", "question", "answerable", "kind", "style", "writer")}
    if row.get("history"):
        out["history"] = row["history"]
    if "verdict" in row:
        out["verdict"] = row["verdict"]
    if row["answerable"]:
        if row["kind"] == "multi":
            parts = []
            for part in row["parts"]:
                spans, paragraphs = spans_of(part["clauses"], table)
                parts.append({"kind": part["kind"], "paragraphs": paragraphs, "spans": spans,
                              "answer": part["answer"], "any": part["any"]})
            out["parts"] = parts
            out["spans"], out["paragraphs"] = spans_of([c for p in row["parts"] for c in p["clauses"]], table)
            out["answer"] = " / ".join(p["answer"] for p in parts)
            out["must"] = [p["any"] for p in parts]
        else:
            out["spans"], out["paragraphs"] = spans_of(row["clauses"], table)
            out["answer"] = row["answer"]
            out["any"] = row["any"]
    else:
        out["trap"] = row["trap"]
        out["paragraphs"] = sorted(set(row["about"]))  # none for an off-topic question
        out["spans"] = []
        out["answer"] = ""
        if row["trap"] == "false_premise":
            out["correction"] = row["correction"]
            out["correction_spans"], _ = spans_of(row["clauses"], table)
    return {k: out[k] for k in FIELDS if k in out}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("writers", nargs="?", type=Path, help="folder of the writers' .jsonl files")
    parser.add_argument("--edition", type=Path, help="write edition.md and clauses.json into this folder")
    args = parser.parse_args()
    settings = Settings.from_env()
    source = load_sources(settings.sources_dir, settings.project_dir)[0]
    if args.edition:
        write_edition(source, args.edition)
        return 0
    table = clause_table(source)
    rows = []
    for path in sorted(args.writers.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(compile_row(json.loads(line), table))
    target = bank_path(source, settings.project_dir)
    target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    questions = read_bank(target, source)  # the library's own schema check
    print(f"{len(questions)} questions -> {target.relative_to(settings.project_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
