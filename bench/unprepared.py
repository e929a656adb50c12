"""Texts nobody on the team prepared: added beside the shipped one as a new user would add them.

Each text of bench/texts/ (a real Arabic history from the OpenITI corpus: no translation, no
glossary, no question bank) is put in a fresh project's `source_texts/` beside the shipped text,
`rag build` indexes it (the shipped reader is kept: it is trained on the shipped bank only), and
its questions, written by someone who never saw the engine, are asked:
- Arabic: answer accuracy (keywords, in Arabic, not refused), false refusal, refusal;
- English: recall@5 of the gold paragraph, and whether each answerable question is answered by a
  quote of the Arabic passage with the note that the text has no English translation.

    .venv/bin/python bench/unprepared.py [NAME ...]      # default: every text in bench/texts
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from rag import Assistant, Settings  # noqa: E402
from rag.evaluation import evaluate, read_qa  # noqa: E402
from rag.index import READER_FILE, Index  # noqa: E402
from rag.messages import message  # noqa: E402
from rag.sources import load_sources  # noqa: E402
from rag.embeddings import Embedder  # noqa: E402

TEXTS = PROJECT / "bench" / "texts"
RESULTS = PROJECT / "bench" / "results"


def project_with(name: str, folder: Path, settings: Settings) -> Settings:
    """A project folder holding the shipped text and the added one, indexed, with the shipped reader."""
    sources = folder / "source_texts"
    shutil.copytree(settings.sources_dir, sources)
    for path in TEXTS.glob(f"{name}.*"):
        if not path.name.endswith(".qa.jsonl"):
            shutil.copy(path, sources / path.name)
    local = settings.replace(project_dir=folder, sources_dir=sources, index_dir=folder / "index")
    texts = load_sources(local.sources_dir, local.project_dir)
    index = Index.build(texts, Embedder.from_settings(local), local)
    (folder / "index").mkdir()
    shutil.copy(settings.index_dir / READER_FILE, folder / "index" / READER_FILE)
    index.save(local.index_dir)
    return local


def measure(name: str, settings: Settings) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        local = project_with(name, Path(tmp), settings)
        assistant = Assistant.load(local, rebuild=False)
        questions = [replace(q, source=name) for q in read_qa(TEXTS / f"{name}.qa.jsonl")]
        source = next(s.path for s in assistant.sources if s.path.endswith(f"{name}.ar.txt"))
        result = evaluate(assistant, questions)
        note = message("untranslated", "en")
        english = []
        for q, row in zip(questions, result["rows"]):
            if q.lang == "en" and q.answerable:
                answer = assistant.ask(q.question, history=q.history)
                quoted = answer.answerable and note in answer.text and all(c.source == source for c in answer.citations[:1])
                english.append({"id": q.id, "recall": row["recall"], "arabic_quote_with_note": quoted,
                                "keywords": row["correct"] or _keywords_found(q, answer.text)})
        summary = result["summary"]
        report = {
            "ar": {k: summary["ar"][k] for k in ("questions", "recall@5", "mrr@10", "accuracy", "cite_ok", "refusal",
                                                  "false_refusal")},
            "en": {"questions": summary["en"]["questions"], "recall@5": summary["en"]["recall@5"],
                   "mrr@10": summary["en"]["mrr@10"],
                   "answered_with_arabic_quote_and_note": round(sum(e["arabic_quote_with_note"] for e in english)
                                                               / max(1, len(english)), 3),
                   "quote_holds_keywords": round(sum(e["keywords"] for e in english) / max(1, len(english)), 3),
                   "refusal": summary["en"]["refusal"], "false_refusal": summary["en"]["false_refusal"]},
            "rows": result["rows"], "english": english,
        }
        return report


def _keywords_found(q, text: str) -> bool:
    from rag.evaluation import has_keywords

    return has_keywords(q, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=sorted(p.name.split(".")[0] for p in TEXTS.glob("*.ar.txt")))
    args = parser.parse_args()
    settings = Settings.from_env()
    out = RESULTS / "unprepared.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    print("| text | lang | n | recall@5 | MRR@10 | accuracy | Arabic quote + note | refusal | false refusal |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.names:
        report = measure(name, settings)
        results[name] = report
        ar, en = report["ar"], report["en"]
        print(f"| {name} | ar | {ar['questions']} | {ar['recall@5']} | {ar['mrr@10']} | {ar['accuracy']} | – | "
              f"{ar['refusal']} | {ar['false_refusal']} |")
        print(f"| {name} | en | {en['questions']} | {en['recall@5']} | {en['mrr@10']} | {en['quote_holds_keywords']} | "
              f"{en['answered_with_arabic_quote_and_note']} | {en['refusal']} | {en['false_refusal']} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
