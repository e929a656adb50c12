"""The learned parts of the answer engine, as small numpy models trained by `rag train`.

No model that reads Arabic and writes answers can be had here (../shared/MODELS.md), so the
judgements an answer needs are learned from the question bank (`source_texts/*.questions.jsonl`)
instead of written as rules:

- `QueryHead`: the top layers of the embedding model's query side, tuned so that a question lies
  near the clauses that answer it (not only near those that repeat its words), with a score for
  "no clause answers this";
- `KindModel`: what kind of answer a question asks for (a person, a date, a number, a reason, a
  yes/no verdict, a quotation…), from the question's words and character n-grams (hashed) and its
  embedding, so that «قديش», «شحال» and "how many" meet without a list of them;
- `WindowScorer`: how well a window of one to three clauses answers a question, from features of
  the pair (`rag/reader.py`);
- `Answerability`: whether the text answers at all, from the best windows' features;
- `Verdict`: yes or no, for a yes/no question, from how its best window agrees with it.

The head runs in the query encoder's forward pass (rag/bert_encoder.py); the others run in numpy at answer time (a few hundred microseconds); torch is only needed to train
them (`rag/training.py`). They are saved together in one safetensors file with their feature names,
thresholds and provenance in its metadata.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .textnorm import TOKEN, normalize

KINDS = ("person", "group", "place", "date", "number", "duration", "reason", "manner", "event",
         "description", "list", "yesno", "quote")
FOLLOW_UP_CLASSES = ("standalone", "follow_up")
HASH_DIM = 1 << 13


def hashed_features(text: str, dim: int = HASH_DIM) -> np.ndarray:
    """Indices of a question's surface features in a hashed space: its words, word pairs, first and
    last words, and the character n-grams of its first words (where question words stand), so that
    spellings and dialect forms the bank never had still share features with those it had."""
    tokens = TOKEN.findall(normalize(text))
    if not tokens:
        return np.zeros(0, dtype=np.int64)
    names = [f"w:{t}" for t in tokens]
    names += [f"b:{a}_{b}" for a, b in zip(tokens, tokens[1:])]
    names += [f"first:{tokens[0]}", f"last:{tokens[-1]}", f"first2:{'_'.join(tokens[:2])}"]
    for position, token in enumerate(tokens[:3]):
        padded = f"<{token}>"
        names += [f"c{n}:{padded[i:i + n]}" for n in (2, 3, 4) for i in range(len(padded) - n + 1)]
        names.append(f"p{position}:{token}")
    return np.array(sorted({zlib.crc32(name.encode("utf-8")) % dim for name in names}), dtype=np.int64)


@dataclass
class QueryHead:
    """Tuned weights for the embedding model's layers `start`.. on the query side, and a learned
    no-answer direction: `null @ tuned + null_bias` competes with `tuned @ clause / temperature`."""

    start: int
    weights: dict[str, np.ndarray]
    null: np.ndarray
    null_bias: float
    temperature: float
    _torch: dict = field(default_factory=dict, repr=False, compare=False)

    def torch_weights(self) -> dict:
        if not self._torch:
            import torch

            self._torch.update({k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in self.weights.items()})
        return self._torch


@dataclass
class KindModel:
    """Softmax regression over hashed surface features and the question embedding."""

    kinds: tuple[str, ...]
    hashed: np.ndarray  # (HASH_DIM, K)
    dense: np.ndarray  # (embedding dim, K)
    bias: np.ndarray  # (K,)
    threshold: float = 0.5  # a two-class model: the second class from this probability on

    def probabilities(self, text: str, vector: np.ndarray) -> dict[str, float]:
        logits = self.hashed[hashed_features(text, len(self.hashed))].sum(axis=0) + self.bias
        if len(self.dense):  # a model of the words alone has no dense part
            logits = logits + vector @ self.dense
        return dict(zip(self.kinds, softmax(logits).tolist()))


@dataclass
class Standardized:
    """A small scorer over named features, standardised with the training set's mean and spread:
    linear when `hidden` is empty, else one hidden ReLU layer."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: list[np.ndarray]  # [W, b] (linear) or [W1, b1, W2, b2]
    threshold: float = 0.0  # a decision threshold on the output, where one is needed
    calibration: dict = field(default_factory=dict)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(n, d) features -> (n, outputs) scores."""
        h = (np.asarray(x, dtype=np.float32) - self.mean) / self.scale
        if len(self.weights) == 4:
            h = np.maximum(h @ self.weights[0] + self.weights[1], 0.0)
            return h @ self.weights[2] + self.weights[3]
        return h @ self.weights[0] + self.weights[1]

    def vector(self, values: dict[str, float]) -> np.ndarray:
        return np.array([[values[name] for name in self.features]], dtype=np.float32)


@dataclass
class ReaderModels:
    """Everything `rag train` learns, saved in one file."""

    kinds: KindModel
    windows: Standardized  # window features -> one score (ranking over a question's windows)
    answerable: Standardized  # question features -> log-odds that the text answers it; refuse below threshold
    verdict: Standardized  # yes/no question features -> log-odds of "yes"; a verdict only beyond threshold
    head: QueryHead | None = None
    follow_up: KindModel | None = None  # FOLLOW_UP_CLASSES: whether a question leans on the conversation
    meta: dict = field(default_factory=dict)  # seed, bank checksums, sizes, held-out figures

    def save(self, path: Path) -> str:
        """Write the models; returns the file's sha256 (recorded in the index manifest)."""
        from safetensors.numpy import save_file

        tensors = {"kinds.hashed": self.kinds.hashed, "kinds.dense": self.kinds.dense, "kinds.bias": self.kinds.bias}
        header = {"kinds": list(self.kinds.kinds), "meta": self.meta}
        if self.follow_up is not None:
            tensors.update({"follow_up.hashed": self.follow_up.hashed, "follow_up.dense": self.follow_up.dense,
                            "follow_up.bias": self.follow_up.bias})
            header["follow_up"] = list(self.follow_up.kinds)
            header["follow_up_threshold"] = self.follow_up.threshold
        for name in ("windows", "answerable", "verdict"):
            model: Standardized = getattr(self, name)
            tensors[f"{name}.mean"] = model.mean
            tensors[f"{name}.scale"] = model.scale
            for i, w in enumerate(model.weights):
                tensors[f"{name}.w{i}"] = w
            header[name] = {"features": list(model.features), "layers": len(model.weights),
                            "threshold": model.threshold, "calibration": model.calibration}
        tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
        if self.head is not None:  # the tuned layers in half precision: they are most of the file
            tensors.update({f"head.{k}": np.ascontiguousarray(v, dtype=np.float16) for k, v in self.head.weights.items()})
            tensors["head_null"] = np.ascontiguousarray(self.head.null, dtype=np.float32)
            header["head"] = {"start": self.head.start, "null_bias": self.head.null_bias,
                              "temperature": self.head.temperature}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata={"reader": json.dumps(header, ensure_ascii=False, sort_keys=True)})
        return hashlib.sha256(path.read_bytes()).hexdigest()

    @classmethod
    def load(cls, path: Path) -> "ReaderModels":
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as fh:
            header = json.loads(fh.metadata()["reader"])
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
        kinds = KindModel(tuple(header["kinds"]), tensors["kinds.hashed"], tensors["kinds.dense"], tensors["kinds.bias"])
        parts = {}
        for name in ("windows", "answerable", "verdict"):
            spec = header[name]
            parts[name] = Standardized(tuple(spec["features"]), tensors[f"{name}.mean"], tensors[f"{name}.scale"],
                                       [tensors[f"{name}.w{i}"] for i in range(spec["layers"])],
                                       float(spec["threshold"]), spec.get("calibration", {}))
        head = None
        if "head" in header:
            spec = header["head"]
            head = QueryHead(int(spec["start"]), {k[5:]: v.astype(np.float32) for k, v in tensors.items() if k.startswith("head.")},
                             tensors["head_null"], float(spec["null_bias"]), float(spec["temperature"]))
        follow_up = None
        if "follow_up" in header:
            follow_up = KindModel(tuple(header["follow_up"]), tensors["follow_up.hashed"], tensors["follow_up.dense"],
                                  tensors["follow_up.bias"], float(header.get("follow_up_threshold", 0.5)))
        return cls(kinds, head=head, follow_up=follow_up, meta=header["meta"], **parts)


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - np.max(x))
    return z / z.sum()


def sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))
