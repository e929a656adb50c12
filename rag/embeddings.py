"""Dense embeddings through sentence-transformers, from a local model folder only."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import types
from pathlib import Path

import numpy as np

from .bert_encoder import BertEncoder
from .models import ensure_model, model_checksum
from .settings import Settings

# Never reach for a model hub: every model is a local folder.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _import_sentence_transformer() -> type:
    """`SentenceTransformer`, imported without importing scikit-learn.

    sentence-transformers imports `sklearn.metrics.pairwise_distances` at import time, for similarity
    functions this project never calls, and scikit-learn imports scipy.stats and pandas: about 1 s of
    `Assistant.load()` on 2 cores (`bench/latency.py`). During that one import `sklearn.metrics` is a
    stand-in whose names import the real module when first used, so behaviour is unchanged; the
    stand-in is removed right after, and any later import of `sklearn.metrics` gets the real module.
    """
    if "sentence_transformers" in sys.modules or "sklearn.metrics" in sys.modules:
        from sentence_transformers import SentenceTransformer
        return SentenceTransformer
    stand_in = types.ModuleType("sklearn.metrics")

    def real(name: str):
        if name.startswith("__"):  # the import system asking about the module itself, e.g. `__path__`
            raise AttributeError(name)
        if sys.modules.get("sklearn.metrics") is stand_in:
            del sys.modules["sklearn.metrics"]
        return getattr(importlib.import_module("sklearn.metrics"), name)

    def pairwise_distances(*args, **kwargs):
        return real("pairwise_distances")(*args, **kwargs)

    stand_in.__getattr__ = real
    stand_in.pairwise_distances = pairwise_distances
    sys.modules["sklearn.metrics"] = stand_in
    try:
        from sentence_transformers import SentenceTransformer
    finally:
        if sys.modules.get("sklearn.metrics") is stand_in:
            del sys.modules["sklearn.metrics"]
    return SentenceTransformer


QUERY_ENCODERS = ("auto", "sentence-transformers")


class Embedder:
    """Encodes queries and passages with the prompts the model was trained with (if any).

    Passages (the index) are always embedded through sentence-transformers. Queries go through the
    same model loaded by `BertEncoder` when the folder's layout allows it (`query_encoder="auto"`),
    which keeps sentence-transformers' ~3 s import out of `Assistant.load()`; sentence-transformers
    itself is then loaded only if something needs it (an index build, another layout).
    """

    def __init__(self, folder: Path, name: str, threads: int = 0, query_encoder: str = "auto"):
        import torch

        if query_encoder not in QUERY_ENCODERS:
            raise ValueError(f"query_encoder must be one of {', '.join(QUERY_ENCODERS)}, not {query_encoder!r}")
        if threads:
            torch.set_num_threads(threads)
        self.folder = folder
        self.name = name
        self.checksum = model_checksum(folder)
        self._model = None
        self.query_encoder = BertEncoder.from_folder(folder) if query_encoder == "auto" else None
        self.dim = self.query_encoder.dim if self.query_encoder else int(self.model.get_embedding_dimension())
        self.prompts = self._read_prompts()
        self._query_prompt = "query" if "query" in self.prompts else None
        self._passage_prompt = next((p for p in ("passage", "document") if p in self.prompts), None)

    @property
    def model(self):
        """The sentence-transformers model, loaded on first use."""
        if self._model is None:
            SentenceTransformer = _import_sentence_transformer()
            self._model = SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)
        return self._model

    def _read_prompts(self) -> dict[str, str]:
        if self._model is not None:
            return dict(getattr(self._model, "prompts", None) or {})
        config = self.folder / "config_sentence_transformers.json"
        try:
            return dict(json.loads(config.read_text(encoding="utf-8")).get("prompts") or {})
        except (OSError, ValueError, AttributeError):
            return {}

    @classmethod
    def from_settings(cls, settings: Settings, *, fetch: bool = False, progress: bool = False) -> "Embedder":
        """The configured model; only `rag setup` fetches (`fetch=True`), loading never uses the network."""
        folder = ensure_model(settings.model, settings.model_dir, fetch=fetch, progress=progress)
        return cls(folder, settings.model, settings.threads, settings.query_encoder)

    def check_query_encoder(self, texts: list[str], vectors: np.ndarray, tolerance: float = 1e-4) -> bool:
        """Keep the query encoder only if it reproduces these passage vectors (written by
        sentence-transformers into the index) to `tolerance`; otherwise fall back to sentence-transformers."""
        if self.query_encoder is None or not texts:
            return self.query_encoder is not None
        ours = self.query_encoder.encode(self._prompted(texts, self._passage_prompt))
        if ours.shape == vectors.shape and float(np.abs(ours - vectors).max()) <= tolerance:
            return True
        print(f"the fast query encoder disagrees with {self.name}'s index vectors; "
              "using sentence-transformers for queries", file=sys.stderr)
        self.query_encoder = None
        return False

    def _prompted(self, texts: list[str], prompt_name: str | None) -> list[str]:
        """The texts with the prompt prepended, as sentence-transformers does for `prompt_name`."""
        prompt = self.prompts.get(prompt_name, "") if prompt_name else ""
        return [prompt + text for text in texts]

    def _encode(self, texts: list[str], prompt_name: str | None, batch_size: int, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(texts, prompt_name=prompt_name, batch_size=batch_size,
                                    show_progress_bar=progress, normalize_embeddings=True,
                                    convert_to_numpy=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if self.query_encoder is not None and texts:
            return self.query_encoder.encode(self._prompted(texts, self._query_prompt))
        return self._encode(texts, self._query_prompt, 32, False)

    def encode_queries_tuned(self, texts: list[str], head) -> tuple[np.ndarray, np.ndarray]:
        """The model's query vectors, and those of a trained query head (rag/learned.py) over the
        same lower layers; without a head (or a layout the head cannot run on) both are the same."""
        if head is None or self.query_encoder is None or not texts:
            vectors = self.encode_queries(texts)
            return vectors, vectors
        return self.query_encoder.encode_with_head(self._prompted(texts, self._query_prompt), head)

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False,
                        cache_dir: Path | None = None, chunk_size: int = 1024) -> np.ndarray:
        """Passage vectors. With `cache_dir`, texts are embedded `chunk_size` at a time and each chunk
        is saved under a name drawn from the model, the prompt and its texts, so an interrupted build
        of a large corpus resumes where it stopped and a rebuild embeds only the chunks that changed.
        A damaged chunk file is embedded again."""
        if cache_dir is None or len(texts) <= chunk_size:
            return self._encode(texts, self._passage_prompt, batch_size, progress)
        from tqdm import tqdm

        folder = Path(cache_dir) / self.checksum[:16]
        folder.mkdir(parents=True, exist_ok=True)
        chunks = []
        for start in tqdm(range(0, len(texts), chunk_size), desc="embedding", unit="chunk", disable=not progress):
            part = texts[start:start + chunk_size]
            key = hashlib.sha256(json.dumps([self._passage_prompt, part], ensure_ascii=False).encode()).hexdigest()
            path = folder / f"{key[:32]}.npy"
            try:
                vectors = np.load(path)
                if vectors.shape != (len(part), self.dim):
                    raise ValueError(f"{path} holds vectors of shape {vectors.shape}")
            except (OSError, ValueError, EOFError):
                vectors = self._encode(part, self._passage_prompt, batch_size, False)
                partial = path.with_suffix(".partial.npy")
                np.save(partial, vectors)
                os.replace(partial, path)  # a chunk file is whole or absent
            chunks.append(vectors)
        return np.concatenate(chunks)
