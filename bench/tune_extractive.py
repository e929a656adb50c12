"""Tune the extractive engine's feature weights by grid search.

Windows and their features are computed once per question; each weight setting then only
re-scores them. Tuned on one question set and checked on another, so the numbers show whether a
setting generalises rather than memorises:

    .venv/bin/python bench/tune_extractive.py --tune bench/team_qa.jsonl --check ../shared/eval/dev_qa.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

from rag import Assistant
from rag.evaluation import has_keywords, read_qa
from rag.extractive import ExtractiveWeights
from rag.questions import classify

GRID = {
    "dense": [0.1, 0.2, 0.4],
    "fit": [0.2, 0.4, 0.8],
    "rank": [0.2, 0.4, 0.6],
    "length": [-0.1, -0.05, 0.0],
    "second_margin": [0.0, 0.3, 0.5],
    "second_gain": [0.0, 0.1, 0.2],
}


def prepare(assistant: Assistant, path: Path) -> list[tuple]:
    engine = assistant.extractive
    rows = []
    for q in read_qa(path):
        request = assistant.retrieve(q.question, q.history)
        rows.append((q, request, engine.windows(request), classify(request.query, engine.glossary)))
    return rows


def outcome(assistant: Assistant, rows: list[tuple], weights: ExtractiveWeights) -> dict:
    engine = assistant.extractive  # select() reads the weights from the engine
    engine.weights = weights
    right = refused_ok = answerable = unanswerable = 0
    for q, request, windows, kind in rows:
        ranked = sorted((dataclasses.replace(w, score=weights.score(w.features)) for w in windows),
                        key=lambda w: w.score, reverse=True)
        refused = weights.silent(ranked[0].features)
        if not q.answerable:
            unanswerable += 1
            refused_ok += refused
            continue
        answerable += 1
        text = " ".join(engine._claim(w, request.language).text for w in engine.select(ranked, kind))
        right += (not refused) and has_keywords(q, text)
    return {"accuracy": right / max(answerable, 1), "refusal": refused_ok / max(unanswerable, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", type=Path, required=True)
    parser.add_argument("--check", type=Path, required=True)
    parser.add_argument("--refuse", type=float, nargs="*", default=[-0.1, 0.0, 0.05, 0.1, 0.2])
    args = parser.parse_args()
    assistant = Assistant.load()
    tune, check = prepare(assistant, args.tune), prepare(assistant, args.check)
    base = ExtractiveWeights()
    print("current", outcome(assistant, tune, base), outcome(assistant, check, base))
    results = []
    for values in itertools.product(*GRID.values()):
        for refuse in args.refuse:
            weights = dataclasses.replace(base, refuse_below=refuse, **dict(zip(GRID, values)))
            t = outcome(assistant, tune, weights)
            results.append((t["accuracy"] + 0.5 * t["refusal"], weights, t))
    results.sort(key=lambda r: r[0], reverse=True)
    for _, weights, t in results[:10]:
        c = outcome(assistant, check, weights)
        chosen = {k: getattr(weights, k) for k in (*GRID, "refuse_below")}
        print(f"tune acc {t['accuracy']:.3f} ref {t['refusal']:.2f} | check acc {c['accuracy']:.3f} "
              f"ref {c['refusal']:.2f} | {chosen}")


if __name__ == "__main__":
    main()
