"""Sixteen concurrent clients for a bounded time: no errors, and memory stays flat."""

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

QUESTIONS = ["Who governed Otrar?", "كم استمر حصار اوترار؟", "How many elephants defended Samarkand?",
             "من قاد الجيش الثاني؟", "When did Genghis Khan leave the western provinces?", "What did the Mongols eat?"]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:  # the server runs in this process (tests/conftest.py)
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def hammer(url: str, clients: int, seconds: float) -> tuple[int, list[str]]:
    """Each client asks in a loop until time is up; returns (requests, errors)."""
    deadline = time.monotonic() + seconds
    cycle = itertools.cycle(QUESTIONS)

    def client(_: int) -> tuple[int, list[str]]:
        done, errors = 0, []
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < deadline:
                response = http.post(f"{url}/api/ask", json={"question": next(cycle)})
                done += 1
                if response.status_code != 200 or "text" not in response.json():
                    errors.append(f"{response.status_code} {response.text[:100]}")
        return done, errors

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    return sum(r[0] for r in results), [e for r in results for e in r[1]]


def test_sixteen_concurrent_clients(server):
    hammer(server, 16, 3)  # warm-up: allocator pools, caches
    before = rss_mb()
    requests, errors = hammer(server, 16, 12)
    after = rss_mb()
    assert errors == [] and requests >= 16
    assert after - before < 100, f"memory grew from {before:.0f} MB to {after:.0f} MB"
