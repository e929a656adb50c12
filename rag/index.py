"""The search index: FAISS over both language views of every passage, BM25 per language, a manifest.

Everything needed to answer is persisted in one folder (`index/` for the shipped text):

    manifest.json     format version, model id and checksum, dimensions, source checksums,
                      chunking parameters, FAISS index type, and a sha256 of every other file
    passages.jsonl    passage offsets and aligned segments (texts are sliced from the sources)
    dense.faiss       FAISS inner-product index over normalised vectors, one row per passage view
    dense_rows.npy    row -> (passage id, view language)
    clauses.npy       embeddings of every clause (segment) in both views, for answer selection
    clause_rows.npy   row -> (passage id, clause position in the passage, view language)
    bm25_<lang>/      a bm25s index over the normalised, light-stemmed view in that language, of
                      the passages that have one (`bm25_<lang>.rows.npy`: document -> passage id)
    reader.safetensors  the learned reader (`rag train`), kept across rebuilds of the rest

Loading compares the manifest with the current sources, model and settings (stale index) and
every file with its checksum (corrupt index), so a mismatch is reported, never silently used.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import bm25s
import faiss
import numpy as np

from .glossary import Glossary
from .passages import Passage, make_passages
from .sources import SourceText, sha256_bytes
from .settings import Settings
from .textnorm import ANALYSIS_VERSION, tokenize

FORMAT_VERSION = 2
READER_FILE = "reader.safetensors"
LANGUAGE_CODES = ("ar", "en")  # view languages as stored in dense_rows.npy (index into this tuple)


class IndexLoadError(Exception):
    """Base class: the index cannot be used as it is."""


class StaleIndexError(IndexLoadError):
    """The index was built from other sources, another model or other settings."""


class CorruptIndexError(IndexLoadError):
    """An index file is missing, truncated or altered."""


# Measured by bench/scale.py on 2 cores (README, "Scale"): exact search over 100k vectors takes
# ~15 ms (p50) with recall 1; HNSW (M=32) needs efSearch ~800 for recall >= 0.95 on that corpus
# (~3.5 ms); IVF needs nprobe >= 128 of 4*sqrt(n) lists and still stays under 0.9.
FLAT_UP_TO = 120_000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 800
IVF_NPROBE = 128


def choose_index_type(rows: int, requested: str = "auto") -> str:
    """Exact search while it meets the latency target; graph search (HNSW) beyond."""
    if requested != "auto":
        if requested not in ("flat", "hnsw", "ivf"):
            raise ValueError(f"unknown index type {requested!r} (use auto, flat, hnsw or ivf)")
        return requested
    return "flat" if rows <= FLAT_UP_TO else "hnsw"


def make_faiss_index(vectors: np.ndarray, index_type: str) -> faiss.Index:
    dim = vectors.shape[1]
    if index_type == "flat":
        index = faiss.IndexFlatIP(dim)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    elif index_type == "ivf":
        nlist = max(1, min(int(4 * math.sqrt(len(vectors))), len(vectors) // 39 or 1))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
    else:
        raise ValueError(f"unknown index type {index_type!r}")
    index.add(vectors)
    _tune_search(index)
    return index


def source_fingerprint(sources: list[SourceText]) -> dict[str, dict]:
    return {s.path: {"sha256": s.sha256, "companions": s.companion_sha256} for s in sources}


@dataclass
class Index:
    passages: list[Passage]
    dense: faiss.Index
    rows: np.ndarray  # (n_rows, 2) int32: passage id, view language code
    bm25: dict[str, bm25s.BM25]
    bm25_rows: dict[str, np.ndarray]  # per language: BM25 document -> passage id
    clause_vectors: np.ndarray  # (n_clause_views, dim) float32
    clause_rows: np.ndarray  # (n_clause_views, 3) int32: passage id, clause position, view language
    manifest: dict

    def __post_init__(self) -> None:
        self._clause_lookup = {(int(p), int(c), int(l)): i for i, (p, c, l) in enumerate(self.clause_rows)}

    def clause_vector_rows(self, passage_id: int, position: int) -> list[int]:
        """Rows of `clause_vectors` holding the views of one clause of a passage."""
        return [row for code in range(len(LANGUAGE_CODES))
                if (row := self._clause_lookup.get((passage_id, position, code))) is not None]

    def clause_samples(self, per_language: int = 1) -> tuple[list[str], np.ndarray]:
        """The first clause views of each language with their stored vectors: a reference written by
        the model at build time, against which a query encoder can be checked at load time."""
        texts, rows = [], []
        for code, lang in enumerate(LANGUAGE_CODES):
            for row in np.flatnonzero(self.clause_rows[:, 2] == code)[:per_language]:
                passage_id, position, _ = (int(v) for v in self.clause_rows[row])
                segment = self.passages[passage_id].segments[position]
                texts.append(segment.text if lang == self.passages[passage_id].language else segment.translation)
                rows.append(int(row))
        return texts, self.clause_vectors[rows]

    @property
    def languages(self) -> list[str]:
        return sorted(self.bm25)

    # ---------------------------------------------------------------- build
    @classmethod
    def build(cls, sources: list[SourceText], embedder, settings: Settings,
              progress: Callable[[str], None] | None = None, show_bar: bool = False) -> "Index":
        started = time.perf_counter()
        passages: list[Passage] = []
        for source in sources:
            passages.extend(make_passages(source, settings.max_passage_chars, first_id=len(passages)))
        views: list[tuple[int, str, str]] = []
        for p in passages:
            for lang in (p.language, p.translation_language):
                text = p.view(lang) if lang else None
                if text:
                    views.append((p.id, lang, text))
        clause_views: list[tuple[int, int, str, str]] = []
        for p in passages:
            for position, seg in enumerate(p.segments):
                clause_views.append((p.id, position, p.language, seg.text))
                if seg.translation and p.translation_language:
                    clause_views.append((p.id, position, p.translation_language, seg.translation))
        if progress:
            progress(f"{len(passages)} passages: embedding {len(views)} passage views and "
                     f"{len(clause_views)} clause views with {embedder.name}")
        vectors = embedder.encode_passages([v[2] for v in views] + [v[3] for v in clause_views],
                                           batch_size=settings.batch_size, progress=show_bar,
                                           cache_dir=settings.embedding_cache_dir)
        vectors, clause_vectors = vectors[:len(views)], vectors[len(views):]
        clause_rows = np.array([[pid, pos, LANGUAGE_CODES.index(lang)] for pid, pos, lang, _ in clause_views],
                               dtype=np.int32).reshape(-1, 3)
        index_type = choose_index_type(len(vectors), settings.index_type)
        dense = make_faiss_index(vectors, index_type)
        rows = np.array([[pid, LANGUAGE_CODES.index(lang)] for pid, lang, _ in views], dtype=np.int32)
        bm25, bm25_rows = {}, {}
        glossary = Glossary([e for s in sources for e in s.glossary])
        for lang in LANGUAGE_CODES:
            having = [i for i, p in enumerate(passages) if p.view(lang)]
            if not having:
                continue
            docs = [tokenize(passages[i].view(lang)) + _context_terms(passages, i, lang, glossary, settings.context_passages)
                    for i in having]
            model = bm25s.BM25()
            model.index(docs, show_progress=False)
            bm25[lang] = model
            bm25_rows[lang] = np.array(having, dtype=np.int32)
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": embedder.name,
            "model_checksum": embedder.checksum,
            "dimensions": int(vectors.shape[1]),
            "index_type": index_type,
            "rows": int(len(vectors)),
            "passages": len(passages),
            "sources": source_fingerprint(sources),
            "chunking": {"unit": "paragraph", "max_passage_chars": settings.max_passage_chars,
                         "context_passages": settings.context_passages},
            "analysis_version": ANALYSIS_VERSION,
            "bm25": sorted(bm25),
            "build_seconds": round(time.perf_counter() - started, 2),
        }
        return cls(passages, dense, rows, bm25, bm25_rows, clause_vectors, clause_rows, manifest)

    # ---------------------------------------------------------------- persist
    def save(self, folder: Path) -> None:
        """Write to a temporary folder beside the target, then swap it in: never a half index."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".index-", dir=folder.parent))
        try:
            with open(tmp / "passages.jsonl", "w", encoding="utf-8") as fh:
                for p in self.passages:
                    fh.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
            faiss.write_index(self.dense, str(tmp / "dense.faiss"))
            np.save(tmp / "dense_rows.npy", self.rows)
            np.save(tmp / "clauses.npy", self.clause_vectors)
            np.save(tmp / "clause_rows.npy", self.clause_rows)
            for lang, model in self.bm25.items():
                model.save(str(tmp / f"bm25_{lang}"))
                np.save(tmp / f"bm25_{lang}.rows.npy", self.bm25_rows[lang])
            manifest = dict(self.manifest)
            if (folder / READER_FILE).exists():  # the learned reader outlives a rebuild (`rag train` renews it)
                shutil.copy2(folder / READER_FILE, tmp / READER_FILE)
                manifest.setdefault("reader", _read_manifest(folder).get("reader", {}))
            manifest["files"] = _file_checksums(tmp)
            (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                              encoding="utf-8")
            old = folder.parent / f".{folder.name}-old"
            if old.exists():
                shutil.rmtree(old)
            if folder.exists():
                folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
            self.manifest = manifest
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, sources: list[SourceText], settings: Settings,
             model_checksum: str | None = None) -> "Index":
        folder = Path(folder)
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            raise StaleIndexError(f"no index in {folder}: run `rag build`")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise CorruptIndexError(f"{manifest_path} is unreadable: run `rag build`") from None
        problem = stale_reason(manifest, sources, settings, model_checksum)
        if problem:
            raise StaleIndexError(f"the index in {folder} is stale ({problem}): run `rag build`")
        expected = manifest.get("files") or {}
        actual = _file_checksums(folder)
        if READER_FILE not in actual:  # a deleted reader is an untrained one (`rag train`), not damage
            expected = {name: digest for name, digest in expected.items() if name != READER_FILE}
        broken = sorted(name for name in set(expected) | set(actual) if expected.get(name) != actual.get(name))
        if broken or not expected:
            raise CorruptIndexError(f"the index in {folder} is damaged ({', '.join(broken[:3]) or 'no checksums'}):"
                                    " run `rag build`")
        texts = {s.path: s.text for s in sources}
        try:
            rows_json = [json.loads(line) for line in (folder / "passages.jsonl").read_text(encoding="utf-8").splitlines()]
            passages = [Passage.from_dict(row, texts[row["source"]]) for row in rows_json]
            dense = faiss.read_index(str(folder / "dense.faiss"))
            rows = np.load(folder / "dense_rows.npy")
            clause_vectors = np.load(folder / "clauses.npy")
            clause_rows = np.load(folder / "clause_rows.npy")
            bm25 = {lang: bm25s.BM25.load(str(folder / f"bm25_{lang}")) for lang in manifest["bm25"]}
            bm25_rows = {lang: np.load(folder / f"bm25_{lang}.rows.npy") for lang in manifest["bm25"]}
        except Exception as exc:  # any parse failure of a checksummed file means a broken build
            raise CorruptIndexError(f"the index in {folder} cannot be read ({exc}): run `rag build`") from None
        if dense.ntotal != len(rows) or dense.d != manifest["dimensions"] or len(clause_vectors) != len(clause_rows):
            raise CorruptIndexError(f"the index in {folder} is inconsistent: run `rag build`")
        _tune_search(dense)
        return cls(passages, dense, rows, bm25, bm25_rows, clause_vectors, clause_rows, manifest)


def stale_reason(manifest: dict, sources: list[SourceText], settings: Settings,
                 model_checksum: str | None) -> str | None:
    """Why an index no longer matches what it would be built from now (None if it matches)."""
    if manifest.get("format_version") != FORMAT_VERSION:
        return f"format {manifest.get('format_version')} != {FORMAT_VERSION}"
    if manifest.get("model") != settings.model:
        return f"built with model {manifest.get('model')!r}, settings ask for {settings.model!r}"
    if model_checksum and manifest.get("model_checksum") != model_checksum:
        return "the model's weights changed"
    if manifest.get("sources") != source_fingerprint(sources):
        return "the source texts changed"
    if manifest.get("analysis_version") != ANALYSIS_VERSION:
        return "the text analysis (tokenisation) changed"
    chunking = manifest.get("chunking", {})
    if (chunking.get("max_passage_chars"), chunking.get("context_passages")) != (
            settings.max_passage_chars, settings.context_passages):
        return "the chunking settings changed"
    if settings.index_type != "auto" and manifest.get("index_type") != settings.index_type:
        return f"index type {manifest.get('index_type')} != {settings.index_type}"
    return None


def _context_terms(passages: list[Passage], i: int, language: str, glossary: Glossary, back: int) -> list[str]:
    """Search terms for the places named in the few passages before passage i (same source)."""
    terms: list[str] = []
    for j in range(max(0, i - back), i):
        if passages[j].source != passages[i].source:
            continue
        for mention in glossary.find(passages[j].view(language) or ""):
            if mention.entry.kind in ("place", "river") and mention.entry.names(language):
                terms.extend(tokenize(mention.entry.names(language)[0]))
    return terms


def _read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_reader(folder: Path, models, provenance: dict) -> str:
    """Put a trained reader into an index folder and record its checksum and provenance in the
    manifest (the manifest's file checksums then cover it, like every other index file)."""
    folder = Path(folder)
    manifest = _read_manifest(folder)
    if not manifest:
        raise StaleIndexError(f"no index in {folder}: run `rag build` first")
    partial = folder / (READER_FILE + ".partial")
    models.save(partial)
    digest = sha256_bytes(partial.read_bytes())
    partial.replace(folder / READER_FILE)
    manifest["reader"] = {"sha256": digest, **provenance}
    manifest["files"] = _file_checksums(folder)
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return digest


def _tune_search(index: faiss.Index) -> None:
    """Search-time parameters are not always persisted: set them again after loading."""
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif isinstance(index, faiss.IndexIVF):
        index.nprobe = min(index.nlist, IVF_NPROBE)


def _file_checksums(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_bytes(p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}
