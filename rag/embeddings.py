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


class Embedder:
    """Encodes queries and passages with the prompts the model was trained with (if any)."""

    def __init__(self, folder: Path, name: str, threads: int = 0):
        import torch

        SentenceTransformer = _import_sentence_transformer()
        if threads:
            torch.set_num_threads(threads)
        self.folder = folder
        self.name = name
        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        self.dim = int(self.model.get_embedding_dimension())
        self.checksum = model_checksum(folder)
        prompts = getattr(self.model, "prompts", None) or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = next((p for p in ("passage", "document") if p in prompts), None)

    @classmethod
    def from_settings(cls, settings: Settings, *, fetch: bool = False, progress: bool = False) -> "Embedder":
        """The configured model; only `rag setup` fetches (`fetch=True`), loading never uses the network."""
        folder = ensure_model(settings.model, settings.model_dir, fetch=fetch, progress=progress)
        return cls(folder, settings.model, settings.threads)

    def _encode(self, texts: list[str], prompt_name: str | None, batch_size: int, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(texts, prompt_name=prompt_name, batch_size=batch_size,
                                    show_progress_bar=progress, normalize_embeddings=True,
                                    convert_to_numpy=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt, 32, False)

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
