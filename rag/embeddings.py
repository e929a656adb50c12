"""Dense embeddings through sentence-transformers, from a local model folder only."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .models import ensure_model, model_checksum
from .settings import Settings

# Never reach for a model hub: every model is a local folder.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class Embedder:
    """Encodes queries and passages with the prompts the model was trained with (if any)."""

    def __init__(self, folder: Path, name: str, threads: int = 0):
        import torch
        from sentence_transformers import SentenceTransformer

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

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self._encode(texts, self._passage_prompt, batch_size, progress)
