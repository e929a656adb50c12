"""Held-out figures for the learned reader: cross-validation over the question bank.

Protocols (each question is answered once, by models trained without it, through the real
engine: `Assistant.ask` with the fold's models):
- paragraph: train on the questions about 20 paragraphs, test on those about the other 4,
  rotating over all 24 (6 folds). A question about a held-out paragraph is kept out of training
  even if it also touches a training paragraph. This is what a newly added text can expect.
  Off-topic questions (no paragraph) are dealt round the folds.
- writer: leave one writer group out (the style groups of bench/bank/styles: MSA Arabic,
  colloquial Arabic, English with other spellings, harder English, harder Arabic, unanswerable,
  off-topic).
- random: five folds of random questions (whole-bank cross-validation).
The development and probe sets never enter training; they are answered by the reader trained on
the whole bank (the shipped one) and reported beside the folds.

    .venv/bin/python bench/reader_cv.py [--protocol paragraph writer random] [--sets]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import random
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from rag import Assistant, Settings  # noqa: E402
from rag.evaluation import evaluate, question_from_row, read_qa, summarize  # noqa: E402
from rag.training import SEED, fit, prepare, read_banks  # noqa: E402

RESULTS = PROJECT / "bench" / "results"
SETS = ["dev_qa.jsonl", "team_qa.jsonl", "probe_qa.jsonl", "probe2_qa.jsonl", "probe3_qa.jsonl"]
CACHE_INPUTS = ["rag/reader.py", "rag/query.py", "rag/glossary.py", "rag/textnorm.py", "rag/retrieval.py",
                "rag/training.py", "rag/index.py", "rag/data/lexicon.ar.json", "rag/data/lexicon.en.json"]


def folds_of(questions, protocol: str) -> list[tuple[list[str], set[str]]]:
    """(test question ids, training question ids) of each fold. By paragraph, a question is tested
    with the block of its first paragraph, and never trained on in a fold whose block it touches."""
    if protocol == "paragraph":
        blocks = [set(range(start, start + 4)) for start in range(1, 25, 4)]
        aside = sorted(q.id for q in questions if not q.paragraphs)  # off-topic: dealt round the folds
        share = {qid: n % len(blocks) for n, qid in enumerate(aside)}
        return [([q.id for q in questions if (min(q.paragraphs) in block if q.paragraphs else share[q.id] == n)],
                 {q.id for q in questions if (not set(q.paragraphs) & block if q.paragraphs else share[q.id] != n)})
                for n, block in enumerate(blocks)]
    if protocol == "writer":
        groups = sorted({q.writer.rsplit("-", 1)[0] for q in questions})
        return [([q.id for q in questions if q.writer.rsplit("-", 1)[0] == g],
                 {q.id for q in questions if q.writer.rsplit("-", 1)[0] != g}) for g in groups]
    ids = sorted(q.id for q in questions)
    random.Random(SEED).shuffle(ids)
    return [(ids[f::5], set(ids) - set(ids[f::5])) for f in range(5)]


def cached_examples(assistant, questions):
    digest = hashlib.sha256()
    for name in CACHE_INPUTS:
        digest.update((PROJECT / name).read_bytes())
    for q in questions:
        digest.update(repr(q).encode())
    digest.update(json.dumps(assistant.index.manifest.get("sources")).encode())
    path = RESULTS / "tmp" / f"examples-{digest.hexdigest()[:16]}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    examples = prepare(assistant, questions, progress=lambda s: print(s, file=sys.stderr))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(examples))
    return examples


def run_protocol(assistant, questions, examples, protocol: str) -> dict:
    rows, folds = [], []
    by_id = {q.id: q for q in questions}
    for n, (test, train) in enumerate(folds_of(questions, protocol)):
        started = time.perf_counter()
        trained = fit([e for e in examples if e.question.id in train], assistant.embedder.query_encoder,
                      assistant.index.clause_vectors, SEED)
        assistant.use_reader(trained.models)
        result = evaluate(assistant, [question_from_row(by_id[i].as_eval_row()) for i in test])
        for row in result["rows"]:
            q = by_id[row["id"]]
            row.update(writer=q.writer, style=q.style, kind=q.kind, trap=q.trap)
        rows.extend(result["rows"])
        folds.append({"fold": n, "test": len(test), "train": len(train), "seconds": round(time.perf_counter() - started, 1),
                      "summary": result["summary"], "fit": trained.report})
        print(f"{protocol} fold {n}: {len(test)} test, {len(train)} train: "
              f"{json.dumps({k: result['summary'][k]['accuracy'] for k in ('ar', 'en') if k in result['summary']})}",
              file=sys.stderr)
    summary = summarize(rows)
    for lang in ("ar", "en"):
        for trap in ("false_premise", "not_stated", "off_topic"):
            chosen = [r for r in rows if r["lang"] == lang and r["trap"] == trap]
            if chosen:
                summary[lang][f"refusal_{trap}"] = round(sum(r["refused"] for r in chosen) / len(chosen), 3)
    return {"summary": summary, "folds": folds, "rows": rows}


def table(name: str, summary: dict) -> str:
    cells = []
    for lang in ("ar", "en"):
        s = summary.get(lang)
        if not s:
            continue
        cells.append(f"| {name} | {lang} | {s['questions']} | {s['recall@5']} | {s['mrr@10']} | {s['accuracy']} | "
                     f"{s['cite_ok']} | {s['refusal']} | {s.get('refusal_false_premise', '-')} | {s.get('refusal_off_topic', '-')} | "
                     f"{s['false_refusal']} | {s['lang_ok']} |")
    return "\n".join(cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", nargs="*", default=["paragraph", "writer", "random"],
                        choices=["paragraph", "writer", "random"])
    parser.add_argument("--sets", action="store_true", help="also the development and probe sets (shipped reader)")
    parser.add_argument("--out", type=Path, default=RESULTS / "reader_cv.json")
    args = parser.parse_args()
    assistant = Assistant.load(Settings.from_env(), rebuild=False)
    questions = read_banks(assistant)
    examples = cached_examples(assistant, questions)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    lines = ["| protocol | lang | n | recall@5 | MRR@10 | accuracy | cited gold | refusal | false-premise refusal | off-topic refusal | false refusal | language |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.sets:  # the shipped reader, before the folds replace it
        results["sets"] = {}
        for name in SETS:
            result = evaluate(assistant, read_qa(PROJECT / "bench" / name))
            results["sets"][name] = result
            lines.append(table(name.removesuffix("_qa.jsonl"), result["summary"]))
    for protocol in args.protocol:
        results[protocol] = run_protocol(assistant, questions, examples, protocol)
        lines.append(table(protocol, results[protocol]["summary"]))
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")  # each as it ends
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
