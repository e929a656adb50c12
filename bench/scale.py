"""Scale: FAISS Flat, HNSW and IVF on corpora of 1k to 1M passages.

Passages are built from the real text: 3 to 6 clauses drawn at random from anywhere in it, all
Arabic or all English (fixed seed), so that even 10k passages are all different.
1k and 10k passages are embedded for real with multilingual-e5-small, in batches with a progress
bar, cached chunk by chunk (the library's resumable embedding, in the embedding cache) so an
interrupted run resumes. Larger corpora (100k, 1M) derive their vectors from the real ones: each a
random mixture of two real passage vectors plus a little noise, renormalised, so they spread like
real embeddings without being copies. Queries are real embeddings of the development and team
questions (plus perturbed copies). Recall is recall@10 against exact search, counting a result as found when it scores at
least as high as the exact 10th result (ties between equal vectors are not misses).

    .venv/bin/python bench/scale.py [--sizes 1000 10000 100000 1000000] [--real-max 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from rag import Settings
from rag.embeddings import Embedder
from rag.evaluation import read_qa
from rag.index import choose_index_type, make_faiss_index
from rag.sources import load_sources

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
K = 10


def synthetic_passages(n: int, seed: int = 0) -> list[str]:
    settings = Settings.from_env()
    clauses = [(s.text, s.translation) for src in load_sources(settings.sources_dir, settings.project_dir)
               for s in src.segments]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        drawn = rng.sample(clauses, rng.randint(3, 6))
        view = 0 if rng.random() < 0.5 or not all(t for _, t in drawn) else 1
        out.append(" ".join(c[view] for c in drawn))
    return out


def embed_real(embedder: Embedder, n: int) -> tuple[np.ndarray, float]:
    """Embed n synthetic passages with the library's chunked embedding (Settings.embedding_cache_dir),
    so a later or interrupted run resumes; the throughput is timed on a fresh sample of 256 passages."""
    vectors = embedder.encode_passages(synthetic_passages(n), batch_size=64, progress=True,
                                       cache_dir=Settings.from_env().embedding_cache_dir)
    sample = synthetic_passages(256, seed=99)
    started = time.perf_counter()
    embedder.encode_passages(sample, batch_size=64)
    return vectors, len(sample) / (time.perf_counter() - started)


def derived(real: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    """Vectors for a larger corpus from real ones: mixtures of two (100k) or noisy copies (1M)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for i in range(0, n, 100_000):
        m = min(100_000, n - i)
        a, b = real[rng.integers(len(real), size=m)], real[rng.integers(len(real), size=m)]
        mix = rng.uniform(0.3, 0.7, size=(m, 1)).astype(np.float32)
        block = mix * a + (1 - mix) * b + rng.normal(0, 0.02, size=(m, real.shape[1])).astype(np.float32)
        out[i:i + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def queries(embedder: Embedder) -> np.ndarray:
    questions = [q.question for path in (HERE / "dev_qa.jsonl", HERE / "team_qa.jsonl") for q in read_qa(path)]
    real = embedder.encode_queries(questions)
    rng = np.random.default_rng(2)
    copies = real[rng.integers(len(real), size=200 - len(real))]
    copies = copies + rng.normal(0, 0.03, size=copies.shape).astype(np.float32)
    q = np.concatenate([real, copies]).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def measure(vectors: np.ndarray, q: np.ndarray, index_type: str, exact: np.ndarray) -> dict:
    """Build one index type and query it; `exact` holds each query's exact 10th-best score."""
    before = rss_mb()
    started = time.perf_counter()
    index = make_faiss_index(vectors, index_type)
    build = time.perf_counter() - started
    memory = rss_mb() - before
    with tempfile.NamedTemporaryFile(suffix=".faiss") as fh:
        faiss.write_index(index, fh.name)
        size = os.path.getsize(fh.name) / 2**20
    latencies, hits = [], []
    for row, kth in zip(q, exact):
        t = time.perf_counter()
        _, ids = index.search(row[None, :], K)
        latencies.append(1000 * (time.perf_counter() - t))
        found = ids[0][ids[0] >= 0]
        hits.append(int(np.sum(vectors[found] @ row >= kth - 1e-5)) / K)
    recall = float(np.mean(hits))
    latencies.sort()
    return {"passages": len(vectors), "index": index_type, "auto": choose_index_type(len(vectors)) == index_type,
            "build_s": round(build, 2), "memory_mb": round(max(memory, 0.0), 1), "size_mb": round(size, 1),
            "p50_ms": round(latencies[len(latencies) // 2], 3),
            "p95_ms": round(latencies[int(len(latencies) * 0.95)], 3), "recall": round(recall, 4)}


def table(rows: list[dict]) -> str:
    lines = ["| passages | index | auto | build s | memory MB | size MB | p50 ms | p95 ms | recall@10 |",
             "|---:|---|:-:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['passages']:,} | {r['index']} | {'✓' if r['auto'] else ''} | {r['build_s']} | "
                     f"{r['memory_mb']} | {r['size_mb']} | {r['p50_ms']} | {r['p95_ms']} | {r['recall']} |")
    return "\n".join(lines)


def run(sizes: list[int], real_max: int) -> dict:
    faiss.omp_set_num_threads(2)
    embedder = Embedder.from_settings(Settings.from_env())
    q = queries(embedder)
    real, throughput = embed_real(embedder, min(real_max, max(s for s in sizes)))
    rows, notes = [], [f"embedding throughput: {throughput:.1f} passages/s (batch 64, 2 cores)"]
    for n in sizes:
        vectors = real[:n] if n <= len(real) else derived(real, n)
        if n > len(real):
            notes.append(f"{n:,}: vectors derived from {len(real):,} real ones")
        scores, _ = make_faiss_index(vectors, "flat").search(q, K)
        exact = scores[:, -1]
        for index_type in ("flat", "hnsw", "ivf"):
            rows.append(measure(vectors, q, index_type, exact))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    return {"rows": rows, "notes": notes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--real-max", type=int, default=10_000, help="passages embedded for real (cached)")
    args = parser.parse_args()
    result = run(args.sizes, args.real_max)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(result["rows"], indent=1) + "\n", encoding="utf-8")
    print("\n".join(result["notes"]))
    print(table(result["rows"]))


if __name__ == "__main__":
    main()
