"""All configuration in one place: a frozen settings object with environment overrides.

Every knob of the pipeline lives here so that the CLI, the UI, the tests and the benchmarks all
read the same values. `Settings.from_env()` applies `RAG_*` environment variables on top of the
defaults; keyword arguments override both (tests and benchmarks use that).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _user_cache() -> Path:
    """Big artifacts (model weights, embeddings of large corpora) live in the user cache, not in git."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "khwarazm-rag"


def _user_config() -> Path:
    """What the operator owns and git never sees (the LTI tool's keys and platform registrations)."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "khwarazm-rag"


def _default_lti_config() -> Path:
    return _user_config() / "lti.json"


def _default_model_dir() -> Path:
    return _user_cache() / "models"


def _default_embedding_cache_dir() -> Path:
    return _user_cache() / "embeddings"


@dataclass(frozen=True)
class Settings:
    project_dir: Path = PROJECT_DIR
    sources_dir: Path = PROJECT_DIR / "source_texts"
    index_dir: Path = PROJECT_DIR / "index"
    # Embedding model: a known name (see rag.models.KNOWN_MODELS) or a local sentence-transformers folder.
    model: str = "multilingual-e5-small"
    model_dir: Path = field(default_factory=_default_model_dir)
    # Where `rag build` keeps the vectors of a large corpus chunk by chunk, so a build resumes.
    embedding_cache_dir: Path = field(default_factory=_default_embedding_cache_dir)
    # Passages: one per paragraph; a longer paragraph is split between clauses at about this length.
    max_passage_chars: int = 1200
    # Retrieval: how many passages an answer returns, and how dense and BM25 scores are fused
    # ("convex": weighted sum of normalised scores; "rrf": reciprocal rank fusion with rrf_k).
    top_k: int = 10
    fusion: str = "convex"
    dense_weight: float = 1.0
    lexical_weight: float = 0.4
    rrf_k: int = 60
    glossary_expansion: bool = True
    # Narrative paragraphs often say "the city" for a place named just before: BM25 documents also
    # carry the place names of this many preceding passages.
    context_passages: int = 2
    # FAISS index type: "auto" picks by corpus size (flat, hnsw, ivf).
    index_type: str = "auto"
    # The reader reads the windows of this many of the best passages (per part of a question).
    reader_passages: int = 5
    # Answer engine: "extractive" (default) or "openai" (any OpenAI-compatible chat-completions
    # server: Ollama, llama.cpp, vLLM, transformers serve), its sentences checked against the passages.
    engine: str = "extractive"
    openai_base_url: str = ""  # e.g. http://127.0.0.1:11434/v1
    openai_model: str = ""
    openai_api_key: str = field(default="", repr=False)  # from RAG_OPENAI_API_KEY; never logged or shown
    openai_connect_timeout: float = 3.0  # seconds to reach the server
    openai_timeout: float = 60.0  # seconds for a whole answer
    # what the prompt shows of each passage: "both" (the original and its aligned translation) or
    # "answer" (only the view in the answer's language, when there is one: for small models, whose
    # tokenizers spend several tokens on each Arabic letter)
    openai_passage_views: str = "both"
    openai_passages: int = 4  # how many of the best passages the prompt numbers
    openai_max_tokens: int = 160  # the answer's length limit (a few sentences)
    # Input limits: questions longer than this are refused with a clear message.
    max_question_chars: int = 2000
    max_history_turns: int = 50
    # Query vectors: "auto" runs the model's forward pass in plain torch when the folder is a BERT
    # with mean pooling and the result matches the index (rag/bert_encoder.py); "sentence-transformers"
    # always goes through sentence-transformers (about 3 s more to load, same vectors).
    query_encoder: str = "auto"
    # Embedding batch size for index builds.
    batch_size: int = 32
    threads: int = 0  # 0: leave torch's default
    # The server's public address (e.g. "https://assistant.example.edu"), used in permalinks,
    # references and the LTI configuration; empty: the address each request came to.
    public_url: str = ""
    # LTI 1.3: the platform registrations (pylti1p3's JSON format); the tool's key pair and the
    # launch state (conversations per user and course) live in the same folder.
    lti_config: Path = field(default_factory=_default_lti_config)

    @classmethod
    def from_env(cls, **overrides: Any) -> "Settings":
        """Defaults, then `RAG_<FIELD>` environment variables, then explicit overrides."""
        values: dict[str, Any] = {}
        defaults = cls()
        for f in dataclasses.fields(cls):
            raw = os.environ.get("RAG_" + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(raw, type(getattr(defaults, f.name)), f.name)
        if "project_dir" in values:  # paths below the project follow it unless set themselves
            root = values["project_dir"]
            values.setdefault("sources_dir", root / "source_texts")
            values.setdefault("index_dir", root / "index")
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def _coerce(raw: str, kind: type, name: str) -> Any:
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if issubclass(kind, Path):
            return Path(raw).expanduser().resolve()
        return kind(raw)
    except ValueError:
        raise ValueError(f"RAG_{name.upper()}={raw!r} is not a valid {kind.__name__}") from None
