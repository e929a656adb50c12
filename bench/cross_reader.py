"""Does a small cross-encoder pick the answer window better than the learned window scorer?

A measurement, not part of the engine. The cross-encoder is multilingual-e5-small (the retrieval
model's own weights, loaded with transformers from the local model folder) cut to its first N
transformer layers, with a linear head on the mean-pooled output, fine-tuned on
("query: " question, "passage: " window text) pairs. It reranks the learned scorer's top 8 windows.

Protocol (one paragraph fold, cheap on purpose; single thread):
- Fold 0 of bench/reader_cv.py `folds_of(questions, "paragraph")`: test = the answerable questions
  whose first paragraph is in 1-4; training = that fold's training ids (never touching paragraphs
  1-4).
- A tuning slice of 15% of the training questions (fixed seed) is set aside; only it chooses the
  weight of the combination (baseline score + w * cross-encoder logit). Test never chooses anything.
- Baseline: `rag.training.fit` (the current reader: kinds, query head, window scorer...) on all the
  fold's other training questions (answerable and not: answerability needs both). Its top-1 window
  of each test part is scored as the engine scores it (kind probabilities, tuned query vector,
  `complete`, window scorer logits).
- Cross-encoder: trained on at most 700 answerable labelled training questions (fixed seed, not in
  the slice): for each of their parts, the baseline's top 8 windows (in-sample scores: the baseline
  was fitted on these questions), listwise softmax loss over the 8 against F1^2 targets normalised
  (as the window scorer is trained; parts without any overlapping window skipped), AdamW lr 3e-5
  (head 1e-3), word-embedding matrix frozen (250k x 384: updating it would dominate the step),
  max_length 128, batches of 4 lists (32 pairs), linear warm-up over 10% of the steps then linear
  decay. Run with --epochs 1 (lr 3e-5) and --epochs 3 --lr 1e-4.
- Hit: the chosen window's target F1 >= 0.5 ("f1"), and separately its keyword flag ("keyword").
  Every labelled part of a test question counts (a multi-part question gives several parts); parts
  whose top 8 hold no good window count as misses for every method (the ceiling is reported).
- Speed: training pairs/s (forward + backward + step), inference pairs/s over all test pairs, and
  ms to tokenize and score the 8 windows of one question (batch of 8), all on one thread.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python bench/cross_reader.py --layers 2 --epochs 1
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python bench/cross_reader.py --layers 2 4 --epochs 3 --lr 1e-4

Prepared examples and the baseline's scores are kept in bench/results/tmp/cross_reader (gitignored) between runs
(keyed by the question ids and the reader's code, not the index); results go to bench/results/cross_reader.json
(each --layers value under its own key, merged with what the file already holds).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

from rag import Assistant, Settings  # noqa: E402
from rag.extractive import complete  # noqa: E402
from rag.training import SEED, _tune, fit, prepare, read_banks  # noqa: E402
from reader_cv import CACHE_INPUTS, folds_of  # noqa: E402

RESULTS = PROJECT / "bench" / "results" / "cross_reader.json"
CACHE = Path(__file__).resolve().parent / "results" / "tmp" / "cross_reader"
TOP = 8
MAX_TRAIN = 700
SLICE = 0.15
MAX_LENGTH = 128


def log(*parts) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- data
def split(questions):
    """(test ids, baseline training ids, cross-encoder training ids, tuning slice ids)."""
    test, train = folds_of(questions, "paragraph")[0]
    by_id = {q.id: q for q in questions}
    test = [i for i in test if by_id[i].answerable]
    train = sorted(train)
    rng = random.Random(SEED)
    rng.shuffle(train)
    cut = int(len(train) * SLICE)
    tuning = [i for i in train[:cut] if by_id[i].answerable]
    rest = sorted(train[cut:])
    answerable = [i for i in rest if by_id[i].answerable and (by_id[i].spans or by_id[i].parts)]
    rng.shuffle(answerable)
    return test, rest, sorted(answerable[:MAX_TRAIN]), tuning


def code_digest(ids) -> str:
    """The cache key: the code that reads a question (bench/reader_cv.py's list) and the ids. The
    index itself is not in the key: a cached run keeps reading the index it was prepared on."""
    digest = hashlib.sha256()
    for name in CACHE_INPUTS:
        digest.update((PROJECT / name).read_bytes())
    digest.update("\n".join(ids).encode())
    return digest.hexdigest()[:16]


def prepared(assistant, questions, ids, name):
    by_id = {q.id: q for q in questions}
    path = CACHE / f"{name}-{code_digest(ids)}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes()), None
    started = time.perf_counter()
    examples = prepare(assistant, [by_id[i] for i in ids], progress=lambda s: log(name, s))
    seconds = time.perf_counter() - started
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(examples))
    return examples, seconds


def window_text(example, w) -> str:
    """The window as it would be quoted to the asker: the aligned translation for a question in the
    other language when every clause has one, else the original (as rag/training.py's keyword flags)."""
    segments = w.passage.segments[w.first:w.last + 1]
    if example.question.lang != w.passage.language and all(s.translation for s in segments):
        return " ".join(s.translation for s in segments)
    start, end = segments[0].start, segments[-1].end
    return w.passage.text[start - w.passage.start:end - w.passage.start]


# ----------------------------------------------------------------------------------- baseline
def baseline_scores(assistant, models, examples) -> list[np.ndarray]:
    """The window scorer's logits for each example, as the engine computes them at answer time."""
    head = models.head
    if head is not None:
        tuned, _ = _tune(assistant.embedder.query_encoder, head, examples)
    else:
        tuned = np.stack([e.vector for e in examples])
    out = []
    for i, e in enumerate(examples):
        if not len(e.candidates.windows):
            out.append(np.zeros(0, np.float32))
            continue
        kinds = models.kinds.probabilities(e.text, e.vector)
        matrix, _ = complete(e.candidates, kinds, tuned[i], head)
        out.append(models.windows.logits(matrix)[:, 0])
    return out


# ------------------------------------------------------------------------------ cross-encoder
class Cross(torch.nn.Module):
    def __init__(self, folder: Path, layers: int):
        super().__init__()
        from transformers import AutoModel

        self.bert = AutoModel.from_pretrained(str(folder), local_files_only=True)
        self.bert.encoder.layer = self.bert.encoder.layer[:layers]
        self.bert.config.num_hidden_layers = layers
        self.bert.embeddings.word_embeddings.weight.requires_grad_(False)
        self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)

    def forward(self, batch) -> torch.Tensor:
        states = self.bert(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (states * mask).sum(1) / mask.sum(1)
        return self.head(pooled).squeeze(-1)


def lists_of(examples, scores):
    """Per example: the baseline's top-8 window indices, their texts and targets."""
    out = []
    for e, s in zip(examples, scores):
        if e.targets is None or not len(s):
            continue
        top = np.argsort(-s, kind="stable")[:TOP]
        out.append({"example": e, "top": top, "texts": [window_text(e, e.candidates.windows[i]) for i in top],
                    "targets": e.targets[top], "keywords": e.keywords[top], "base": s[top]})
    return out


def encode(tokenizer, question: str, texts: list[str]):
    return tokenizer(["query: " + question] * len(texts), ["passage: " + t for t in texts], truncation="only_second",
                     max_length=MAX_LENGTH, padding=True, return_tensors="pt")


def train_cross(model, tokenizer, lists, epochs: int, lr: float, per_batch: int = 4) -> dict:
    torch.manual_seed(SEED)
    usable = [item for item in lists if item["targets"].max() > 0]
    encoder_params = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head.")]
    optimizer = torch.optim.AdamW([{"params": encoder_params, "lr": lr},
                                   {"params": model.head.parameters(), "lr": 1e-3}], weight_decay=0.01)
    steps = epochs * ((len(usable) + per_batch - 1) // per_batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: min(1.0, (k + 1) / (0.1 * steps)) *
                                                 max(0.0, (steps - k) / steps))
    rng = random.Random(SEED)
    pairs, started, losses = 0, time.perf_counter(), []
    model.train()
    for epoch in range(epochs):
        order = list(range(len(usable)))
        rng.shuffle(order)
        for b in range(0, len(order), per_batch):
            chosen = [usable[i] for i in order[b:b + per_batch]]
            questions = [q for item in chosen for q in ["query: " + item["example"].text] * len(item["texts"])]
            passages = ["passage: " + t for item in chosen for t in item["texts"]]
            batch = tokenizer(questions, passages, truncation="only_second", max_length=MAX_LENGTH, padding=True,
                              return_tensors="pt")
            logits = model(batch)
            loss, at = 0.0, 0
            for item in chosen:
                n = len(item["texts"])
                weights = torch.as_tensor(item["targets"] ** 2)
                loss = loss - (weights / weights.sum() * torch.log_softmax(logits[at:at + n], 0)).sum()
                at += n
            loss = loss / len(chosen)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            pairs += len(passages)
            losses.append(float(loss.detach()))
            if (b // per_batch) % 50 == 0:
                log(f"epoch {epoch} batch {b // per_batch}: loss {np.mean(losses[-50:]):.3f}, "
                    f"{pairs / (time.perf_counter() - started):.1f} pairs/s")
    seconds = time.perf_counter() - started
    return {"lists": len(usable), "epochs": epochs, "lr": lr, "pairs": pairs, "seconds": round(seconds, 1),
            "train_pairs_per_s": round(pairs / seconds, 1), "final_loss": round(float(np.mean(losses[-50:])), 4)}


def cross_scores(model, tokenizer, lists) -> tuple[list[np.ndarray], dict]:
    model.eval()
    out, times, pairs = [], [], 0
    with torch.inference_mode():
        for item in lists:
            started = time.perf_counter()
            logits = model(encode(tokenizer, item["example"].text, item["texts"])).numpy()
            times.append(time.perf_counter() - started)
            pairs += len(item["texts"])
            out.append(logits)
    speed = {"questions": len(lists), "pairs": pairs, "infer_pairs_per_s": round(pairs / sum(times), 1),
             "ms_per_question_mean": round(1000 * float(np.mean(times)), 1),
             "ms_per_question_median": round(1000 * float(np.median(times)), 1)}
    return out, speed


# ---------------------------------------------------------------------------------- measures
def hits(lists, scores) -> dict:
    f1 = [bool(item["targets"][int(np.argmax(s))] >= 0.5) for item, s in zip(lists, scores)]
    kw = [bool(item["keywords"][int(np.argmax(s))]) for item, s in zip(lists, scores)]
    chosen = [item["example"].candidates.windows[int(item["top"][int(np.argmax(s))])] for item, s in zip(lists, scores)]
    out = {"n": len(lists), "f1_hits": sum(f1), "f1_rate": round(sum(f1) / len(lists), 4),
           "keyword_hits": sum(kw), "keyword_rate": round(sum(kw) / len(lists), 4),
           "mean_f1": round(float(np.mean([item["targets"][int(np.argmax(s))] for item, s in zip(lists, scores)])), 4),
           "mean_clauses": round(float(np.mean([w.last - w.first + 1 for w in chosen])), 3),
           "top1_of_baseline": sum(int(np.argmax(s)) == 0 for s in scores)}
    for lang in ("ar", "en"):
        rows = [i for i, item in enumerate(lists) if item["example"].question.lang == lang]
        if rows:
            out[lang] = {"n": len(rows), "f1_hits": sum(f1[i] for i in rows), "keyword_hits": sum(kw[i] for i in rows)}
    return out


def standardized(s: np.ndarray) -> np.ndarray:
    return (s - s.mean()) / (s.std() + 1e-6)


def combined(lists, cross, w):
    return [standardized(item["base"]) + w * standardized(c) for item, c in zip(lists, cross)]


WEIGHTS = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0]


def choose_weight(lists, cross) -> tuple[float, list]:
    """The weight with the most f1 hits on the tuning slice (ties: more keyword hits, then smaller w)."""
    table = []
    for w in WEIGHTS:
        h = hits(lists, combined(lists, cross, w))
        table.append({"w": w, "f1_hits": h["f1_hits"], "keyword_hits": h["keyword_hits"]})
    best = max(table, key=lambda r: (r["f1_hits"], r["keyword_hits"], -r["w"]))
    return best["w"], table


# --------------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=3e-5, help="encoder learning rate (the head's is 1e-3)")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    assistant = Assistant.load(Settings.from_env(), rebuild=False)
    questions = read_banks(assistant)
    test_ids, base_ids, cross_ids, tuning_ids = split(questions)
    log(f"test {len(test_ids)}, baseline training {len(base_ids)}, cross training {len(cross_ids)}, "
        f"tuning slice {len(tuning_ids)}")
    test, t_test = prepared(assistant, questions, test_ids, "test")
    base, t_base = prepared(assistant, questions, base_ids, "train")
    tuning, t_tuning = prepared(assistant, questions, tuning_ids, "tuning")
    log("prepared", t_test, t_base, t_tuning)

    path = CACHE / f"baseline-{code_digest(base_ids + test_ids + tuning_ids)}.pickle"
    if path.exists():
        cached = pickle.loads(path.read_bytes())
    else:
        started = time.perf_counter()
        trained = fit(base, assistant.embedder.query_encoder, assistant.index.clause_vectors, SEED)
        fit_seconds = time.perf_counter() - started
        log(f"fit {fit_seconds:.0f}s")
        cached = {"fit_seconds": fit_seconds, "report": trained.report,
                  "base": baseline_scores(assistant, trained.models, base),
                  "test": baseline_scores(assistant, trained.models, test),
                  "tuning": baseline_scores(assistant, trained.models, tuning)}
        path.write_bytes(pickle.dumps(cached))
    cross_set = set(cross_ids)
    train_lists = [item for item in lists_of(base, cached["base"]) if item["example"].question.id in cross_set]
    test_lists = lists_of(test, cached["test"])
    tuning_lists = lists_of(tuning, cached["tuning"])

    def ceiling(lists):
        return {"top8_has_f1": sum(bool(item["targets"].max() >= 0.5) for item in lists),
                "any_window_has_f1": sum(bool(item["example"].targets.max() >= 0.5) for item in lists),
                "top8_has_keyword": sum(bool(item["keywords"].any()) for item in lists),
                "random_pick_in_top8_f1_expected": round(sum(float((item["targets"] >= 0.5).mean()) for item in lists), 1)}

    results["protocol"] = {
        "fold": "paragraph fold 0 (test: answerable questions whose first paragraph is 1-4)",
        "test_questions": len(test_ids), "test_parts": len(test_lists),
        "baseline_training_questions": len(base_ids), "baseline_training_parts": len(base),
        "baseline_fit_seconds": round(cached["fit_seconds"], 1),
        "cross_training_questions": len(cross_ids), "cross_training_lists": len(train_lists),
        "tuning_questions": len(tuning_ids), "tuning_parts": len(tuning_lists),
        "prepare_seconds": ({"test": t_test, "train": t_base, "tuning": t_tuning} if t_base is not None else
                            results.get("protocol", {}).get("prepare_seconds")),  # cached: the run that prepared
        "top": TOP, "max_length": MAX_LENGTH,
        "test_ceiling": ceiling(test_lists), "tuning_ceiling": ceiling(tuning_lists),
    }
    results["baseline"] = {"test": hits(test_lists, [item["base"] for item in test_lists]),
                           "tuning": hits(tuning_lists, [item["base"] for item in tuning_lists])}
    log("baseline", json.dumps(results["baseline"]["test"]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")

    from transformers import AutoTokenizer

    folder = assistant.embedder.folder
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    for layers in args.layers:
        torch.manual_seed(SEED)
        model = Cross(folder, layers)
        log(f"layers {layers}: training on {len(train_lists)} lists")
        training = train_cross(model, tokenizer, train_lists, args.epochs, args.lr)
        log("trained", json.dumps(training))
        tuning_cross, _ = cross_scores(model, tokenizer, tuning_lists)
        test_cross, speed = cross_scores(model, tokenizer, test_lists)
        w, table = choose_weight(tuning_lists, tuning_cross)
        entry = {"training": training, "speed": speed, "weight": w, "weight_table_tuning": table,
                 "tuning": {"cross": hits(tuning_lists, tuning_cross),
                            "combined": hits(tuning_lists, combined(tuning_lists, tuning_cross, w))},
                 "test": {"baseline": results["baseline"]["test"], "cross": hits(test_lists, test_cross),
                          "combined": hits(test_lists, combined(test_lists, test_cross, w))}}
        key = f"layers_{layers}_epochs_{args.epochs}" + (f"_lr_{args.lr:g}" if args.lr != 3e-5 else "")
        results[key] = entry
        log(f"layers {layers}", json.dumps(entry["test"]), json.dumps(speed), f"w={w}")
        RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
