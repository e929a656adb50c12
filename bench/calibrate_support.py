"""Calibrate the support check of generated sentences (rag/support.py) on labelled pairs.

bench/support_pairs.jsonl holds sentences written from the text (by a writer who never saw the
engine), each citing one paragraph and labelled supported or not (a changed number or name, an
invented detail, a fact of another paragraph, a contradiction). A sentence is kept when its numbers
and names are the passage's (a hard rule), its embedding is at least `threshold` from the passage's
nearest clause and at least `coverage` of its terms are the passage's. The pair (threshold,
coverage), per language, keeps the most supported sentences of the calibration half (pairs about
odd paragraphs) while at least TARGET_PRECISION of what it keeps is supported; it is reported on
the other half (even paragraphs). rag/data/support.json records both with both halves' figures.

    .venv/bin/python bench/calibrate_support.py [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from rag import Assistant  # noqa: E402
from rag.retrieval import Hit  # noqa: E402
from rag.support import CALIBRATION, SupportCheck  # noqa: E402

PAIRS = PROJECT / "bench" / "support_pairs.jsonl"
TARGET_PRECISION = 0.9
COVERAGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9)


def measure(assistant: Assistant, pairs: list[dict]) -> list[dict]:
    """Per pair: the fact check's verdict and the best similarity over the cited paragraph's passages."""
    check = SupportCheck(assistant.extractive.table, assistant.glossary, assistant.index, assistant.embedder,
                         limits={"ar": (0.0, 0.0), "en": (0.0, 0.0)})
    rows = []
    for pair in pairs:
        hits = [Hit(p, 0.0, 0.0) for p in assistant.index.passages if p.paragraph == pair["paragraph"]]
        vector = check.encode(pair["sentence"])
        results = [check.check(pair["sentence"], hit, pair["lang"], vector) for hit in hits]
        passing = [r for r in results if not r.reason]
        best = max(passing, key=lambda r: (r.similarity, r.coverage), default=None)
        rows.append({**pair, "facts": bool(passing), "reason": next((r.reason for r in results if r.reason), ""),
                     "similarity": round(best.similarity, 4) if best else -1.0,
                     "coverage": round(best.coverage, 4) if best else 0.0})
    return rows


def kept(row: dict, threshold: float, coverage: float) -> bool:
    return row["facts"] and row["similarity"] >= threshold and row["coverage"] >= coverage


def rates(rows: list[dict], threshold: float, coverage: float) -> dict:
    kept_rows = [r for r in rows if kept(r, threshold, coverage)]
    supported = [r for r in rows if r["supported"]]
    unsupported = [r for r in rows if not r["supported"]]
    return {"pairs": len(rows), "supported_kept": round(sum(r["supported"] for r in kept_rows) / max(1, len(supported)), 3),
            "unsupported_kept": sum(not r["supported"] for r in kept_rows), "unsupported": len(unsupported),
            "unsupported_stopped_by_facts": sum(not r["facts"] for r in unsupported),
            "precision_of_kept": round(sum(r["supported"] for r in kept_rows) / max(1, len(kept_rows)), 3)}


def choose(rows: list[dict]) -> tuple[float, float]:
    """The (threshold, coverage) keeping the most supported sentences at TARGET_PRECISION or better."""
    best, chosen = (-1.0, -1.0), (1.0, 1.0)
    for threshold in sorted({r["similarity"] for r in rows if r["facts"]}):
        for coverage in COVERAGES:
            figures = rates(rows, threshold, coverage)
            key = (figures["supported_kept"], figures["precision_of_kept"])
            if figures["precision_of_kept"] >= TARGET_PRECISION and key > best:
                best, chosen = key, (threshold, coverage)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write the threshold to {CALIBRATION}")
    args = parser.parse_args()
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assistant = Assistant.load()
    rows = measure(assistant, pairs)
    halves = {"calibration": [r for r in rows if r["paragraph"] % 2 == 1], "held_out": [r for r in rows if r["paragraph"] % 2 == 0]}
    report = {"pairs_file": str(PAIRS.relative_to(PROJECT)),
              "rule": f"per language, most supported sentences kept at precision >= {TARGET_PRECISION} "
                      "(pairs about odd paragraphs); figures on those and on the even ones"}
    for lang in ("en", "ar"):
        threshold, coverage = choose([r for r in halves["calibration"] if r["lang"] == lang])
        report[lang] = {"threshold": threshold, "coverage": coverage,
                        **{name: rates([r for r in part if r["lang"] == lang], threshold, coverage)
                           for name, part in halves.items()}}
        for r in rows:
            if r["lang"] == lang and not r["supported"] and kept(r, threshold, coverage):
                print(f"LEAK p{r['paragraph']} {lang} {r['similarity']:.3f} {r['flaw']}: {r['sentence']}", file=sys.stderr)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.write:
        CALIBRATION.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
