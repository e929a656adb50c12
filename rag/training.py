"""`rag train`: the reader's models, learned from the question bank(s) with a fixed seed.

1. Every bank question is analysed and retrieved as at answer time (`prepare`); its candidate
   windows get their features, and each window a target: how well its clauses match the labelled
   spans (F1 over clauses).
2. `fit` learns, in order:
   - the kind model (softmax regression over hashed surface features and the question vector);
   - the window scorer (a small network ranking a question's windows, trained listwise), on kind
     probabilities predicted out of fold, as they will be for questions it never saw;
   - answerability and the yes/no verdict (logistic), on the best windows of scorers that never
     saw the question (out of fold again), and their thresholds from predictions out of fold:
     answerability refuses as much as it can while refusing at most `max_false_refusal` of the
     answerable questions; a verdict is given only where it was right `verdict_precision` of the
     time;
   - the share of the best window's probability at which a second window is quoted too.
Training takes about a minute on 2 cores (most of it in `prepare`).
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .bank import BankQuestion, bank_path, read_bank
from .evaluation import contains_keyword
from .extractive import ANSWERABILITY_FEATURES, VERDICT_FEATURES, ExtractiveEngine, select, summary
from .learned import FOLLOW_UP_CLASSES, HASH_DIM, KINDS, KindModel, QueryHead, ReaderModels, Standardized, hashed_features, softmax
from .query import QueryAnalyzer
from .reader import WINDOW_FEATURES, Candidates
from .textnorm import normalize

SEED = 1218
INNER_FOLDS = 5
# Answerability: one hidden layer refuses more at the same false refusal than logistic regression
# (out of fold on the bank, false refusal 0.04: refusal 0.42 against 0.34; off-topic 0.83 against 0.63).
ANSWERABILITY_MODEL = {"hidden": 32, "decay": 1e-2, "epochs": 300}


@dataclass
class Example:
    """One part of one bank question, read as the engine reads it."""

    question: BankQuestion
    text: str  # the part as asked
    vector: np.ndarray
    candidates: Candidates
    targets: np.ndarray | None  # per window: F1 of its clauses against the labelled ones (None: no label)
    kind: str | None  # the labelled kind of this part
    answerable: bool | None  # None: not known for this part alone
    verdict: str | None  # "yes" | "no" for an answerable yes/no question
    keywords: np.ndarray | None  # per window: whether its quote holds the part's keywords
    hidden: np.ndarray | None = None  # the query's token states below the head's layers (to tune them)
    gold_rows: tuple[int, ...] = ()  # rows of the index's clause vectors inside the labelled spans


@dataclass
class Trained:
    models: ReaderModels
    report: dict = field(default_factory=dict)


def read_banks(assistant) -> list[BankQuestion]:
    """The banks of the assistant's sources (`<stem>.questions.jsonl` beside each text)."""
    questions = []
    for source in assistant.sources:
        path = bank_path(source, assistant.settings.project_dir)
        if path.exists():
            questions.extend(read_bank(path, source))
    return questions


def bank_checksums(assistant) -> dict[str, str]:
    out = {}
    for source in assistant.sources:
        path = bank_path(source, assistant.settings.project_dir)
        if path.exists():
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def prepare(assistant, questions: Iterable[BankQuestion], progress: Callable[[str], None] | None = None) -> list[Example]:
    """Analyse, retrieve and read every question (kinds left out: `fit` fills them in)."""
    analyzer = QueryAnalyzer(assistant.glossary, assistant.embedder, kinds=None, head=None)
    engine: ExtractiveEngine = assistant.extractive
    encoder = assistant.embedder.query_encoder
    examples: list[Example] = []
    questions = list(questions)
    for n, q in enumerate(questions, 1):
        queries = analyzer.analyze(q.question, list(q.history))
        hidden = _hidden_states(assistant.embedder, [query.text for query in queries]) if encoder else [None] * len(queries)
        parts = q.parts if q.parts and len(q.parts) == len(queries) else None
        for i, query in enumerate(queries):
            hits = assistant.retriever.search(query)
            candidates = engine.features.of(query, hits, engine.passages)
            if parts:
                spans, kind, keywords = parts[i].spans, parts[i].kind, (list(parts[i].any), None)
            else:
                spans = q.spans
                kind = q.kind if q.kind != "multi" and len(queries) == 1 else None
                keywords = (list(q.any) if q.any else None, [list(g) for g in q.must] if q.must else None)
            answerable = q.answerable if (q.answerable or len(queries) == 1) else None
            targets = _targets(candidates, spans, q.source) if q.answerable else None
            flags = _keyword_flags(candidates, q.lang, *keywords) if q.answerable else None
            gold_rows = _gold_rows(assistant.index, spans, q.source) if q.answerable else ()
            examples.append(Example(q, query.question, query.vector, candidates, targets, kind, answerable,
                                    q.verdict if q.verdict in ("yes", "no") and q.answerable else None, flags,
                                    hidden[i], gold_rows))
        if progress and n % 250 == 0:
            progress(f"read {n}/{len(questions)} questions")
    return examples


HEAD_LAYERS = 4  # the top layers of the query side that are tuned


def _hidden_states(embedder, texts: list[str]) -> list[np.ndarray]:
    """Token states of the query texts below the tuned layers (computed once, reused by every fit)."""
    encoder = embedder.query_encoder
    states, mask = encoder.hidden(embedder._prompted(texts, embedder._query_prompt))
    states = encoder.layers(states, mask, range(encoder.depth - HEAD_LAYERS))
    return [states[i, :int(mask[i].sum())].numpy().copy() for i in range(len(texts))]


def _gold_rows(index, spans, source: str) -> tuple[int, ...]:
    rows = []
    for row, (pid, position, _) in enumerate(index.clause_rows):
        passage = index.passages[int(pid)]
        seg = passage.segments[int(position)]
        if passage.source == source and any(s <= seg.start and seg.end <= e for s, e in spans):
            rows.append(row)
    return tuple(rows)


def _targets(candidates: Candidates, spans, source: str) -> np.ndarray:
    """F1 of each window's clauses against the clauses inside the labelled spans."""
    out = np.zeros(len(candidates.windows), dtype=np.float32)
    for i, w in enumerate(candidates.windows):
        if w.passage.source != source:
            continue
        clauses = w.passage.segments[w.first:w.last + 1]
        inside = sum(1 for c in clauses if any(s <= c.start and c.end <= e for s, e in spans))
        if inside:
            gold = sum(1 for seg in w.passage.segments if any(s <= seg.start and seg.end <= e for s, e in spans))
            gold += _gold_elsewhere(spans, w.passage)
            out[i] = 2 * inside / (len(clauses) + gold)
    return out


def _gold_elsewhere(spans, passage) -> int:
    """Labelled clauses outside this passage count against its windows' recall (an answer in two paragraphs)."""
    return sum(1 for s, e in spans if not (passage.start <= s and e <= passage.end))


def _keyword_flags(candidates: Candidates, language: str, any_of: list[str] | None,
                   must: list[list[str]] | None) -> np.ndarray:
    out = np.zeros(len(candidates.windows), dtype=bool)
    for i, w in enumerate(candidates.windows):
        segments = w.passage.segments[w.first:w.last + 1]
        if language != w.passage.language and all(s.translation for s in segments):
            text = " ".join(s.translation for s in segments)
        else:
            text = " ".join(s.text for s in segments)
        folded = normalize(text)
        out[i] = (any_of is None or contains_keyword(folded, any_of)) and all(contains_keyword(folded, g) for g in must or [])
    return out


# ---------------------------------------------------------------------------------------- fitting
HEAD_FOLDS = 3  # the head's out-of-fold vectors come from 3 folds (it is the slowest part to train)


def fit(examples: list[Example], encoder, clause_vectors: np.ndarray, seed: int = SEED,
        max_false_refusal: float = 0.04, verdict_precision: float = 0.85, hidden: int = 16) -> Trained:
    """Learn the reader's models from prepared examples (see the module's docstring).

    `encoder`: the query encoder whose top layers the head tunes (None: no head);
    `clause_vectors`: the index's clause vectors, against which the head is tuned."""
    started = time.perf_counter()
    _seed(seed)
    groups = _groups(examples, INNER_FOLDS, seed)
    head_groups = groups % HEAD_FOLDS
    tuned_oof = np.stack([e.vector for e in examples]).astype(np.float32)
    null_oof = np.zeros(len(examples), dtype=np.float32)
    head = None
    if encoder is not None and all(e.hidden is not None for e in examples):
        for fold in range(HEAD_FOLDS):
            fold_head = train_head(encoder, [e for i, e in enumerate(examples) if head_groups[i] != fold],
                                   clause_vectors, seed)
            held = [i for i in range(len(examples)) if head_groups[i] == fold]
            tuned_oof[held], null_oof[held] = _tune(encoder, fold_head, [examples[i] for i in held])
        head = train_head(encoder, examples, clause_vectors, seed)

    kind_oof = np.zeros((len(examples), len(KINDS)), dtype=np.float32)
    for fold in range(INNER_FOLDS):
        model = train_kinds([e for i, e in enumerate(examples) if groups[i] != fold], seed)
        for i in np.flatnonzero(groups == fold):
            kind_oof[i] = _kind_vector(model, examples[i])
    kinds = train_kinds(examples, seed)
    follow_oof = np.zeros(len(examples), dtype=np.float32)
    for fold in range(INNER_FOLDS):
        model = train_follow_up([e for i, e in enumerate(examples) if groups[i] != fold], seed)
        for i in np.flatnonzero(groups == fold):
            follow_oof[i] = model.probabilities(examples[i].text, examples[i].vector)["follow_up"]
    follow_up = train_follow_up(examples, seed)
    follow_up.threshold = _follow_up_threshold(follow_oof, [bool(e.question.history) for e in examples])

    completed = []
    for i, e in enumerate(examples):
        matrix, question = e.candidates.complete(dict(zip(KINDS, kind_oof[i].tolist())), tuned_oof[i])
        question["null_margin"] = float(null_oof[i] - question.get("tuned_best", 0.0) / HEAD_TEMPERATURE) if head else 0.0
        completed.append((matrix, question))
    matrices = [m for m, _ in completed]
    scores_oof: list[np.ndarray | None] = [None] * len(examples)
    for fold in range(INNER_FOLDS):
        train = [i for i in range(len(examples)) if groups[i] != fold]
        scorer = train_windows([matrices[i] for i in train], [examples[i].targets for i in train], seed, hidden)
        for i in np.flatnonzero(groups == fold):
            if len(matrices[i]):
                scores_oof[i] = scorer.logits(matrices[i])[:, 0]
    windows = train_windows(matrices, [e.targets for e in examples], seed, hidden)

    summaries = [summary(m, q, dict(zip(KINDS, kind_oof[i].tolist())), scores_oof[i]) if scores_oof[i] is not None
                 else None for i, (m, q) in enumerate(completed)]
    answerable = _fit_answerability(examples, summaries, groups, seed, max_false_refusal)
    verdict = _fit_verdict(examples, summaries, seed, verdict_precision)
    windows.calibration["second_ratio"] = _second_ratio(examples, scores_oof)
    report = {"examples": len(examples), "questions": len({e.question.id for e in examples}),
              "kind_accuracy_oof": _kind_accuracy(examples, kind_oof),
              "follow_up_threshold": round(follow_up.threshold, 3),
              "follow_up_recall_oof": _rate(follow_oof >= follow_up.threshold, [bool(e.question.history) for e in examples], True),
              "standalone_recall_oof": _rate(follow_oof < follow_up.threshold, [bool(e.question.history) for e in examples], False),
              "clause_accuracy_oof": _clause_accuracy(examples, tuned_oof, clause_vectors),
              "clause_accuracy_untuned": _clause_accuracy(examples, np.stack([e.vector for e in examples]), clause_vectors),
              "seconds": round(time.perf_counter() - started, 1),
              "answerable_threshold": answerable.threshold, "verdict_margin": verdict.threshold,
              "second_ratio": windows.calibration["second_ratio"], **answerable.calibration,
              **{f"verdict_{k}": v for k, v in verdict.calibration.items()}}
    fitted = {k: v for k, v in report.items() if k != "seconds"}  # the same seed gives the same file
    models = ReaderModels(kinds, windows, answerable, verdict, head=head, follow_up=follow_up,
                          meta={"seed": seed, "fit": fitted})
    return Trained(models, report)


HEAD_TEMPERATURE = 0.05


def train_head(encoder, examples: list[Example], clause_vectors: np.ndarray, seed: int, epochs: int = 3,
               lr: float = 1e-5, batch: int = 32) -> QueryHead:
    """Tune the top layers of the query side so that a question's vector lies nearest the clauses
    that answer it among all the index's clauses (a softmax over them at temperature 0.05), and
    learn a no-answer score that wins for the unanswerable questions."""
    import torch

    torch.manual_seed(seed)
    start = encoder.depth - HEAD_LAYERS
    names = [n for i in range(start, encoder.depth) for n in encoder.layer_names(i)]
    params = {n: torch.nn.Parameter(encoder._weights[n].detach().clone()) for n in names}
    null = torch.nn.Parameter(torch.zeros(encoder.dim))
    null_bias = torch.nn.Parameter(torch.tensor(0.0))
    used = [e for e in examples if e.gold_rows or e.answerable is False]
    clauses = torch.from_numpy(np.ascontiguousarray(clause_vectors, dtype=np.float32))
    optimizer = torch.optim.AdamW(list(params.values()), lr=lr, weight_decay=0.01)
    null_optimizer = torch.optim.Adam([null, null_bias], lr=1e-2)
    order = np.arange(len(used))
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        rng.shuffle(order)
        for first in range(0, len(order), batch):
            chosen = [used[i] for i in order[first:first + batch]]
            vectors = _head_forward(encoder, params, [e.hidden for e in chosen], start)
            logits = torch.cat([vectors @ clauses.T / HEAD_TEMPERATURE, (vectors @ null + null_bias)[:, None]], dim=1)
            target = torch.zeros_like(logits)
            for j, e in enumerate(chosen):
                if e.gold_rows:
                    target[j, list(e.gold_rows)] = 1.0 / len(e.gold_rows)
                else:
                    target[j, -1] = 1.0
            loss = -(target * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
            optimizer.zero_grad()
            null_optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            null_optimizer.step()
    return QueryHead(start, {n: p.detach().numpy().copy() for n, p in params.items()},
                     null.detach().numpy().copy(), float(null_bias.detach()), HEAD_TEMPERATURE)


def _head_forward(encoder, weights: dict, hidden: list[np.ndarray], start: int):
    import torch

    width = max(len(h) for h in hidden)
    x = torch.zeros(len(hidden), width, encoder.dim)
    mask = torch.zeros(len(hidden), width)
    for j, h in enumerate(hidden):
        x[j, :len(h)] = torch.from_numpy(h)
        mask[j, :len(h)] = 1
    for i in range(start, encoder.depth):
        x = encoder.layer(x, mask, i, weights)
    pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _tune(encoder, head: QueryHead, examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    """Tuned vectors and no-answer scores of examples under a head."""
    import torch

    vectors, nulls = [], []
    with torch.inference_mode():
        for first in range(0, len(examples), 64):
            part = examples[first:first + 64]
            v = _head_forward(encoder, head.torch_weights(), [e.hidden for e in part], head.start).numpy()
            vectors.append(v)
            nulls.append(v @ head.null + head.null_bias)
    return np.concatenate(vectors), np.concatenate(nulls)


def _clause_accuracy(examples: list[Example], vectors: np.ndarray, clause_vectors: np.ndarray) -> float | None:
    """Share of labelled parts whose nearest clause (of all the index's) is a labelled one."""
    rows = [i for i, e in enumerate(examples) if e.gold_rows]
    if not rows:
        return None
    best = (vectors[rows] @ clause_vectors.T).argmax(axis=1)
    return round(float(np.mean([b in examples[i].gold_rows for b, i in zip(best, rows)])), 3)


def _seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _groups(examples: list[Example], folds: int, seed: int) -> np.ndarray:
    """A fold number per example; the parts of one question stay together."""
    ids = sorted({e.question.id for e in examples})
    random.Random(seed).shuffle(ids)
    fold_of = {qid: n % folds for n, qid in enumerate(ids)}
    return np.array([fold_of[e.question.id] for e in examples])


def _kind_vector(model: KindModel, example: Example) -> np.ndarray:
    probabilities = model.probabilities(example.text, example.vector)
    return np.array([probabilities[k] for k in KINDS], dtype=np.float32)


def _follow_up_threshold(p: np.ndarray, follows: list[bool], standalone_kept: float = 0.9) -> float:
    """The lowest threshold that still keeps `standalone_kept` of the standalone questions apart
    (out of fold): a missed follow-up loses its subject, a carried standalone question gains a wrong one."""
    standalone = np.sort(p[~np.asarray(follows, dtype=bool)])
    if not len(standalone):
        return 0.5
    return float(standalone[min(len(standalone) - 1, int(np.ceil(standalone_kept * len(standalone))))])


def _rate(predicted: np.ndarray, truth: list[bool], value: bool) -> float:
    """The share of the examples whose truth is `value` that were predicted so."""
    chosen = [p for p, t in zip(predicted.tolist(), truth) if t == value]
    return round(sum(chosen) / len(chosen), 3) if chosen else 0.0


def _kind_accuracy(examples: list[Example], kind_oof: np.ndarray) -> float | None:
    labelled = [(i, e.kind) for i, e in enumerate(examples) if e.kind in KINDS]
    if not labelled:
        return None
    return round(sum(KINDS[int(np.argmax(kind_oof[i]))] == k for i, k in labelled) / len(labelled), 3)


def train_kinds(examples: list[Example], seed: int, epochs: int = 150, decay: float = 1e-4) -> KindModel:
    """Softmax regression over hashed surface features and the question vector."""
    labelled = [e for e in examples if e.kind in KINDS]
    if not labelled:
        raise ValueError("no question in the bank has a kind to learn from")
    return _train_softmax([e.text for e in labelled], np.stack([e.vector for e in labelled]),
                          [KINDS.index(e.kind) for e in labelled], KINDS, seed, epochs, decay)


def train_follow_up(examples: list[Example], seed: int, epochs: int = 150, decay: float = 1e-4) -> KindModel:
    """Whether a question leans on the conversation before it ("and where did he go then?") or
    stands alone ("what is the boiling point of water?"): the bank's follow-ups against the rest,
    classes balanced, from the words alone (the vector of a follow-up would carry the names the
    analyzer added from the history)."""
    labels = [int(bool(e.question.history)) for e in examples]
    return _train_softmax([e.text for e in examples], None, labels, FOLLOW_UP_CLASSES, seed, epochs, decay,
                          balanced=True)


def _train_softmax(texts: list[str], vectors: np.ndarray | None, labels: list[int], classes: tuple[str, ...],
                   seed: int, epochs: int, decay: float, balanced: bool = False) -> KindModel:
    import torch

    torch.manual_seed(seed)
    hashed = torch.nn.EmbeddingBag(HASH_DIM, len(classes), mode="sum")
    torch.nn.init.zeros_(hashed.weight)
    bias = torch.nn.Parameter(torch.zeros(len(classes)))
    dense = torch.nn.Linear(vectors.shape[1], len(classes), bias=False) if vectors is not None else None
    indices = [torch.as_tensor(hashed_features(t)) for t in texts]
    offsets = torch.as_tensor(np.cumsum([0] + [len(i) for i in indices[:-1]]))
    flat = torch.cat(indices)
    x = torch.as_tensor(vectors) if vectors is not None else None
    y = torch.as_tensor(labels)
    counts = torch.bincount(y, minlength=len(classes)).clamp(min=1).float()
    weight = (counts.sum() / (len(classes) * counts)) if balanced else None
    parameters = [*hashed.parameters(), bias, *(dense.parameters() if dense is not None else [])]
    optimizer = torch.optim.Adam(parameters, lr=0.05, weight_decay=decay)
    for _ in range(epochs):
        optimizer.zero_grad()
        logits = hashed(flat, offsets) + bias + (dense(x) if dense is not None else 0)
        loss = torch.nn.functional.cross_entropy(logits, y, weight=weight)
        loss.backward()
        optimizer.step()
    dense_weights = dense.weight.detach().numpy().T.copy() if dense is not None else np.zeros((0, len(classes)), np.float32)
    return KindModel(classes, hashed.weight.detach().numpy().copy(), dense_weights, bias.detach().numpy().copy())


def train_windows(matrices: list[np.ndarray], targets: list[np.ndarray | None], seed: int, hidden: int,
                  epochs: int = 300, decay: float = 1e-4) -> Standardized:
    """A scorer ranking each question's windows, trained listwise: the softmax over a question's
    windows against its targets (F1 squared, normalised: the best-matching window matters most)."""
    import torch

    torch.manual_seed(seed)
    used = [(m, t) for m, t in zip(matrices, targets) if t is not None and len(m) and t.max() > 0]
    stacked = np.concatenate([m for m, _ in used])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    width = max(len(m) for m, _ in used)
    x = np.zeros((len(used), width, stacked.shape[1]), dtype=np.float32)
    mask = np.zeros((len(used), width), dtype=bool)
    y = np.zeros((len(used), width), dtype=np.float32)
    for i, (m, t) in enumerate(used):
        x[i, :len(m)] = (m - mean) / scale
        mask[i, :len(m)] = True
        weights = t ** 2
        y[i, :len(m)] = weights / weights.sum()
    x, mask, y = torch.as_tensor(x), torch.as_tensor(mask), torch.as_tensor(y)
    if hidden:
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[-1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    else:
        net = torch.nn.Linear(x.shape[-1], 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=decay)
    for _ in range(epochs):
        optimizer.zero_grad()
        logits = net(x).squeeze(-1).masked_fill(~mask, -1e9)
        loss = -(y * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
        loss.backward()
        optimizer.step()
    layers = [p.detach().numpy().copy() for p in net.parameters()]
    weights = [layers[0].T, layers[1]] if not hidden else [layers[0].T, layers[1], layers[2].T, layers[3]]
    return Standardized(WINDOW_FEATURES, mean.astype(np.float32), scale.astype(np.float32), weights)


def train_logistic(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], seed: int, decay: float = 1e-3,
                   epochs: int = 400, hidden: int = 0) -> Standardized:
    """A binary classifier over standardized features, with balanced classes: logistic regression,
    or with `hidden` units one ReLU layer before it."""
    import torch

    torch.manual_seed(seed)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    xt = torch.as_tensor(((x - mean) / scale).astype(np.float32))
    yt = torch.as_tensor(y.astype(np.float32))
    if hidden:
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    else:
        net = torch.nn.Linear(x.shape[1], 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01 if hidden else 0.05, weight_decay=decay)
    positive = float(yt.mean())
    weight = torch.where(yt > 0.5, 0.5 / max(positive, 1e-3), 0.5 / max(1 - positive, 1e-3))  # balanced classes
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt).squeeze(-1), yt, weight=weight)
        loss.backward()
        optimizer.step()
    layers = [p.detach().numpy().copy() for p in net.parameters()]
    weights = [layers[0].T, layers[1]] if not hidden else [layers[0].T, layers[1], layers[2].T, layers[3]]
    return Standardized(names, mean.astype(np.float32), scale.astype(np.float32), weights)


def _fit_answerability(examples, summaries, groups, seed, max_false_refusal) -> Standardized:
    rows = [i for i, e in enumerate(examples) if e.answerable is not None and summaries[i] is not None]
    x = np.array([[summaries[i][n] for n in ANSWERABILITY_FEATURES] for i in rows], dtype=np.float32)
    y = np.array([examples[i].answerable for i in rows], dtype=np.float32)
    if len(set(y.tolist())) < 2:
        raise ValueError("the bank needs answerable and unanswerable questions to learn when to refuse")
    oof = np.zeros(len(rows))
    row_groups = groups[rows]
    for fold in range(INNER_FOLDS):
        train, test = row_groups != fold, row_groups == fold
        model = train_logistic(x[train], y[train], ANSWERABILITY_FEATURES, seed, **ANSWERABILITY_MODEL)
        oof[test] = 1 / (1 + np.exp(-model.logits(x[test])[:, 0]))
    threshold, refusal, false_refusal = _refusal_threshold(oof, y, max_false_refusal)
    model = train_logistic(x, y, ANSWERABILITY_FEATURES, seed, **ANSWERABILITY_MODEL)
    model.threshold = threshold
    model.calibration = {"oof_refusal": round(refusal, 3), "oof_false_refusal": round(false_refusal, 3),
                         "max_false_refusal": max_false_refusal}
    return model


def _refusal_threshold(p: np.ndarray, answerable: np.ndarray, max_false_refusal: float) -> tuple[float, float, float]:
    """The highest threshold (most refusals) that refuses at most `max_false_refusal` of the answerable."""
    best = (0.0, 0.0, 0.0)
    for t in np.unique(np.concatenate([[0.0], p])):
        refused = p < t
        false_refusal = float(refused[answerable > 0.5].mean()) if (answerable > 0.5).any() else 0.0
        refusal = float(refused[answerable < 0.5].mean()) if (answerable < 0.5).any() else 0.0
        if false_refusal <= max_false_refusal and refusal >= best[1]:
            best = (float(t), refusal, false_refusal)
    return best


def _fit_verdict(examples, summaries, seed, precision) -> Standardized:
    rows = [i for i, e in enumerate(examples) if e.verdict and summaries[i] is not None]
    if len({examples[i].verdict for i in rows}) < 2:
        return Standardized(VERDICT_FEATURES, np.zeros(len(VERDICT_FEATURES), np.float32),
                            np.ones(len(VERDICT_FEATURES), np.float32),
                            [np.zeros((len(VERDICT_FEATURES), 1), np.float32), np.zeros(1, np.float32)], threshold=0.5)
    x = np.array([[summaries[i][n] for n in VERDICT_FEATURES] for i in rows], dtype=np.float32)
    y = np.array([examples[i].verdict == "yes" for i in rows], dtype=np.float32)
    oof = np.zeros(len(rows))
    order = np.arange(len(rows)) % INNER_FOLDS
    np.random.default_rng(seed).shuffle(order)
    for fold in range(INNER_FOLDS):
        model = train_logistic(x[order != fold], y[order != fold], VERDICT_FEATURES, seed)
        oof[order == fold] = 1 / (1 + np.exp(-model.logits(x[order == fold])[:, 0]))
    margin = 0.5
    for m in np.linspace(0.0, 0.5, 51):
        shown = np.abs(oof - 0.5) >= m
        if shown.any() and float(((oof[shown] >= 0.5) == (y[shown] > 0.5)).mean()) >= precision:
            margin = float(m)
            break
    model = train_logistic(x, y, VERDICT_FEATURES, seed)
    model.threshold = margin
    shown = np.abs(oof - 0.5) >= margin
    model.calibration = {"oof_shown": round(float(shown.mean()), 3),
                         "oof_precision": round(float(((oof[shown] >= 0.5) == (y[shown] > 0.5)).mean()), 3) if shown.any() else None}
    return model


def _second_ratio(examples: list[Example], scores_oof) -> float:
    """The ratio at which quoting a second window answers most questions (keywords found), out of fold."""
    candidates = [(e, s) for e, s in zip(examples, scores_oof) if s is not None and e.keywords is not None]
    best_ratio, best_hits = 1.0, -1
    for ratio in (1.01, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1):
        hits = 0
        for e, s in candidates:
            chosen = select(e.candidates.windows, softmax(s), ratio)
            index = {id(w): i for i, w in enumerate(e.candidates.windows)}
            hits += bool(any(e.keywords[index[id(w)]] for w in chosen))
        if hits > best_hits:
            best_ratio, best_hits = ratio, hits
    return best_ratio


# ---------------------------------------------------------------------------------------- command
def train(assistant, progress: Callable[[str], None] | None = None, seed: int = SEED,
          questions: list[BankQuestion] | None = None) -> Trained:
    """Train from the assistant's banks (or the questions given) and put the reader into its index folder."""
    from .index import save_reader

    questions = read_banks(assistant) if questions is None else questions
    if not questions:
        raise ValueError("no question bank (source_texts/<stem>.questions.jsonl) to train from")
    started = time.perf_counter()
    examples = prepare(assistant, questions, progress)
    if progress:
        progress(f"{len(questions)} questions, {len(examples)} parts read in {time.perf_counter() - started:.0f} s; fitting")
    trained = fit(examples, assistant.embedder.query_encoder, assistant.index.clause_vectors, seed)
    provenance = {"banks": bank_checksums(assistant), "model": assistant.settings.model,
                  "model_checksum": assistant.embedder.checksum, "seed": seed,
                  "seconds": round(time.perf_counter() - started, 1), "fit": trained.report}
    save_reader(Path(assistant.settings.index_dir), trained.models, provenance)
    assistant.use_reader(trained.models)
    return trained
