"""Quality side by side: BM25 only, dense only, hybrid, hybrid with glossary expansion, RRF fusion.

Every configuration answers the development set and the team's question set through the same
`rag.evaluation.evaluate` as `rag eval`. They share one index and one loaded model: only
query-time settings differ. (The reader is trained for one embedding model's vectors, so another
model needs its own `rag train` before it can be compared here.)

    .venv/bin/python bench/quality.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag import Assistant
from rag.evaluation import evaluate, read_qa

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
QA_SETS = {"dev": HERE / "dev_qa.jsonl", "team": HERE / "team_qa.jsonl",
           "probe": HERE / "probe_qa.jsonl", "probe2": HERE / "probe2_qa.jsonl",
           "probe3": HERE / "probe3_qa.jsonl"}  # probes: held out, written
# by someone who saw neither the engine nor the other sets
CONFIGURATIONS = {
    "bm25 only": dict(dense_weight=0.0, lexical_weight=1.0),
    "dense only": dict(lexical_weight=0.0),
    "hybrid": dict(glossary_expansion=False),
    "hybrid + glossary": dict(),
    "hybrid + glossary, rrf": dict(fusion="rrf", lexical_weight=1.0),
}
METRICS = ("recall@5", "mrr@10", "accuracy", "cite_ok", "refusal", "false_refusal")


def assistants():
    """One loaded model, index and reader; only query-time settings differ."""
    base = Assistant.load()
    for name, changes in CONFIGURATIONS.items():
        settings = base.settings.replace(**changes)
        yield f"e5-small / {name}", Assistant(settings, base.sources, base.index, base.embedder, base.extractive.models)


def table(rows: list[dict]) -> str:
    header = "| configuration | set | lang | " + " | ".join(METRICS) + " |"
    lines = [header, "|" + "---|" * (3 + len(METRICS))]
    for r in rows:
        cells = " | ".join("-" if r[m] is None else f"{r[m]:.3f}" for m in METRICS)
        lines.append(f"| {r['configuration']} | {r['set']} | {r['lang']} | {cells} |")
    return "\n".join(lines)


def run() -> list[dict]:
    sets = {name: read_qa(path) for name, path in QA_SETS.items() if path.exists()}
    rows = []
    for name, assistant in assistants():
        for set_name, questions in sets.items():
            summary = evaluate(assistant, questions)["summary"]
            for lang in ("ar", "en"):
                rows.append({"configuration": name, "set": set_name, "lang": lang,
                             **{m: summary[lang][m] for m in METRICS}})
        print(f"done: {name}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    rows = run()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quality.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(table(rows))


if __name__ == "__main__":
    main()
