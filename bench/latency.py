"""Latency: Assistant.load(), retrieval and answers (p50/p95), and POST /api/ask under 1, 4 and 16
concurrent clients on loopback (bounded in requests and time).

    .venv/bin/python bench/latency.py [--requests 200] [--http-seconds 20]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from rag import Assistant
from rag.evaluation import read_qa
from ui.app import free_port, wait_until_ready

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PROJECT = HERE.parent
QA = [HERE / "dev_qa.jsonl", HERE / "team_qa.jsonl"]
# import, first load (pays for importing torch and reading the model and index), and a second
# load in the same process (what loading the assistant itself costs once the libraries are in)
LOAD = ("import time; t0 = time.perf_counter(); from rag import Assistant; t1 = time.perf_counter(); "
        "Assistant.load(rebuild=False); t2 = time.perf_counter(); Assistant.load(rebuild=False); "
        "t3 = time.perf_counter(); print(t1 - t0, t2 - t1, t3 - t2)")


def percentiles(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(ms[int(len(ms) * 0.95)], 1),
            "max_ms": round(ms[-1], 1)}


def load_times(runs: int = 5) -> dict:
    """Each run in a fresh process (after one warm-up run that fills the OS file cache)."""
    imports, loads, reloads = [], [], []
    for i in range(runs + 1):
        out = subprocess.run([sys.executable, "-c", LOAD], cwd=PROJECT, capture_output=True, text=True, check=True)
        a, b, c = map(float, out.stdout.split()[-3:])
        if i:
            imports.append(1000 * a)
            loads.append(1000 * b)
            reloads.append(1000 * c)
    return {"import_rag": percentiles(imports), "assistant_load": percentiles(loads),
            "assistant_load_again": percentiles(reloads)}


def in_process(requests: int) -> dict:
    assistant = Assistant.load()
    questions = [q.question for path in QA if path.exists() for q in read_qa(path)]
    retrieval, answers = [], []
    for question in itertools.islice(itertools.cycle(questions), requests):
        t = time.perf_counter()
        assistant.retrieve(question)
        retrieval.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        assistant.ask(question)
        answers.append(1000 * (time.perf_counter() - t))
    return {"retrieval": percentiles(retrieval), "answer": percentiles(answers)}


def http(levels: tuple[int, ...], seconds: float, max_requests: int) -> list[dict]:
    """Start `rag serve` on a free loopback port and load it, level by level."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)], cwd=PROJECT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_ready(url, 120)
        questions = itertools.cycle(q.question for path in QA if path.exists() for q in read_qa(path))
        rows = []
        for clients in levels:
            stop = time.monotonic() + seconds
            budget = iter(range(max_requests))

            def client(_: int) -> tuple[list[float], int]:
                times, errors = [], 0
                with httpx.Client(timeout=60) as session:
                    while time.monotonic() < stop and next(budget, None) is not None:
                        t = time.perf_counter()
                        response = session.post(f"{url}/api/ask", json={"question": next(questions)})
                        times.append(1000 * (time.perf_counter() - t))
                        errors += response.status_code != 200
                return times, errors

            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                results = list(pool.map(client, range(clients)))
            wall = time.perf_counter() - started
            times = [t for r in results for t in r[0]]
            latency = percentiles(times)
            rows.append({"clients": clients, "requests": len(times), "errors": sum(r[1] for r in results),
                         "throughput_rps": round(len(times) / wall, 1), **latency,
                         "p99_ms": round(sorted(times)[int(len(times) * 0.99)], 1)})
            print(f"http {clients} clients: {rows[-1]}", flush=True)
        return rows
    finally:
        server.terminate()
        server.wait(timeout=30)


def tables(result: dict) -> str:
    lines = ["| measure | n | p50 ms | p95 ms | max ms |", "|---|---:|---:|---:|---:|"]
    for name in ("import_rag", "assistant_load", "assistant_load_again", "retrieval", "answer"):
        r = result[name]
        lines.append(f"| {name} | {r['n']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} |")
    lines += ["", "| POST /api/ask clients | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["http"]:
        lines.append(f"| {r['clients']} | {r['requests']} | {r['errors']} | {r['throughput_rps']} | "
                     f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} |")
    return "\n".join(lines)


def run(requests: int, http_seconds: float) -> dict:
    result = {**load_times(), **in_process(requests)}
    result["http"] = http((1, 4, 16), http_seconds, max_requests=2000)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--http-seconds", type=float, default=20.0)
    args = parser.parse_args()
    result = run(args.requests, args.http_seconds)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(tables(result))


if __name__ == "__main__":
    main()
